import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalContext,
  contextFromDots,
  contextHas,
  contextJoin,
  type Dot,
  type DotFun,
  type DotMap,
  type DotSet,
  dotFunFrom,
  dotFunLattice,
  dotSetLattice,
  joinDotFun,
  joinDotMap,
  joinDotSet,
  sortDots,
  storeInsert,
  storeWithout,
} from '../../src/index.js'

const key = (d: Dot) => `${d.replica}:${d.counter}`
const dotArb: fc.Arbitrary<Dot> = fc.record({
  replica: fc.constantFrom('a', 'b', 'c'),
  counter: fc.integer({ min: 1, max: 8 }),
})

/** A dot-store state: a context and a store holding a subset of it (the model's invariant). */
interface State<S> {
  readonly store: S
  readonly context: CausalContext
}

const dotSetStateArb: fc.Arbitrary<State<DotSet>> = fc
  .tuple(
    fc.array(dotArb, { maxLength: 16 }),
    fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
  )
  .map(([dots, keep]) => {
    const unique = sortDots(dots)
    return { store: unique.filter((_, i) => keep[i]), context: contextFromDots(unique) }
  })

const dotFunStateArb: fc.Arbitrary<State<DotFun<number>>> = fc
  .tuple(dotSetStateArb, fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 16, maxLength: 16 }))
  .map(([{ store, context }, values]) => ({
    store: store.map((d, i) => ({ ...d, value: values[i] as number })),
    context,
  }))

const dotMapStateArb: fc.Arbitrary<State<DotMap<string, DotSet>>> = fc
  .tuple(dotSetStateArb, fc.array(fc.constantFrom('x', 'y', 'z'), { minLength: 16, maxLength: 16 }))
  .map(([{ store, context }, keys]) => {
    const map = new Map<string, Dot[]>()
    store.forEach((d, i) => {
      const k = keys[i] as string
      map.set(k, [...(map.get(k) ?? []), d])
    })
    return { store: map as DotMap<string, DotSet>, context }
  })

function joinState<S>(join: (a: S, ca: CausalContext, b: S, cb: CausalContext) => S) {
  return (x: State<S>, y: State<S>): State<S> => ({
    store: join(x.store, x.context, y.store, y.context),
    context: contextJoin(x.context, y.context),
  })
}

const maxValue = (x: number, y: number) => Math.max(x, y)
const setJoin = joinState(joinDotSet)
const funJoin = joinState<DotFun<number>>((a, ca, b, cb) => joinDotFun(a, ca, b, cb, maxValue))
const mapJoin = joinState<DotMap<string, DotSet>>((a, ca, b, cb) =>
  joinDotMap(a, ca, b, cb, dotSetLattice),
)

function plain(store: unknown): unknown {
  if (store instanceof Map)
    return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, plain(v)])
  return store
}

function lawsFor<S>(
  name: string,
  arb: fc.Arbitrary<State<S>>,
  join: (x: State<S>, y: State<S>) => State<S>,
) {
  it(`${name} join is commutative, associative and idempotent`, () => {
    fc.assert(
      fc.property(arb, arb, arb, (a, b, c) => {
        const same = (x: State<S>, y: State<S>) => {
          expect(plain(x.store)).toEqual(plain(y.store))
          expect(x.context).toEqual(y.context)
        }
        same(join(a, b), join(b, a))
        same(join(join(a, b), c), join(a, join(b, c)))
        same(join(a, a), a)
      }),
    )
  })
}

describe('dot stores', () => {
  lawsFor('DotSet', dotSetStateArb, setJoin)
  lawsFor('DotFun', dotFunStateArb, funJoin)
  lawsFor('DotMap', dotMapStateArb, mapJoin)

  it('DotSet join follows the paper: (s ∩ s′) ∪ (s \\ c′) ∪ (s′ \\ c)', () => {
    fc.assert(
      fc.property(dotSetStateArb, dotSetStateArb, (x, y) => {
        const inY = new Set(y.store.map(key))
        const expected = sortDots([
          ...x.store.filter((d) => inY.has(key(d)) || !contextHas(y.context, d)),
          ...y.store.filter((d) => !contextHas(x.context, d)),
        ])
        expect(joinDotSet(x.store, x.context, y.store, y.context)).toEqual(expected)
      }),
    )
  })

  it('DotFun keeps values, joins the values of shared dots, and drops what the other side removed', () => {
    const ctx = contextFromDots([
      { replica: 'a', counter: 1 },
      { replica: 'a', counter: 2 },
    ])
    const x = dotFunFrom([
      { replica: 'a', counter: 2, value: 5 },
      { replica: 'a', counter: 1, value: 1 },
    ])
    const y = dotFunFrom([{ replica: 'a', counter: 2, value: 7 }])
    // y has seen a:1 and no longer holds it: removed. a:2 is shared: values join with max.
    expect(joinDotFun(x, ctx, y, ctx, maxValue)).toEqual([{ replica: 'a', counter: 2, value: 7 }])
    // A side that never saw a dot keeps the other's entry.
    expect(joinDotFun(x, ctx, [], contextFromDots([]), maxValue)).toBe(x)
    const lattice = dotFunLattice(maxValue)
    expect(lattice.isEmpty(lattice.empty)).toBe(true)
  })

  it('DotMap drops keys whose store becomes empty', () => {
    const ctx = contextFromDots([{ replica: 'a', counter: 1 }])
    const x: DotMap<string, DotSet> = new Map([['k', [{ replica: 'a', counter: 1 }]]])
    const y: DotMap<string, DotSet> = new Map()
    expect(joinDotMap(x, ctx, y, ctx, dotSetLattice).size).toBe(0)
    expect(joinDotMap(x, ctx, y, contextFromDots([]), dotSetLattice)).toBe(x)
  })

  it('storeInsert and storeWithout keep the canonical order', () => {
    fc.assert(
      fc.property(fc.array(dotArb, { maxLength: 12 }), dotArb, (dots, extra) => {
        const store = sortDots(dots)
        expect(storeInsert(store, extra)).toEqual(sortDots([...store, extra]))
        const ctx = contextFromDots([extra])
        expect(storeWithout(store, ctx)).toEqual(store.filter((d) => key(d) !== key(extra)))
      }),
    )
    expect(() =>
      dotFunFrom([
        { replica: 'a', counter: 1, value: 1 },
        { replica: 'a', counter: 1, value: 2 },
      ]),
    ).toThrow(/duplicate/)
  })
})
