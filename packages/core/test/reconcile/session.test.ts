import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ReconcileSession,
  type ReconcileSessionOptions,
  ReconcileTree,
  summariesEqual,
} from '../../src/index.js'
import { keyOf, reconcile, stateHash, trueDifference } from './helpers.js'

/** The structural interface packages/replica drives (copied: core must not import replica). */
interface ReconcileSessionLike {
  initiate(): Uint8Array
  receive(message: Uint8Array): {
    readonly reply: Uint8Array | null
    readonly done: boolean
    readonly differing: readonly string[] | null
  }
}

interface Sets {
  a: Map<string, number>
  b: Map<string, number>
}

/**
 * Two sets over a shuffled universe: `shared` keys on both (the first `changed` of them with a
 * different state on B), `aOnly` keys only on A, `bOnly` only on B.
 */
function makeSets(
  shared: number,
  aOnly: number,
  bOnly: number,
  changed: number,
  seed: number,
): Sets {
  const roles: number[] = []
  for (let i = 0; i < shared; i++) roles.push(0)
  for (let i = 0; i < aOnly; i++) roles.push(1)
  for (let i = 0; i < bOnly; i++) roles.push(2)
  let s = seed | 0 || 1
  const next = () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return s >>> 0
  }
  for (let i = roles.length - 1; i > 0; i--) {
    const j = next() % (i + 1)
    ;[roles[i], roles[j]] = [roles[j]!, roles[i]!]
  }
  const a = new Map<string, number>()
  const b = new Map<string, number>()
  let changes = changed
  roles.forEach((role, i) => {
    const key = keyOf(i)
    if (role !== 2) a.set(key, 0)
    if (role !== 1) b.set(key, role === 0 && changes-- > 0 ? 1 : 0)
  })
  return { a, b }
}

function treeOf(set: ReadonlyMap<string, number>, symbolCache?: number): ReconcileTree {
  return ReconcileTree.fromEntries(
    [...set].map(([k, v]) => [k, stateHash(Number(k.slice(1)), v)] as const),
    symbolCache === undefined ? {} : { symbolCache },
  )
}

function check(
  sets: Sets,
  optionsA: ReconcileSessionOptions = {},
  optionsB: ReconcileSessionOptions = {},
  cacheA?: number,
  cacheB?: number,
) {
  const t = reconcile(treeOf(sets.a, cacheA), treeOf(sets.b, cacheB), optionsA, optionsB)
  expect(t.differingA).not.toBeNull()
  expect(t.differingB).not.toBeNull()
  expect([...t.differingA!].sort()).toEqual(trueDifference(sets.a, sets.b))
  expect([...t.differingB!].sort()).toEqual(trueDifference(sets.b, sets.a))
  for (const m of t.messages) {
    const limit = Math.min(optionsA.maxMessageSize ?? Infinity, optionsB.maxMessageSize ?? Infinity)
    expect(m.length).toBeLessThanOrEqual(limit)
  }
  return t
}

const diffSize = (max: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 30 }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 600 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max }) },
  )

const limitArb = fc.option(fc.integer({ min: 1024, max: 40_000 }), { nil: undefined })

