import {
  type CausalContext,
  contextAdd,
  contextFromDots,
  contextNextDot,
} from './causal-context.js'
import {
  type Actor,
  type CartLineStore,
  type CartStore,
  type CausalValue,
  type DeltaMutation,
  emptyValue,
} from './causal-value.js'
import { type Data, dataEquals, toData } from './data.js'
import { type DotEntry, type DotFun, storeInsert } from './dot-store.js'
import { invalid, isWellFormed } from './guards.js'
import { LIMITS } from './limits.js'
import type { Dot } from './types.js'

/**
 * An add-wins observed-remove cart: `sku -> line { qty, meta }`, a dot map of lines in the key's
 * causal value. Every operation is a delta mutator returning the new state and the delta to ship.
 *
 * A line holds dotted contributions: `adds` (amounts added), `sets` (quantities assigned) and
 * `meta` (meta assignments). Its quantity is `max(live sets, or 0) + sum(live adds)`.
 * - `add(n)` adds one contribution `n` and removes nothing: concurrent adds are all counted.
 * - `setQuantity(q)` removes the sets and adds it has observed and adds one set `q`. Concurrent
 *   set-quantities resolve to the largest, plus every add the setter had not seen.
 * - `remove` removes exactly the contributions it observed: an add or set it had not seen
 *   survives, with only the amounts the remover had not seen (never riak_dt's resurrected
 *   counter), and a stale copy can never bring observed ones back (the context remembers them).
 * - `setMeta(m)` replaces the observed meta and re-asserts the quantity the editor saw
 *   (one set of that quantity), so an edit concurrent with a remove keeps the line as edited.
 * A line whose contributions are all removed is erased; no tombstone is kept beyond the dots in
 * the (compact) causal context. Clocks play no part: cart outcomes never depend on them.
 */

/** One cart line as a read shows it. */
export interface CartLine {
  readonly sku: string
  /** The quantity: at least 1 for every line the cart operations can produce. */
  readonly qty: number
  /** The line's meta (the one with the greatest dot among concurrent ones), if any. */
  readonly meta: Data | undefined
  /**
   * Every distinct live meta value, each at its first occurrence in dot order: more than one
   * means concurrent meta edits that disagree. Concurrent edits that wrote the same value (two
   * devices adding the same product with the same name) are one sibling, not a conflict.
   */
  readonly metaSiblings: readonly Data[]
}

const NO_ENTRIES: readonly never[] = Object.freeze([])

function assertSku(sku: unknown): asserts sku is string {
  if (
    typeof sku !== 'string' ||
    sku.length === 0 ||
    sku.length > LIMITS.maxSkuLength ||
    !isWellFormed(sku)
  ) {
    invalid(
      `sku must be a non-empty well-formed string of at most ${LIMITS.maxSkuLength} characters`,
    )
  }
}

function assertQuantity(qty: unknown, what: string, min: number): asserts qty is number {
  if (
    typeof qty !== 'number' ||
    !Number.isSafeInteger(qty) ||
    qty < min ||
    qty > LIMITS.maxQuantity
  ) {
    invalid(`${what} must be an integer from ${min} to ${LIMITS.maxQuantity}, got ${String(qty)}`)
  }
}

function lineQuantity(line: CartLineStore): number {
  let base = 0
  for (const entry of line.sets) if (entry.value > base) base = entry.value
  let sum = 0
  for (const entry of line.adds) sum += entry.value
  return base + sum
}

/** The distinct values of `entries`, each at its first occurrence (meta entries are few). */
function distinctValues(entries: DotFun<Data>): Data[] {
  const out: Data[] = []
  for (const entry of entries) {
    if (!out.some((seen) => dataEquals(seen, entry.value))) out.push(entry.value)
  }
  return out
}

function lineView(sku: string, line: CartLineStore): CartLine {
  const metaSiblings = distinctValues(line.meta)
  const last = line.meta[line.meta.length - 1]
  return { sku, qty: lineQuantity(line), meta: last?.value, metaSiblings }
}

