// Shared generators for the data-model tests: random multi-replica histories of one key.
import fc from 'fast-check'
import {
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  type DeltaMutation,
  deleteValue,
  emptyValue,
  joinValues,
  readCartLine,
  readRegister,
  type Timestamp,
  writeRegister,
} from '../../src/index.js'

export const REPLICAS = ['alice', 'bob', 'carol'] as const
export const SKUS = ['apple', 'bread', 'cheese'] as const

/** One step of a random history on three replicas of one key. */
export type Step =
  | {
      readonly t: 'add'
      readonly r: number
      readonly sku: string
      readonly n: number
      readonly meta?: string
    }
  | { readonly t: 'set'; readonly r: number; readonly sku: string; readonly n: number }
  | { readonly t: 'remove'; readonly r: number; readonly sku: string }
  | { readonly t: 'meta'; readonly r: number; readonly sku: string; readonly meta: string }
  | {
      readonly t: 'write'
      readonly r: number
      readonly value: number
      readonly withContext: boolean
    }
  | { readonly t: 'delete'; readonly r: number }
  | { readonly t: 'sync'; readonly from: number; readonly to: number }
  | { readonly t: 'deliver'; readonly from: number; readonly to: number; readonly k: number }

const replica = fc.integer({ min: 0, max: REPLICAS.length - 1 })
const sku = fc.constantFrom(...SKUS)

export const cartStepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('add' as const), r: replica, sku, n: fc.integer({ min: 1, max: 5 }) }),
  fc.record({
    t: fc.constant('add' as const),
    r: replica,
    sku,
    n: fc.integer({ min: 1, max: 5 }),
    meta: fc.constantFrom('red', 'blue'),
  }),
  fc.record({ t: fc.constant('set' as const), r: replica, sku, n: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ t: fc.constant('remove' as const), r: replica, sku }),
  fc.record({
    t: fc.constant('meta' as const),
    r: replica,
    sku,
    meta: fc.constantFrom('x', 'y', 'z'),
  }),
)

export const registerStepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant('write' as const),
    r: replica,
    value: fc.integer({ min: 0, max: 99 }),
    withContext: fc.boolean(),
  }),
  fc.record({ t: fc.constant('delete' as const), r: replica }),
)

export const syncStepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('sync' as const), from: replica, to: replica }),
  fc.record({
    t: fc.constant('deliver' as const),
    from: replica,
    to: replica,
    k: fc.nat({ max: 1000 }),
  }),
)

/** Histories of cart operations, register operations, or both (kinds written concurrently). */
export function historyArb(
  kind: 'cart' | 'register' | 'mixed',
  maxLength = 40,
): fc.Arbitrary<Step[]> {
  const ops =
    kind === 'cart'
      ? cartStepArb
      : kind === 'register'
        ? registerStepArb
        : fc.oneof(cartStepArb, registerStepArb)
  return fc.array(fc.oneof({ arbitrary: ops, weight: 3 }, { arbitrary: syncStepArb, weight: 2 }), {
    maxLength,
  })
}

/** What running a history produced. */
export interface History {
  /** The final state of each replica. */
  readonly replicas: CausalValue[]
  /** Every state any replica went through, and every delta produced, in order. */
  readonly states: CausalValue[]
  /** Every delta produced, per replica, in order. */
  readonly deltas: CausalValue[][]
  /** Each local operation: the state before it and its result (for `X ⊔ mδ(X) = m(X)`). */
  readonly mutations: { readonly before: CausalValue; readonly result: DeltaMutation }[]
}

/**
 * Applies one local operation step to `state`; returns `null` when the step does not apply
 * (a meta edit of a line this replica does not have).
 */
export function applyLocal(
  state: CausalValue,
  step: Step,
  time: Timestamp = { wall: 0, logical: 0 },
): DeltaMutation | null {
  if (step.t === 'sync' || step.t === 'deliver') return null
  const actor = { replica: REPLICAS[step.r] as string, time }
  switch (step.t) {
    case 'add':
      return cartAdd(state, actor, step.sku, step.n, step.meta)
    case 'set':
      return cartSetQuantity(state, actor, step.sku, step.n)
    case 'remove':
      return cartRemove(state, step.sku)
    case 'meta':
      if (readCartLine(state, step.sku) === undefined) return null
      return cartSetMeta(state, actor, step.sku, step.meta)
    case 'write':
      return writeRegister(
        state,
        actor,
        step.value,
        step.withContext ? readRegister(state).context : undefined,
      )
    case 'delete':
      return deleteValue(state)
  }
}

/** Runs a history of steps on three fresh replicas. */
export function runHistory(
  steps: readonly Step[],
  clock?: (replica: number, tick: number) => Timestamp,
): History {
  const replicas = REPLICAS.map(() => emptyValue())
  const deltas: CausalValue[][] = REPLICAS.map(() => [])
  const states: CausalValue[] = [...replicas]
  const mutations: { before: CausalValue; result: DeltaMutation }[] = []
  steps.forEach((step, tick) => {
    if (step.t === 'sync') {
      replicas[step.to] = joinValues(
        replicas[step.to] as CausalValue,
        replicas[step.from] as CausalValue,
      )
      states.push(replicas[step.to] as CausalValue)
      return
    }
    if (step.t === 'deliver') {
      const produced = deltas[step.from] as CausalValue[]
      if (produced.length === 0) return
      const delta = produced[step.k % produced.length] as CausalValue
      replicas[step.to] = joinValues(replicas[step.to] as CausalValue, delta)
      states.push(replicas[step.to] as CausalValue)
      return
    }
    const before = replicas[step.r] as CausalValue
    const result = applyLocal(before, step, clock?.(step.r, tick))
    if (result === null) return
    mutations.push({ before, result })
    replicas[step.r] = result.state
    ;(deltas[step.r] as CausalValue[]).push(result.delta)
    states.push(result.state, result.delta)
  })
  return { replicas, states, deltas, mutations }
}

/** Joins every state of `values` (left to right). */
export function joinAll(values: readonly CausalValue[]): CausalValue {
  return values.reduce((acc, v) => joinValues(acc, v), emptyValue())
}
