// The recency step of a session: trees whose items carry times of last change. Two replicas
// share a history, then diverge (a partition: each side writes new keys, changes and deletes
// keys; some writes reach both; some older updates were lost), and a session must find exactly
// each side's differing keys, whatever the pattern, the windows and the message limits.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rng } from '../../bench/reconcile/scenario.ts'
import { MendsyncError, ReconcileSession, ReconcileTree } from '../../src/index.js'
import { keyOf, reconcile, stateHash, trueDifference } from './helpers.js'

/** A replica in the model: key -> version; every version has one time, on every replica. */
type Replica = Map<string, number>

interface History {
  a: Replica
  b: Replica
  /** The time of each version (a function of the state, as the tree requires). */
  times: Map<number, number>
}

interface Divergence {
  base: number
  /** Older versions lost on one side before the partition (scattered differences). */
  lost: number
  /** After the partition, on each side: new keys, changed keys, deleted keys. */
  newA: number
  newB: number
  changedA: number
  changedB: number
  deletedA: number
  deletedB: number
  /** Writes after the partition that reached both sides. */
  shared: number
  /** Times advance by 0 (ties) or more between writes. */
  tieEvery: number
  seed: number
}

/** No divergence at all: the fields a test leaves out. */
const NONE: Divergence = {
  base: 0,
  lost: 0,
  newA: 0,
  newB: 0,
  changedA: 0,
  changedB: 0,
  deletedA: 0,
  deletedB: 0,
  shared: 0,
  tieEvery: 0,
  seed: 1,
}

function diverge(p: Divergence): History {
  const next = rng(p.seed)
  const times = new Map<number, number>()
  let version = 0
  let clock = 1000
  const write = (): number => {
    version++
    if (p.tieEvery === 0 || next() % p.tieEvery !== 0) clock += 1 + (next() % 3)
    times.set(version, clock)
    return version
  }
  const a: Replica = new Map()
  let keys = 0
  for (let i = 0; i < p.base; i++) a.set(keyOf(keys++), write())
  const b: Replica = new Map(a)
  const existing = () => [...a.keys()]
  for (let i = 0; i < p.lost && a.size > 0; i++) {
    const all = existing()
    const key = all[next() % all.length]!
    const v = write()
    ;(next() % 2 === 0 ? a : b).set(key, v)
  }
  // The partition: both sides write, interleaved in time.
  const ops: string[] = []
  const push = (what: string, count: number) => {
    for (let i = 0; i < count; i++) ops.push(what)
  }
  push('newA', p.newA)
  push('newB', p.newB)
  push('changedA', p.changedA)
  push('changedB', p.changedB)
  push('deletedA', p.deletedA)
  push('deletedB', p.deletedB)
  push('shared', p.shared)
  for (let i = ops.length - 1; i > 0; i--) {
    const j = next() % (i + 1)
    ;[ops[i], ops[j]] = [ops[j]!, ops[i]!]
  }
  for (const op of ops) {
    const side = op.endsWith('A') ? a : b
    const keysOf = [...side.keys()]
    if (op === 'shared') {
      const key = keyOf(keys++)
      const v = write()
      a.set(key, v)
      b.set(key, v)
    } else if (op.startsWith('new')) side.set(keyOf(keys++), write())
    else if (keysOf.length === 0) continue
    else if (op.startsWith('changed')) side.set(keysOf[next() % keysOf.length]!, write())
    else side.delete(keysOf[next() % keysOf.length]!)
  }
  return { a, b, times }
}

function idOf(key: string): number {
  return Number(key.slice(1))
}

/** A tree built in bulk, or by writes in time order (the window then compacts and merges). */
function treeOf(
  replica: Replica,
  times: Map<number, number>,
  recentWindow: number,
  byWrites: boolean,
): ReconcileTree {
  const entries = [...replica].map(
    ([key, v]) => [key, stateHash(idOf(key), v), times.get(v)!] as const,
  )
  if (!byWrites) return ReconcileTree.fromEntries(entries, { recentWindow })
  const tree = new ReconcileTree({ recentWindow })
  entries.sort((x, y) => x[2] - y[2])
  for (const [key, hash, time] of entries) {
    // A stale state first, then the real one: exercises leaving and re-entering the window.
    if (time % 5 === 0) tree.set(key, stateHash(idOf(key), -1), 0)
    tree.set(key, hash, time)
    // Sessions taken along the way snapshot the window incrementally.
    if (time % 97 === 0) new ReconcileSession(tree).initiate()
  }
  return tree
}