function dotsOf(...stores: readonly DotFun<unknown>[]): Dot[] {
  const out: Dot[] = []
  for (const store of stores)
    for (const e of store) out.push({ replica: e.replica, counter: e.counter })
  return out
}

function withLine(cart: CartStore, sku: string, line: CartLineStore | undefined): CartStore {
  const out = new Map(cart)
  if (line === undefined) out.delete(sku)
  else out.set(sku, line)
  return out
}

const EMPTY_LINE: CartLineStore = Object.freeze({
  sets: NO_ENTRIES,
  adds: NO_ENTRIES,
  meta: NO_ENTRIES,
})

/** The state after a local operation that used `dots` and left `line` at `sku`. */
function withContextAndLine(
  value: CausalValue,
  dots: readonly Dot[],
  sku: string,
  line: CartLineStore,
): CausalValue {
  let context = value.context
  for (const dot of dots) context = contextAdd(context, dot)
  return { context, register: value.register, cart: withLine(value.cart, sku, line) }
}

function lineDelta(context: CausalContext, sku: string, line: CartLineStore): CausalValue {
  return { context, register: NO_ENTRIES, cart: new Map([[sku, line]]) }
}

/** Every line of the cart, sorted by sku. */
export function readCart(value: CausalValue): CartLine[] {
  const skus = [...value.cart.keys()].sort()
  return skus.map((sku) => lineView(sku, value.cart.get(sku) as CartLineStore))
}

/** One line of the cart, or `undefined` when the cart has no such line. */
export function readCartLine(value: CausalValue, sku: string): CartLine | undefined {
  const line = value.cart.get(sku)
  return line === undefined ? undefined : lineView(sku, line)
}

/**
 * Adds `amount` (an integer from 1 to `LIMITS.maxQuantity`) to the line `sku`, creating it if
 * needed. With `meta`, also sets the line's meta (replacing the meta this replica has seen).
 * Concurrent adds are all counted. Throws `INVALID_ARGUMENT` on a bad sku, amount or meta, or
 * when a new line would exceed `LIMITS.maxLines`.
 */
export function cartAdd(
  value: CausalValue,
  actor: Actor,
  sku: string,
  amount: number,
  meta?: unknown,
): DeltaMutation {
  assertSku(sku)
  assertQuantity(amount, 'amount', 1)
  const metaData = meta === undefined ? undefined : toData(meta)
  const line = value.cart.get(sku)
  if (line === undefined && value.cart.size >= LIMITS.maxLines) {
    invalid(`the cart already has ${LIMITS.maxLines} lines`)
  }
  const dot = contextNextDot(value.context, actor.replica)
  const add: DotEntry<number> = { replica: dot.replica, counter: dot.counter, value: amount }
  const current = line ?? EMPTY_LINE
  if (metaData === undefined) {
    const next: CartLineStore = { ...current, adds: storeInsert(current.adds, add) }
    return {
      state: withContextAndLine(value, [dot], sku, next),
      delta: lineDelta(contextFromDots([dot]), sku, { ...EMPTY_LINE, adds: [add] }),
    }
  }
  // Every entry gets its own dot: a later operation may supersede the add but not the meta.
  const metaDot: Dot = { replica: dot.replica, counter: dot.counter + 1 }
  const metaEntries: DotFun<Data> = [{ ...metaDot, value: metaData }]
  const next: CartLineStore = {
    sets: current.sets,
    adds: storeInsert(current.adds, add),
    meta: metaEntries,
  }
  return {
    state: withContextAndLine(value, [dot, metaDot], sku, next),
    delta: lineDelta(contextFromDots([...dotsOf(current.meta), dot, metaDot]), sku, {
      sets: NO_ENTRIES,
      adds: [add],
      meta: metaEntries,
    }),
  }
}

