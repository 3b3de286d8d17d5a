import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalValue,
  cartAdd,
  contextHasAll,
  contextSeenUpTo,
  deleteValue,
  emptyValue,
  encodeValue,
  isCausalContext,
  isTombstone,
  joinValues,
  readCart,
  readRegister,
  valueDots,
  valueEquals,
  valueFrontier,
  valueKind,
  writeRegister,
} from '../../src/index.js'
import { historyArb, joinAll, runHistory } from './helpers.js'

const KINDS = ['cart', 'register', 'mixed'] as const

/** Three states picked from one random history (so their dots are consistent). */
function tripleArb(kind: (typeof KINDS)[number]) {
  return historyArb(kind).chain((steps) => {
    const { states } = runHistory(steps)
    const pick = fc.nat({ max: states.length - 1 }).map((i) => states[i] as CausalValue)
    return fc.tuple(pick, pick, pick)
  })
}

function expectSame(a: CausalValue, b: CausalValue): void {
  expect(valueEquals(a, b)).toBe(true)
  expect(encodeValue(a)).toEqual(encodeValue(b))
}

describe.each(KINDS)('join of %s values', (kind) => {
  it('is commutative', () => {
    fc.assert(
      fc.property(tripleArb(kind), ([a, b]) => {
        expectSame(joinValues(a, b), joinValues(b, a))
      }),
      { numRuns: 150 },
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(tripleArb(kind), ([a, b, c]) => {
        expectSame(joinValues(joinValues(a, b), c), joinValues(a, joinValues(b, c)))
      }),
      { numRuns: 150 },
    )
  })

  it('is idempotent', () => {
    fc.assert(
      fc.property(tripleArb(kind), ([a, b]) => {
        expectSame(joinValues(a, a), a)
        const ab = joinValues(a, b)
        expectSame(joinValues(ab, b), ab)
      }),
      { numRuns: 150 },
    )
  })

  it('applying a delta equals the operation: X ⊔ mδ(X) = m(X)', () => {
    fc.assert(
      fc.property(historyArb(kind), (steps) => {
        for (const { before, result } of runHistory(steps).mutations) {
          expectSame(joinValues(before, result.delta), result.state)
          expect(isCausalContext(result.state.context)).toBe(true)
          expect(isCausalContext(result.delta.context)).toBe(true)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('shipping deltas converges to the same state as shipping full states', () => {
    fc.assert(
      fc.property(historyArb(kind), (steps) => {
        const { replicas, deltas } = runHistory(steps)
        const byStates = joinAll(replicas)
        const byDeltas = joinAll([...replicas, ...deltas.flat()])
        expectSame(byDeltas, byStates)
        // Deltas alone rebuild the full state too.
        expectSame(joinAll(deltas.flat()), byStates)
      }),
      { numRuns: 150 },
    )
  })
})

describe('causal values', () => {
  it('every stored dot is in the context, and contexts stay compact after full sync', () => {
    fc.assert(
      fc.property(historyArb('mixed'), (steps) => {
        const { states, replicas } = runHistory(steps)
        for (const state of states)
          expect(contextHasAll(state.context, valueDots(state))).toBe(true)
        const merged = joinAll(replicas)
        // Per-key counters are contiguous per replica: a state that saw everything has no cloud.
        expect(merged.context.cloud.size).toBe(0)
        // A replica that saw everything sees every frontier of every replica.
        for (const r of replicas)
          expect(contextSeenUpTo(merged.context, valueFrontier(r))).toBe(true)
      }),
      { numRuns: 150 },
    )
  })

  it('deleting a key leaves a tombstone that wins over stale copies but not over concurrent writes', () => {
    const alice = { replica: 'alice' }
    const bob = { replica: 'bob' }
    const written = writeRegister(emptyValue(), alice, 'v1').state
    const stale = written
    const deleted = deleteValue(written)
    expect(isTombstone(deleted.state)).toBe(true)
    expect(valueKind(deleted.state)).toBe('tombstone')
    expect(isTombstone(joinValues(deleted.state, stale))).toBe(true)
    expect(isTombstone(joinValues(stale, deleted.delta))).toBe(true)
    const concurrent = writeRegister(stale, bob, 'v2').state
    const merged = joinValues(deleted.state, concurrent)
    expect(readRegister(merged).siblings.map((s) => s.value)).toEqual(['v2'])
  })

  it('concurrent writes of different kinds are both kept, and a write with a read context settles the kind', () => {
    const reg = writeRegister(emptyValue(), { replica: 'alice' }, 'text').state
    const cart = cartAdd(emptyValue(), { replica: 'bob' }, 'apple', 2).state
    const mixed = joinValues(reg, cart)
    expect(valueKind(mixed)).toBe('mixed')
    expect(readCart(mixed).map((l) => l.qty)).toEqual([2])
    const settled = writeRegister(
      mixed,
      { replica: 'carol' },
      'final',
      readRegister(mixed).context,
    ).state
    expect(valueKind(settled)).toBe('register')
    expect(valueKind(joinValues(settled, cart))).toBe('register')
  })
})