function check(
  h: History,
  options: { windowA: number; windowB: number; byWrites: boolean; limit?: number },
) {
  const t = reconcile(
    treeOf(h.a, h.times, options.windowA, options.byWrites),
    treeOf(h.b, h.times, options.windowB, options.byWrites),
    { maxMessageSize: options.limit },
    { maxMessageSize: options.limit },
  )
  expect([...t.differingA!].sort()).toEqual(trueDifference(h.a, h.b))
  expect([...t.differingB!].sort()).toEqual(trueDifference(h.b, h.a))
  for (const m of t.messages) expect(m.length).toBeLessThanOrEqual(options.limit ?? Infinity)
  return t
}

const small = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 400 }) },
)

const divergence = fc.record({
  base: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 3000 })),
  lost: small,
  newA: small,
  newB: small,
  changedA: small,
  changedB: small,
  deletedA: small,
  deletedB: small,
  shared: small,
  tieEvery: fc.constantFrom(0, 2, 7),
  seed: fc.integer(),
})

describe('ReconcileSession over trees with times (the recency step)', () => {
  it('finds exactly each side’s differing keys for any divergence, window and limit', () => {
    fc.assert(
      fc.property(
        divergence,
        fc.constantFrom(4, 64, 1000, 65_536),
        fc.constantFrom(4, 64, 1000, 65_536),
        fc.boolean(),
        fc.option(fc.constantFrom(4096, 9000, 60_000), { nil: undefined }),
        (p, windowA, windowB, byWrites, limit) => {
          check(diverge(p), { windowA, windowB, byWrites, limit })
        },
      ),
      { numRuns: 150 },
    )
  })

  it('finds exactly the differing keys after a partition (new, shared and changed keys only)', () => {
    // Without lost updates or deletes the older items are equal: the run and its fallback, and
    // the choice of which side starts the symbol session, are all exercised here.
    fc.assert(
      fc.property(
        fc.record({
          base: fc.integer({ min: 50, max: 4000 }),
          lost: fc.constant(0),
          newA: fc.integer({ min: 0, max: 600 }),
          newB: fc.integer({ min: 0, max: 600 }),
          changedA: fc.constantFrom(0, 0, 3),
          changedB: fc.constantFrom(0, 0, 40, 1500),
          deletedA: fc.constant(0),
          deletedB: fc.constant(0),
          shared: fc.constantFrom(0, 0, 1, 30),
          tieEvery: fc.constantFrom(0, 3),
          seed: fc.integer(),
        }),
        fc.constantFrom(16, 65_536),
        fc.boolean(),
        (p, window, byWrites) => {
          check(diverge(p), { windowA: window, windowB: window, byWrites })
        },
      ),
      { numRuns: 100 },
    )
  })

  it('finds no difference between equal sets whose recent items all match', () => {
    for (const window of [4, 65_536]) {
      const t = check(diverge({ ...NONE, base: 32, shared: 17 }), {
        windowA: window,
        windowB: window,
        byWrites: false,
      })
      expect(t.differingA).toEqual([])
      expect(t.differingB).toEqual([])
    }
  })

  it('settles differences among the most recent keys in two round trips, about a byte each', () => {
    for (const d of [2, 50, 600, 3000]) {
      const h = diverge({ ...NONE, base: 20_000, newA: d / 2, newB: d / 2, seed: d })
      const t = check(h, { windowA: 65_536, windowB: 65_536, byWrites: false })
      expect(t.messages.length).toBeLessThanOrEqual(4)
      const bytes = t.messages.reduce((sum, m) => sum + m.length, 0)
      // The ladder (about 15 bytes per doubling of 20,000) plus about 1.1 bytes per item.
      expect(bytes).toBeLessThan(400 + 1.5 * d)
    }
  })

  it('settles changed versions and lost updates in at most three round trips', () => {
    const h = diverge({ ...NONE, base: 20_000, lost: 300, changedB: 2000, seed: 3 })
    const t = check(h, { windowA: 65_536, windowB: 65_536, byWrites: false })
    expect(Math.ceil(t.messages.length / 2)).toBeLessThanOrEqual(3)
  })

  it('reconciles the sets as they were at construction while both trees keep changing', () => {
    const h = diverge({
      ...NONE,
      base: 3000,
      lost: 40,
      newA: 300,
      newB: 200,
      changedA: 50,
      changedB: 80,
      deletedA: 10,
      deletedB: 10,
      shared: 30,
      seed: 11,
    })
    const a = treeOf(h.a, h.times, 65_536, false)
    const b = treeOf(h.b, h.times, 65_536, false)
    const sa = new ReconcileSession(a)
    const sb = new ReconcileSession(b)
    let message: Uint8Array | null = sa.initiate()
    let toB = true
    let differingA: readonly string[] | null = null
    let differingB: readonly string[] | null = null
    let written = 0
    while (message !== null) {
      // Writes between messages: new recent keys and changes on both sides.
      for (const tree of [a, b]) {
        tree.set(`w${written}`, stateHash(900_000 + written, 0), 1_000_000 + written)
        tree.set(keyOf(written), stateHash(written, 77), 1_000_000 + written)
        written++
      }
      const step: ReturnType<ReconcileSession['receive']> = (toB ? sb : sa).receive(message)
      if (step.done) {
        if (toB) differingB = step.differing
        else differingA = step.differing
      }
      message = step.reply
      toB = !toB
    }
    expect([...differingA!].sort()).toEqual(trueDifference(h.a, h.b))
    expect([...differingB!].sort()).toEqual(trueDifference(h.b, h.a))
  })

  it('fails with RECONCILE_PROTOCOL on any corrupted, replayed or foreign message', () => {
    const h = diverge({
      ...NONE,
      base: 2000,
      lost: 20,
      newA: 100,
      newB: 100,
      changedA: 30,
      changedB: 30,
      deletedA: 5,
      deletedB: 5,
      shared: 10,
      seed: 5,
    })
    const a = treeOf(h.a, h.times, 65_536, false)
    const b = treeOf(h.b, h.times, 65_536, false)
    const transcript = reconcile(a, b, { tag: 1 }, {})
    expect(transcript.messages.length).toBeGreaterThanOrEqual(3)
    const fails = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        expect(error).toBeInstanceOf(MendsyncError)
        expect((error as MendsyncError).code).toBe('RECONCILE_PROTOCOL')
        return
      }
      throw new Error('expected RECONCILE_PROTOCOL')
    }
    // Replay the transcript up to message k, then deliver a damaged message k.
    fc.assert(
      fc.property(
        fc.nat({ max: transcript.messages.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom('flip', 'truncate', 'replay', 'foreign'),
        (k, at, mask, how) => {
          const sa = new ReconcileSession(a, { tag: 1 })
          const sb = new ReconcileSession(b)
          sa.initiate()
          for (let i = 0; i < k; i++) (i % 2 === 0 ? sb : sa).receive(transcript.messages[i]!)
          const target = k % 2 === 0 ? sb : sa
          const original = transcript.messages[k]!
          let bad: Uint8Array
          if (how === 'flip') {
            bad = original.slice()
            bad[at % bad.length] = bad[at % bad.length]! ^ mask
          } else if (how === 'truncate') bad = original.subarray(0, at % original.length)
          else if (how === 'replay') bad = transcript.messages[Math.max(0, k - 2)]!
          else {
            // The right message from a session with another tag.
            const other = reconcile(a, b, { tag: 2 }, {})
            bad = other.messages[k] ?? original.slice(0, 3)
          }
          if ((how === 'replay' && k < 2) || (how === 'foreign' && k === 0)) return
          fails(() => target.receive(bad))
          fails(() => target.receive(original))
        },
      ),
      { numRuns: 200 },
    )
  })
})
