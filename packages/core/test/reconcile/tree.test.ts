import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeSummary,
  isMendsyncError,
  ReconcileTree,
  SUMMARY_VERSION,
  summariesEqual,
} from '../../src/index.js'
import { bytesHash32 } from '../../src/reconcile/hash.js'
import { keyOf, stateHash } from './helpers.js'

type Op = { kind: 'set'; key: number; v: number } | { kind: 'delete'; key: number }

function rebuild(model: ReadonlyMap<string, Uint8Array>, symbolCache?: number): ReconcileTree {
  return ReconcileTree.fromEntries(model, symbolCache === undefined ? {} : { symbolCache })
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** Compares every observable aggregate of `tree` with a from-scratch rebuild of `model`. */
function expectSameAsRebuild(
  tree: ReconcileTree,
  model: ReadonlyMap<string, Uint8Array>,
  probes: readonly number[],
): void {
  tree.checkInvariants()
  const fresh = rebuild(model, tree.symbolCache)
  expect(tree.size).toBe(model.size)
  expect(hex(tree.fingerprint())).toBe(hex(fresh.fingerprint()))
  expect(hex(tree.summary())).toBe(hex(fresh.summary()))
  const keys = [...model.keys()].sort()
  expect([...tree.keys()]).toEqual(keys)
  const n = keys.length
  for (let p = 0; p + 1 < probes.length; p += 2) {
    const i = n === 0 ? 0 : probes[p]! % (n + 1)
    const j = n === 0 ? 0 : probes[p + 1]! % (n + 1)
    const [from, to] = i <= j ? [i, j] : [j, i]
    const r1 = tree.rangeFingerprint(from, to)
    const r2 = fresh.rangeFingerprint(from, to)
    expect(r1.count).toBe(to - from)
    expect(hex(r1.fingerprint)).toBe(hex(r2.fingerprint))
    if (from < n) {
      expect(tree.select(from)).toBe(keys[from])
      expect(tree.rank(keys[from]!)).toBe(from)
      // A key between keys[from - 1] and keys[from] ranks at `from`.
      expect(tree.rank(`${keys[from]!}\u0000`)).toBe(from + 1)
    }
  }
  const bytes = tree.serialize()
  const loaded = ReconcileTree.load(bytes)
  loaded.checkInvariants()
  expect(hex(loaded.fingerprint())).toBe(hex(tree.fingerprint()))
  expect(hex(loaded.serialize())).toBe(hex(bytes))
}

const opArb = (keySpace: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        key: fc.nat(keySpace - 1),
        v: fc.nat(3),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(keySpace - 1) }),
    },
  )

function apply(tree: ReconcileTree, model: Map<string, Uint8Array>, op: Op): void {
  const key = keyOf(op.key)
  if (op.kind === 'set') {
    const h = stateHash(op.key, op.v)
    const before = model.get(key)
    const changed = tree.set(key, h)
    expect(changed).toBe(before === undefined || hex(before) !== hex(h))
    model.set(key, h)
  } else {
    expect(tree.delete(key)).toBe(model.delete(key))
  }
}