/**
 * Sets the quantity of line `sku` to `qty` (an integer from 0 to `LIMITS.maxQuantity`; 0 removes
 * the line, like {@link cartRemove}), creating the line if needed. Removes the quantity
 * contributions this replica has seen and adds one assignment of `qty`. Concurrent set-quantities resolve to the largest value, plus
 * the adds none of them had seen. The line's meta is left as it is.
 */
export function cartSetQuantity(
  value: CausalValue,
  actor: Actor,
  sku: string,
  qty: number,
): DeltaMutation {
  assertSku(sku)
  assertQuantity(qty, 'qty', 0)
  if (qty === 0) return cartRemove(value, sku)
  const line = value.cart.get(sku)
  if (line === undefined && value.cart.size >= LIMITS.maxLines) {
    invalid(`the cart already has ${LIMITS.maxLines} lines`)
  }
  const current = line ?? EMPTY_LINE
  const dot = contextNextDot(value.context, actor.replica)
  const set: DotFun<number> = [{ ...dot, value: qty }]
  const next: CartLineStore = { sets: set, adds: NO_ENTRIES, meta: current.meta }
  const deltaContext = contextFromDots([...dotsOf(current.sets, current.adds), dot])
  return {
    state: withContextAndLine(value, [dot], sku, next),
    delta: lineDelta(deltaContext, sku, { ...EMPTY_LINE, sets: set }),
  }
}

/**
 * Sets the meta of the existing line `sku` (any {@link Data}, e.g. `{ name, price }`). The
 * edit replaces the meta this replica has seen and re-asserts the quantity it sees, so a remove
 * concurrent with the edit does not drop the line. Throws `INVALID_ARGUMENT` when the line does
 * not exist here (add it with `meta` instead) or `meta` is not valid data.
 */
export function cartSetMeta(
  value: CausalValue,
  actor: Actor,
  sku: string,
  meta: unknown,
): DeltaMutation {
  assertSku(sku)
  const line = value.cart.get(sku)
  if (line === undefined) invalid(`the cart has no line "${sku}"; add it first`)
  const metaData = toData(meta)
  const setDot = contextNextDot(value.context, actor.replica)
  const metaDot: Dot = { replica: setDot.replica, counter: setDot.counter + 1 }
  const next: CartLineStore = {
    sets: [{ ...setDot, value: lineQuantity(line) }],
    adds: NO_ENTRIES,
    meta: [{ ...metaDot, value: metaData }],
  }
  const deltaContext = contextFromDots([
    ...dotsOf(line.sets, line.adds, line.meta),
    setDot,
    metaDot,
  ])
  return {
    state: withContextAndLine(value, [setDot, metaDot], sku, next),
    delta: lineDelta(deltaContext, sku, next),
  }
}

/**
 * Removes the line `sku`: exactly the contributions this replica has seen. Contributions made
 * concurrently elsewhere survive (add wins), and the removed ones never come back from a stale
 * copy. Removing a line that does not exist here is a no-op with an empty delta. Creates no dot.
 */
export function cartRemove(value: CausalValue, sku: string): DeltaMutation {
  assertSku(sku)
  const line = value.cart.get(sku)
  if (line === undefined) return { state: value, delta: emptyValue() }
  const delta: CausalValue = {
    context: contextFromDots(dotsOf(line.sets, line.adds, line.meta)),
    register: NO_ENTRIES,
    cart: new Map(),
  }
  return {
    state: {
      context: value.context,
      register: value.register,
      cart: withLine(value.cart, sku, undefined),
    },
    delta,
  }
}

/** Removes every line this replica has seen (the observed-remove of the whole cart). */
export function cartClear(value: CausalValue): DeltaMutation {
  if (value.cart.size === 0) return { state: value, delta: emptyValue() }
  const dots: Dot[] = []
  for (const line of value.cart.values()) dots.push(...dotsOf(line.sets, line.adds, line.meta))
  const delta: CausalValue = {
    context: contextFromDots(dots),
    register: NO_ENTRIES,
    cart: new Map(),
  }
  return { state: { context: value.context, register: value.register, cart: new Map() }, delta }
}
