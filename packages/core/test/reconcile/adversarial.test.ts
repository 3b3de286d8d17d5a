import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  isMendsyncError,
  PROTOCOL_VERSION,
  ReconcileSession,
  type ReconcileSessionOptions,
  ReconcileTree,
} from '../../src/index.js'
import { bytesHash32 } from '../../src/reconcile/hash.js'
import { varintSize, Writer } from '../../src/reconcile/wire.js'
import { keyOf, reconcile, stateHash, trueDifference } from './helpers.js'

function sets(n: number, aOnly: number, bOnly: number, changed: number) {
  const a = new Map<string, number>()
  const b = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    a.set(keyOf(3 * i), 0)
    b.set(keyOf(3 * i), i < changed ? 1 : 0)
  }
  for (let i = 0; i < aOnly; i++) a.set(keyOf(3 * i + 1), 0)
  for (let i = 0; i < bOnly; i++) b.set(keyOf(3 * i + 2), 0)
  return { a, b }
}

function treeOf(set: ReadonlyMap<string, number>): ReconcileTree {
  return ReconcileTree.fromEntries(
    [...set].map(([k, v]) => [k, stateHash(Number(k.slice(1)), v)] as const),
  )
}

function expectProtocolError(f: () => unknown): void {
  let thrown: unknown
  try {
    f()
  } catch (error) {
    thrown = error
  }
  expect(isMendsyncError(thrown, 'RECONCILE_PROTOCOL')).toBe(true)
}

type Attack =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'extend'; byte: number }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'duplicate' }
  | { kind: 'replay'; which: number }
  | { kind: 'reorder' }
  | { kind: 'foreign' }

const attackArb: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), byte: fc.nat(255) }),
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({ kind: fc.constant('duplicate' as const) }),
  fc.record({ kind: fc.constant('replay' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('reorder' as const) }),
  fc.record({ kind: fc.constant('foreign' as const) }),
)

