import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalValue,
  cartAdd,
  cartClear,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  contextCloudSize,
  emptyValue,
  encodeValue,
  isMendsyncError,
  joinValues,
  readCart,
  readCartLine,
  type Timestamp,
  valueEquals,
} from '../../src/index.js'
import { historyArb, joinAll, REPLICAS, runHistory } from './helpers.js'

const alice = { replica: 'alice' }
const bob = { replica: 'bob' }
const carol = { replica: 'carol' }

function qty(value: CausalValue, sku: string): number | undefined {
  return readCartLine(value, sku)?.qty
}

describe('cart (add-wins observed-remove map)', () => {
  it('concurrent adds of the same sku are both counted', () => {
    const base = cartAdd(emptyValue(), alice, 'apple', 1).state
    const a = cartAdd(base, alice, 'apple', 2).state
    const b = cartAdd(base, bob, 'apple', 5).state
    const c = cartAdd(emptyValue(), carol, 'apple', 7).state
    const merged = joinAll([a, b, c])
    expect(qty(merged, 'apple')).toBe(1 + 2 + 5 + 7)
    expect(qty(joinAll([c, b, a]), 'apple')).toBe(15)
  })

  it('a remove concurrent with an add keeps exactly the additions the remover had not seen (no riak_dt counter-in-map anomaly)', () => {
    // Alice adds 2, Bob sees it. Then Bob removes the line while Alice concurrently adds 3.
    const added = cartAdd(emptyValue(), alice, 'apple', 2).state
    const bobView = joinValues(emptyValue(), added)
    const removed = cartRemove(bobView, 'apple')
    const aliceMore = cartAdd(added, alice, 'apple', 3)
    // riak_dt would resurrect the whole counter (5); only the unseen +3 may survive.
    expect(qty(joinValues(removed.state, aliceMore.state), 'apple')).toBe(3)
    expect(qty(joinValues(aliceMore.state, removed.delta), 'apple')).toBe(3)
    expect(qty(joinValues(removed.state, aliceMore.delta), 'apple')).toBe(3)
    // Also with a set-quantity the remover had seen: only the unseen add survives.
    const set = cartSetQuantity(added, alice, 'apple', 10).state
    const bobSawSet = cartRemove(joinValues(bobView, set), 'apple').state
    const aliceAdds = cartAdd(set, alice, 'apple', 1).state
    expect(qty(joinValues(bobSawSet, aliceAdds), 'apple')).toBe(1)
  })

  it('a removed line never reappears through a merge of stale state', () => {
    const stale = cartAdd(cartAdd(emptyValue(), alice, 'apple', 2).state, bob, 'apple', 1).state
    const removed = cartRemove(stale, 'apple').state
    expect(readCartLine(removed, 'apple')).toBeUndefined()
    expect(readCartLine(joinValues(removed, stale), 'apple')).toBeUndefined()
    expect(readCartLine(joinValues(stale, removed), 'apple')).toBeUndefined()
    // Stale copies arriving again and again, through third parties, change nothing.
    const third = joinValues(emptyValue(), stale)
    const again = joinAll([removed, third, stale, joinValues(third, stale)])
    expect(readCartLine(again, 'apple')).toBeUndefined()
    // Adding it again is a new event and does bring it back.
    expect(qty(cartAdd(again, carol, 'apple', 4).state, 'apple')).toBe(4)
  })

  it('concurrent set-quantities resolve to the max of the set values plus the concurrent adds (README example)', () => {
    // The README's worked example: the line is at 2; then, concurrently,
    // Alice sets 5, Bob sets 3, Carol adds 1.
    const start = cartAdd(emptyValue(), alice, 'apple', 2).state
    const a = cartSetQuantity(start, alice, 'apple', 5).state
    const b = cartSetQuantity(start, bob, 'apple', 3).state
    const c = cartAdd(start, carol, 'apple', 1).state
    for (const order of [
      [a, b, c],
      [c, b, a],
      [b, c, a],
    ]) {
      expect(qty(joinAll(order), 'apple')).toBe(6)
    }
    // Two concurrent set-quantities of the same value do not double it.
    const x = cartSetQuantity(start, alice, 'apple', 3).state
    const y = cartSetQuantity(start, bob, 'apple', 3).state
    expect(qty(joinValues(x, y), 'apple')).toBe(3)
    // A set the adder had seen is the base the add builds on.
    const seen = cartAdd(x, bob, 'apple', 2).state
    expect(qty(joinValues(x, seen), 'apple')).toBe(5)
    // A later set (having seen everything) overrides everything.
    const merged = joinAll([a, b, c])
    expect(qty(cartSetQuantity(merged, bob, 'apple', 1).state, 'apple')).toBe(1)
  })

  it('a set-quantity or a meta edit concurrent with a remove keeps the line (add wins)', () => {
    const start = cartAdd(emptyValue(), alice, 'apple', 2, { note: 'green' }).state
    const removed = cartRemove(start, 'apple').state
    const set = cartSetQuantity(start, bob, 'apple', 4).state
    expect(readCartLine(joinValues(removed, set), 'apple')).toMatchObject({
      qty: 4,
      meta: undefined,
    })
    const edited = cartSetMeta(start, bob, 'apple', { note: 'red' }).state
    expect(readCartLine(joinValues(removed, edited), 'apple')).toMatchObject({
      qty: 2,
      meta: { note: 'red' },
    })
  })

  it('concurrent meta edits resolve deterministically and keep every value visible', () => {
    const start = cartAdd(emptyValue(), alice, 'apple', 1).state
    const a = cartSetMeta(start, alice, 'apple', 'from alice').state
    const b = cartSetMeta(start, bob, 'apple', 'from bob').state
    const ab = readCartLine(joinValues(a, b), 'apple')
    const ba = readCartLine(joinValues(b, a), 'apple')
    expect(ab).toEqual(ba)
    expect(ab?.metaSiblings).toEqual(['from alice', 'from bob'])
    expect(ab?.meta).toBe('from bob')
    expect(ab?.qty).toBe(1)
  })

  it('concurrent meta edits that wrote the same value are one sibling, not a conflict', () => {
    // Two devices add the same product, with the same details, while apart.
    const a = cartAdd(emptyValue(), alice, 'apple', 1, { name: 'Apple' }).state
    const b = cartAdd(emptyValue(), bob, 'apple', 2, { name: 'Apple' }).state
    const line = readCartLine(joinValues(a, b), 'apple')
    expect(line?.metaSiblings).toEqual([{ name: 'Apple' }])
    expect(line?.meta).toEqual({ name: 'Apple' })
    expect(line?.qty).toBe(3)
  })

  it('metaSiblings lists every distinct live meta value exactly once, the read meta among them', () => {
    fc.assert(
      fc.property(historyArb('cart', 60), (steps) => {
        const { states } = runHistory(steps)
        for (const state of states) {
          for (const line of readCart(state)) {
            const live = (state.cart.get(line.sku)?.meta ?? []).map((entry) => entry.value)
            expect(new Set(line.metaSiblings).size).toBe(line.metaSiblings.length)
            expect(new Set(line.metaSiblings)).toEqual(new Set(live))
            if (line.meta !== undefined) expect(line.metaSiblings).toContain(line.meta)
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it('a line whose value becomes empty is erased, and removes leave no tombstones (the context stays compact)', () => {
    let a = emptyValue()
    let b = emptyValue()
    let sizeAfterFirstRound = 0
    for (let round = 0; round < 50; round++) {
      a = cartAdd(a, alice, `sku-${round}`, 1 + (round % 3)).state
      b = joinValues(b, a)
      b = cartSetQuantity(b, bob, `sku-${round}`, 9).state
      a = joinValues(a, b)
      a = cartRemove(a, `sku-${round}`).state
      b = joinValues(b, a)
      expect(readCart(a)).toEqual([])
      expect(a.cart.size).toBe(0)
      expect(contextCloudSize(a.context)).toBe(0)
      expect(valueEquals(a, b)).toBe(true)
      if (round === 0) sizeAfterFirstRound = encodeValue(a).length
    }
    // 150 operations later the state is still two version-vector entries.
    expect(a.context.versionVector.size).toBe(2)
    expect(encodeValue(a).length).toBeLessThanOrEqual(sizeAfterFirstRound + 4)
    // Clearing a populated cart erases every line the same way.
    const full = cartAdd(cartAdd(a, alice, 'x', 1).state, bob, 'y', 2).state
    const cleared = cartClear(full)
    expect(cleared.state.cart.size).toBe(0)
    expect(valueEquals(joinValues(full, cleared.delta), cleared.state)).toBe(true)
  })

  it('every line of every reachable state has a quantity of at least 1', () => {
    fc.assert(
      fc.property(historyArb('cart', 60), (steps) => {
        const { states } = runHistory(steps)
        for (const state of states) {
          for (const line of readCart(state)) expect(line.qty).toBeGreaterThanOrEqual(1)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('clock skew of ±1 hour never changes a cart outcome', () => {
    const HOUR = 3_600_000
    fc.assert(
      fc.property(
        historyArb('cart', 50),
        fc.array(fc.integer({ min: -HOUR, max: HOUR }), { minLength: 3, maxLength: 3 }),
        (steps, skews) => {
          const base = 1_700_000_000_000
          const synced = (_r: number, tick: number): Timestamp => ({
            wall: base + tick,
            logical: 0,
          })
          const skewed = (r: number, tick: number): Timestamp => ({
            wall: base + tick + (skews[r] as number),
            logical: 0,
          })
          const plain = runHistory(steps, synced)
          const skewedRun = runHistory(steps, skewed)
          REPLICAS.forEach((_, r) => {
            expect(readCart(skewedRun.replicas[r] as CausalValue)).toEqual(
              readCart(plain.replicas[r] as CausalValue),
            )
          })
          expect(readCart(joinAll(skewedRun.replicas))).toEqual(readCart(joinAll(plain.replicas)))
        },
      ),
      { numRuns: 150 },
    )
  })

  it("the README's opening example reads as documented", () => {
    let a = cartAdd(emptyValue(), alice, 'apple', 2, { name: 'Apple' }).state
    let b = joinValues(emptyValue(), a)
    const removed = cartRemove(b, 'apple')
    const added = cartAdd(a, alice, 'apple', 3)
    a = joinValues(added.state, removed.delta)
    b = joinValues(removed.state, added.delta)
    const expected = [{ sku: 'apple', qty: 3, meta: undefined, metaSiblings: [] }]
    expect(readCart(a)).toEqual(expected)
    expect(readCart(b)).toEqual(expected)
  })

  it('rejects invalid arguments with INVALID_ARGUMENT', () => {
    const start = cartAdd(emptyValue(), alice, 'apple', 1).state
    const attempts: (() => unknown)[] = [
      () => cartAdd(start, alice, '', 1),
      () => cartAdd(start, alice, 'apple', 0),
      () => cartAdd(start, alice, 'apple', -1),
      () => cartAdd(start, alice, 'apple', 1.5),
      () => cartAdd(start, alice, 'apple', 2 ** 40),
      () => cartAdd(start, alice, 'apple', 1, { bad: undefined }),
      () => cartAdd(start, { replica: '' }, 'apple', 1),
      () => cartSetQuantity(start, alice, 'apple', -3),
      () => cartSetMeta(start, alice, 'pear', 'x'),
      () => cartSetMeta(start, alice, 'apple', new Date()),
      () => cartRemove(start, '\ud800'),
    ]
    for (const attempt of attempts) {
      let caught: unknown
      try {
        attempt()
      } catch (error) {
        caught = error
      }
      expect(isMendsyncError(caught, 'INVALID_ARGUMENT')).toBe(true)
    }
  })

  it('removing a missing line or clearing an empty cart is a no-op with an empty delta', () => {
    const start = cartAdd(emptyValue(), alice, 'apple', 1).state
    const removed = cartRemove(start, 'pear')
    expect(removed.state).toBe(start)
    expect(valueEquals(removed.delta, emptyValue())).toBe(true)
    expect(valueEquals(cartClear(emptyValue()).delta, emptyValue())).toBe(true)
    expect(readCartLine(cartSetQuantity(start, alice, 'apple', 0).state, 'apple')).toBeUndefined()
  })
})