describe('ReconcileTree', () => {
  it('matches a from-scratch rebuild after any sequence of inserts, updates and deletes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.array(opArb(1500), { maxLength: 1500 }),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 1, max: 300 }),
        (initial, ops, probes, symbolCache) => {
          const model = new Map<string, Uint8Array>()
          for (let i = 0; i < initial; i++) model.set(keyOf(i * 2), stateHash(i * 2))
          // Start either from a bulk load or from incremental inserts.
          const tree =
            initial % 2 === 0 ? rebuild(model, symbolCache) : new ReconcileTree({ symbolCache })
          if (initial % 2 === 1) for (const [k, h] of model) tree.set(k, h)
          for (const op of ops) apply(tree, model, op)
          expectSameAsRebuild(tree, model, probes)
        },
      ),
      { numRuns: 120 },
    )
  })

  it('keeps every invariant through branch splits, merges, borrows and root collapse', () => {
    const tree = new ReconcileTree({ symbolCache: 64 })
    const model = new Map<string, Uint8Array>()
    let seed = 99
    const next = () => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return seed >>> 0
    }
    for (let i = 0; i < 40_000; i++) {
      const k = next() % 60_000
      tree.set(keyOf(k), stateHash(k))
      model.set(keyOf(k), stateHash(k))
    }
    expectSameAsRebuild(tree, model, [1, 2, 300, 40_000, 5, 17_000, 9_999, 123])
    const keys = [...model.keys()]
    for (let i = keys.length - 1; i > 0; i--) {
      const j = next() % (i + 1)
      ;[keys[i], keys[j]] = [keys[j]!, keys[i]!]
    }
    for (let i = 0; i < keys.length - 50; i++) {
      tree.delete(keys[i]!)
      model.delete(keys[i]!)
      if (i % 10_000 === 0) tree.checkInvariants()
    }
    expectSameAsRebuild(tree, model, [0, 49, 3, 20, 7, 1])
    for (const k of keys.slice(-50)) tree.delete(k)
    expect(tree.size).toBe(0)
    expect(hex(tree.fingerprint())).toBe(hex(new ReconcileTree().fingerprint()))
    tree.checkInvariants()
  })

  it('has an additive fingerprint: ranges add up to the whole', () => {
    const model = new Map<string, Uint8Array>()
    for (let i = 0; i < 5000; i++) model.set(keyOf(i), stateHash(i))
    const tree = rebuild(model)
    const whole = tree.rangeFingerprint(0, 5000).fingerprint
    expect(hex(whole)).toBe(hex(tree.fingerprint()))
    const words = (b: Uint8Array) => new Int32Array(b.slice().buffer)
    const a = words(tree.rangeFingerprint(0, 1234).fingerprint)
    const b = words(tree.rangeFingerprint(1234, 5000).fingerprint)
    const sum = new Int32Array(4).map((_, i) => (a[i]! + b[i]!) | 0)
    expect([...sum]).toEqual([...words(whole)])
    const byKey = tree.keyRangeFingerprint(keyOf(1234), null)
    expect(byKey.count).toBe(5000 - 1234)
    expect(hex(byKey.fingerprint)).toBe(hex(tree.rangeFingerprint(1234, 5000).fingerprint))
    expect(tree.keyRangeFingerprint(null, null).count).toBe(5000)
  })

  it('distinguishes sets that differ in one state, one key or one item', () => {
    const model = new Map<string, Uint8Array>()
    for (let i = 0; i < 300; i++) model.set(keyOf(i), stateHash(i))
    const base = hex(rebuild(model).summary())
    const changed = new Map(model).set(keyOf(7), stateHash(7, 1))
    const removed = new Map(model)
    removed.delete(keyOf(7))
    const renamed = new Map(removed).set(`${keyOf(7)}x`, stateHash(7))
    for (const m of [changed, removed, renamed]) expect(hex(rebuild(m).summary())).not.toBe(base)
  })

  it('gossips a summary of at most 24 bytes that decodes and compares', () => {
    const empty = new ReconcileTree().summary()
    expect(empty.length).toBeLessThanOrEqual(24)
    const model = new Map<string, Uint8Array>()
    for (let i = 0; i < 20_000; i++) model.set(keyOf(i), stateHash(i))
    const tree = rebuild(model)
    const summary = tree.summary()
    expect(summary.length).toBeLessThanOrEqual(24)
    expect(summary[0]).toBe(SUMMARY_VERSION)
    const decoded = decodeSummary(summary)
    expect(decoded.count).toBe(20_000)
    expect(hex(decoded.fingerprint)).toBe(hex(tree.fingerprint()))
    expect(summariesEqual(summary, rebuild(model).summary())).toBe(true)
    expect(summariesEqual(summary, empty)).toBe(false)
    for (const bad of [
      new Uint8Array(0),
      summary.subarray(0, 17),
      Uint8Array.of(2, ...summary.subarray(1)),
      Uint8Array.of(...summary, 0),
    ]) {
      expect(() => decodeSummary(bad)).toThrow(
        expect.objectContaining({ name: 'MendsyncError', code: 'DECODE_ERROR' }),
      )
    }
  })

  it('round-trips any keys (unicode, lone surrogates, empty) through serialize/load', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 300 }),
        (keys) => {
          const tree = ReconcileTree.fromEntries(keys.map((k, i) => [k, stateHash(i)] as const))
          const loaded = ReconcileTree.load(tree.serialize())
          expect([...loaded.keys()]).toEqual([...tree.keys()])
          expect(hex(loaded.fingerprint())).toBe(hex(tree.fingerprint()))
          loaded.checkInvariants()
        },
      ),
      { numRuns: 50 },
    )
  })

  it('rejects corrupted, truncated and inconsistent serialisations with DECODE_ERROR', () => {
    const model = new Map<string, Uint8Array>()
    for (let i = 0; i < 200; i++) model.set(keyOf(i), stateHash(i))
    const bytes = rebuild(model).serialize()
    const decodeError = expect.objectContaining({ name: 'MendsyncError', code: 'DECODE_ERROR' })
    expect(() => ReconcileTree.load(bytes.subarray(0, bytes.length - 1))).toThrow(decodeError)
    expect(() => ReconcileTree.load(new Uint8Array(3))).toThrow(decodeError)
    const flipped = bytes.slice()
    flipped[40] = flipped[40]! ^ 1
    expect(() => ReconcileTree.load(flipped)).toThrow(decodeError)
    // A well-formed file (valid checksum) whose keys are not ascending.
    const swapped = rebuild(new Map([['b', stateHash(1)]])).serialize()
    const body = swapped.slice(0, swapped.length - 4)
    const at = body.lastIndexOf('b'.charCodeAt(0))
    body[at] = 'a'.charCodeAt(0)
    const twoKeys = rebuild(
      new Map([
        ['b', stateHash(1)],
        ['c', stateHash(2)],
      ]),
    ).serialize()
    const body2 = twoKeys.slice(0, twoKeys.length - 4)
    // The second key is front-coded as (shared 0, length 1, 'c'): make it 'a' < 'b'.
    body2[body2.lastIndexOf('c'.charCodeAt(0))] = 'a'.charCodeAt(0)
    const withChecksum = (b: Uint8Array) => {
      const out = new Uint8Array(b.length + 4)
      out.set(b)
      new DataView(out.buffer).setInt32(b.length, bytesHash32(b, 0, b.length), true)
      return out
    }
    expect(ReconcileTree.load(withChecksum(body)).size).toBe(1)
    expect(() => ReconcileTree.load(withChecksum(body2))).toThrow(decodeError)
  })

  it('validates its arguments with INVALID_ARGUMENT', () => {
    const tree = new ReconcileTree()
    const invalid = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        expect(isMendsyncError(error, 'INVALID_ARGUMENT')).toBe(true)
        return
      }
      throw new Error('expected INVALID_ARGUMENT')
    }
    invalid(() => tree.set('a', new Uint8Array(31)))
    invalid(() => tree.set(1 as unknown as string, new Uint8Array(32)))
    invalid(() => tree.select(0))
    invalid(() => tree.rangeFingerprint(0, 1))
    invalid(() => new ReconcileTree({ symbolCache: 0 }))
    invalid(() => ReconcileTree.fromSorted(['b', 'a'], new Uint8Array(64)))
    invalid(() => ReconcileTree.fromSorted(['a', 'a'], new Uint8Array(64)))
    invalid(() => ReconcileTree.fromSorted(['a'], new Uint8Array(33)))
  })

  it('bulk-loads from sorted items to the same tree as incremental inserts', () => {
    const keys: string[] = []
    const hashes = new Uint8Array(32 * 3000)
    for (let i = 0; i < 3000; i++) {
      keys.push(keyOf(i))
      hashes.set(stateHash(i), 32 * i)
    }
    const bulk = ReconcileTree.fromSorted(keys, hashes)
    const incremental = new ReconcileTree()
    for (let i = 2999; i >= 0; i--) incremental.set(keys[i]!, stateHash(i))
    bulk.checkInvariants()
    expect(hex(bulk.summary())).toBe(hex(incremental.summary()))
    expect(bulk.version).toBeGreaterThan(0)
    const v = incremental.version
    expect(incremental.set(keys[0]!, stateHash(0))).toBe(false)
    expect(incremental.version).toBe(v)
    expect(incremental.has(keys[5]!)).toBe(true)
    expect(incremental.has('nope')).toBe(false)
  })
})