describe('ReconcileSession under attack', () => {
  it('ends with RECONCILE_PROTOCOL on corrupted, truncated, duplicated, replayed, reordered or foreign messages, and reports nothing false', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 100 }),
        fc.option(fc.integer({ min: 1024, max: 8000 }), { nil: undefined }),
        fc.nat(),
        attackArb,
        (n, aOnly, bOnly, changed, maxMessageSize, pick, attack) => {
          const s = sets(n, aOnly, bOnly, changed)
          const ta = treeOf(s.a)
          const tb = treeOf(s.b)
          const options: ReconcileSessionOptions = { maxMessageSize, tag: 1234 }
          const honest = reconcile(ta, tb, options, { maxMessageSize })
          const messages = honest.messages
          const k = pick % messages.length
          const original = messages[k]!
          let forged: Uint8Array | null = null
          switch (attack.kind) {
            case 'flip': {
              forged = original.slice()
              const at = attack.at % forged.length
              forged[at] = forged[at]! ^ (1 << attack.bit)
              break
            }
            case 'truncate':
              forged = original.subarray(0, attack.keep % original.length)
              break
            case 'extend':
              forged = Uint8Array.of(...original, attack.byte)
              break
            case 'random':
              forged = attack.bytes
              break
            case 'replay': {
              // Any earlier message (either direction), or the same one again.
              forged = messages[attack.which % (k + 1)]!
              if (forged === original) forged = null
              break
            }
            case 'reorder':
              forged = messages[k + 2] ?? null
              break
            case 'foreign': {
              // The same exchange under another session tag: valid bytes, wrong session.
              if (k === 0) break
              forged = reconcile(ta, tb, { maxMessageSize, tag: 4321 }, { maxMessageSize })
                .messages[k]!
              break
            }
            default:
              break
          }
          const sa = new ReconcileSession(ta, options)
          const sb = new ReconcileSession(tb, { maxMessageSize })
          const reported: { side: 'a' | 'b'; differing: readonly string[] }[] = []
          const deliver = (index: number, message: Uint8Array) => {
            const to = index % 2 === 0 ? sb : sa
            const step = to.receive(message)
            if (step.done)
              reported.push({ side: index % 2 === 0 ? 'b' : 'a', differing: step.differing! })
            return step
          }
          expect(sa.initiate()).toEqual(messages[0])
          for (let i = 0; i < k; i++) deliver(i, messages[i]!)
          const receiver = k % 2 === 0 ? sb : sa
          if (attack.kind === 'duplicate') {
            deliver(k, original)
            expectProtocolError(() => deliver(k, original))
          } else if (forged !== null && !bytesEqual(forged, original)) {
            expectProtocolError(() => deliver(k, forged!))
            expect(receiver.state).toBe('failed')
            // A failed session refuses even the right message afterwards.
            expectProtocolError(() => deliver(k, original))
          }
          expect(
            receiver.state === 'failed' || forged === null || bytesEqual(forged, original),
          ).toBe(true)
          // Whatever was reported before the attack is the truth.
          for (const r of reported) {
            const want = r.side === 'a' ? trueDifference(s.a, s.b) : trueDifference(s.b, s.a)
            expect([...r.differing].sort()).toEqual(want)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('rejects random bytes as a first message, and refuses further use', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const session = new ReconcileSession(treeOf(sets(100, 1, 1, 1).b))
        expectProtocolError(() => session.receive(bytes))
        expect(session.state).toBe('failed')
        expectProtocolError(() => session.receive(bytes))
        expectProtocolError(() => session.initiate())
      }),
      { numRuns: 300 },
    )
  })

  it('refuses messages over its size limit, a second initiate and messages after done', () => {
    const s = sets(2000, 40, 40, 0)
    const sa = new ReconcileSession(treeOf(s.a))
    const sb = new ReconcileSession(treeOf(s.b), { maxMessageSize: 1024 })
    const first = sa.initiate()
    expectProtocolError(() => sa.initiate())
    expect(first.length).toBeLessThanOrEqual(1024)
    const big = new Uint8Array(2000)
    expectProtocolError(() => sb.receive(big))

    const t = reconcile(treeOf(s.a), treeOf(s.b), { tag: 5 })
    const a2 = new ReconcileSession(treeOf(s.a), { tag: 5 })
    const b2 = new ReconcileSession(treeOf(s.b))
    a2.initiate()
    let last: ReturnType<ReconcileSession['receive']> | null = null
    for (let i = 0; i < t.messages.length; i++)
      last = (i % 2 === 0 ? b2 : a2).receive(t.messages[i]!)
    expect(last?.done).toBe(true)
    const finished = t.messages.length % 2 === 1 ? b2 : a2
    expect(finished.state).toBe('done')
    expectProtocolError(() => finished.receive(t.messages.at(-1)!))
  })

  describe('a peer that speaks the format but lies', () => {
    // Hand-built messages in the documented format (docs/reconcile.md).
    const TAG = 77
    const s = sets(300, 0, 2, 0)
    const ta = treeOf(s.a)
    const tb = treeOf(s.b)

    function message(
      type: number,
      seq: number,
      intro: { count: number; fingerprint: Uint8Array } | null,
      body: (w: Writer) => void,
    ): Uint8Array {
      const w = new Writer()
      w.u8(PROTOCOL_VERSION)
      w.u8(type)
      w.varint(seq)
      w.u32(TAG)
      if (intro !== null) {
        w.varint(0)
        w.varint(intro.count)
        w.raw(intro.fingerprint)
      }
      body(w)
      w.u32(bytesHash32(w.bytes, 0, w.length))
      return w.finish()
    }

    /** A's view after its first message: expects B's reply (seq 1). */
    function started() {
      const sa = new ReconcileSession(ta, { tag: TAG })
      sa.initiate()
      return sa
    }

    const bIntro = { count: tb.size, fingerprint: tb.fingerprint() }

    it('rejects a DONE naming an id the receiver does not hold', () => {
      const forged = message(4, 1, bIntro, (w) => {
        w.varint(1)
        w.varint(0)
        w.varint(1)
        w.varint(2)
        w.raw(new Uint8Array(16))
        w.u32(0x12345678)
        w.u32(0x9abcdef0)
      })
      const sa = started()
      expectProtocolError(() => sa.receive(forged))
    })

    it('rejects a DONE whose whole-set check fails (claims no difference)', () => {
      const forged = message(4, 1, bIntro, (w) => {
        w.varint(0)
        w.varint(0)
        w.varint(0)
        w.varint(0)
        w.raw(new Uint8Array(16))
      })
      const sa = started()
      expectProtocolError(() => sa.receive(forged))
    })

    it('rejects a listing that does not match the announced fingerprint', () => {
      const forged = message(2, 1, { count: 1, fingerprint: tb.fingerprint() }, (w) => {
        w.varint(1)
        w.varint(0)
        w.varint(1)
        w.u32(1)
        w.u32(2)
      })
      const sa = started()
      expectProtocolError(() => sa.receive(forged))
    })

    it('rejects symbols that do not continue where the stream stopped', () => {
      const forged = message(1, 1, bIntro, (w) => {
        w.varint(5)
        w.varint(1)
        w.varint(6)
        w.raw(new Uint8Array(13))
      })
      const sa = started()
      expectProtocolError(() => sa.receive(forged))
    })

    it('falls back to a listing, not a wrong answer, when a decode fails the whole-set check', () => {
      // C is B with one state changed; its symbols arrive under B's count and fingerprint, so A
      // decodes a difference that contradicts them.
      const big = sets(2000, 0, 60, 0)
      const c = new Map(big.b).set(keyOf(0), 5)
      const tbig = treeOf(big.b)
      const tc = treeOf(c)
      const sa = new ReconcileSession(treeOf(big.a), { tag: TAG })
      const reply = new ReconcileSession(tc).receive(sa.initiate()).reply!
      expect(reply[1]).toBe(1) // SYMBOLS: C could not decode from the first message
      const patched = reply.slice(0, reply.length - 4)
      patched.set(tbig.fingerprint(), 8 + varintSize(tc.size))
      const forged = new Uint8Array(patched.length + 4)
      forged.set(patched)
      new DataView(forged.buffer).setInt32(
        patched.length,
        bytesHash32(patched, 0, patched.length),
        true,
      )
      const step = sa.receive(forged)
      expect(step.done).toBe(false)
      expect(step.differing).toBeNull()
      expect(step.reply![1]).toBe(2) // LIST: A (the smaller side) lists its ids
    })

    it('accepts the same hand-built DONE when it is true', () => {
      // B holds two keys A lacks; A holds none B lacks: a true DONE lists nothing for A and
      // carries B's two differing items as the aggregate.
      const onlyB = ReconcileTree.fromEntries(
        [...s.b]
          .filter(([k]) => !s.a.has(k))
          .map(([k, v]) => [k, stateHash(Number(k.slice(1)), v)] as const),
      )
      const honest = message(4, 1, bIntro, (w) => {
        w.varint(0)
        w.varint(0)
        w.varint(0)
        w.varint(2)
        w.raw(onlyB.fingerprint())
      })
      const sa = started()
      const step = sa.receive(honest)
      expect(step.done).toBe(true)
      expect(step.differing).toEqual([])
    })
  })
})

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