describe('ReconcileSession', () => {
  it('finds exactly each side’s differing keys for any two sets and any frame limits', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 9000 })),
        diffSize(3000),
        diffSize(3000),
        diffSize(1000),
        fc.integer(),
        limitArb,
        limitArb,
        fc.constantFrom(undefined, 1, 16, 300),
        fc.constantFrom(undefined, 7, 100),
        (shared, aOnly, bOnly, changed, seed, limitA, limitB, cacheA, cacheB) => {
          const sets = makeSets(
            shared,
            Math.min(aOnly, 10_000 - shared),
            bOnly % 1000,
            changed,
            seed,
          )
          check(sets, { maxMessageSize: limitA }, { maxMessageSize: limitB }, cacheA, cacheB)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('handles empty, identical, disjoint and one-sided sets', () => {
    check(makeSets(0, 0, 0, 0, 1))
    check(makeSets(0, 5, 0, 0, 1))
    check(makeSets(0, 0, 500, 0, 1))
    check(makeSets(3000, 0, 0, 0, 1))
    check(makeSets(0, 2000, 2000, 0, 1))
    check(makeSets(5000, 0, 300, 0, 2))
    check(makeSets(5000, 0, 0, 5000, 3))
    check(makeSets(20, 3000, 0, 0, 4), { maxMessageSize: 1024 })
  })

  it('needs no message when the gossip summaries are equal', () => {
    const sets = makeSets(1000, 0, 0, 0, 5)
    expect(summariesEqual(treeOf(sets.a).summary(), treeOf(sets.b).summary())).toBe(true)
    const differ = makeSets(1000, 0, 0, 1, 5)
    expect(summariesEqual(treeOf(differ.a).summary(), treeOf(differ.b).summary())).toBe(false)
  })

  it('decodes small differences in one round trip and moderate ones in two', () => {
    for (const d of [1, 2, 3]) {
      const t = check(makeSets(20_000, d, 0, 0, d))
      expect(t.messages.length).toBe(2)
      expect(t.messages.reduce((s, m) => s + m.length, 0)).toBeLessThan(600)
    }
    for (let seed = 1; seed <= 4; seed++) {
      const t = check(makeSets(20_000, 50, 50, 0, seed))
      expect(t.messages.length).toBeLessThanOrEqual(4)
      expect(t.messages.reduce((s, m) => s + m.length, 0)).toBeLessThan(5000)
    }
    const big = check(makeSets(30_000, 500, 500, 0, 9))
    expect(big.messages.length).toBeLessThanOrEqual(4)
    expect(big.messages.reduce((s, m) => s + m.length, 0)).toBeLessThan(40_000)
  })

  it('reconciles differences larger than the cached symbols by scanning the tree', () => {
    const t = check(makeSets(8000, 600, 600, 100, 11), {}, {}, 64, 128)
    expect(t.messages.length).toBeLessThanOrEqual(4)
  })

  it('trades rounds for message size', () => {
    const sets = makeSets(20_000, 300, 300, 0, 12)
    const free = check(sets)
    const small = check(sets, { maxMessageSize: 1024 }, { maxMessageSize: 2048 })
    expect(small.messages.length).toBeGreaterThan(free.messages.length)
    expect(Math.max(...small.messages.map((m) => m.length))).toBeLessThanOrEqual(1024)
  })

  it('has the shape the transport drives, and reports done exactly once per side', () => {
    const sets = makeSets(500, 10, 10, 3, 13)
    const a: ReconcileSessionLike = new ReconcileSession(treeOf(sets.a))
    const b: ReconcileSessionLike = new ReconcileSession(treeOf(sets.b))
    let message: Uint8Array | null = a.initiate()
    let toB = true
    const done: boolean[] = []
    while (message !== null) {
      const step = (toB ? b : a).receive(message)
      if (step.done) done.push(toB)
      message = step.reply
      toB = !toB
    }
    expect(done.sort()).toEqual([false, true])
  })

  it('reconciles the sets as they were at construction while both trees keep changing', () => {
    const writeArb = fc.record({
      toA: fc.boolean(),
      after: fc.integer({ min: -1, max: 8 }),
      key: fc.nat(12_000),
      v: fc.integer({ min: -1, max: 3 }),
    })
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6000 }),
        diffSize(1500),
        diffSize(1500),
        fc.integer(),
        fc.array(writeArb, { maxLength: 200 }),
        limitArb,
        fc.constantFrom(undefined, 16),
        (shared, aOnly, bOnly, seed, writes, maxMessageSize, symbolCache) => {
          const sets = makeSets(shared, aOnly, bOnly, 7, seed)
          const ta = treeOf(sets.a, symbolCache)
          const tb = treeOf(sets.b, symbolCache)
          const sa = new ReconcileSession(ta, { maxMessageSize, tag: 42 })
          const sb = new ReconcileSession(tb)
          const write = (after: number) => {
            for (const w of writes) {
              if (w.after !== after) continue
              const tree = w.toA ? ta : tb
              const key = keyOf(w.key)
              if (w.v < 0) tree.delete(key)
              else tree.set(key, stateHash(w.key, w.v + 10))
            }
          }
          write(-1)
          let message: Uint8Array | null = sa.initiate()
          let toB = true
          let index = 0
          const result: { a: readonly string[] | null; b: readonly string[] | null } = {
            a: null,
            b: null,
          }
          const messages: Uint8Array[] = []
          while (message !== null) {
            messages.push(message)
            write(index++)
            const step = (toB ? sb : sa).receive(message)
            if (step.done) result[toB ? 'b' : 'a'] = step.differing
            message = step.reply
            toB = !toB
          }
          expect(result.a).toEqual(trueDifference(sets.a, sets.b))
          expect(result.b).toEqual(trueDifference(sets.b, sets.a))
          // The writes are invisible to the exchange: the same bytes as without them.
          const quiet = reconcile(treeOf(sets.a, symbolCache), treeOf(sets.b, symbolCache), {
            maxMessageSize,
            tag: 42,
          })
          expect(messages).toEqual(quiet.messages)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('validates its options', () => {
    const tree = new ReconcileTree()
    expect(() => new ReconcileSession(tree, { maxMessageSize: 100 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => new ReconcileSession(tree, { tag: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(new ReconcileSession(tree, { maxMessageSize: Infinity }).state).toBe('idle')
  })
})
