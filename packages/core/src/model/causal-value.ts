import {
  type CausalContext,
  contextEquals,
  contextFrontier,
  contextJoin,
  emptyContext,
  isCausalContext,
} from './causal-context.js'
import { compareData, type Data, dataEquals } from './data.js'
import { compareDots } from './dot.js'
import {
  type DotFun,
  type DotMap,
  type DotStoreLattice,
  dotFunLattice,
  dotMapLattice,
  joinDotFun,
  joinDotMap,
  storeWithout,
} from './dot-store.js'
import { invalid } from './guards.js'
import { compareTimestamps, type Timestamp } from './hlc.js'
import type { Dot, ReplicaId } from './types.js'

/**
 * Who performs a local operation: the replica whose counter the new dot takes, and optionally
 * the hybrid-logical-clock reading of the operation (registers order concurrent siblings by it
 * under `lww`; carts ignore it).
 */
export interface Actor {
  readonly replica: ReplicaId
  readonly time?: Timestamp
}

/** The kinds of value a key can hold. */
export type ValueKind = 'register' | 'cart'

/** What {@link valueKind} reports: a kind, a deleted key, or two kinds written concurrently. */
export type ValueKindState = ValueKind | 'tombstone' | 'mixed'

/** One register sibling as stored: the written data and the writer's clock reading. */
export interface Sibling {
  readonly value: Data
  readonly time: Timestamp
}

/** The dot store of a register: one entry per live sibling. */
export type RegisterStore = DotFun<Sibling>

/**
 * The dot store of one cart line, three dot functions sharing the key's context:
 * `sets` (quantity assignments), `adds` (added amounts), `meta` (meta assignments).
 * The line's quantity is `max(sets) + sum(adds)` (see the cart module). Every entry has a dot
 * of its own: an operation writing two entries (an add with meta, a meta edit) takes two
 * consecutive dots, because a dot seen by a later remove is removed from every store it is in.
 */
export interface CartLineStore {
  readonly sets: DotFun<number>
  readonly adds: DotFun<number>
  readonly meta: DotFun<Data>
}

/** The dot store of a cart: `sku -> line`, never holding an empty line. */
export type CartStore = DotMap<string, CartLineStore>

/**
 * The state of one key: a causal context plus one dot store per kind. Normally at most one kind
 * holds entries; a key with no entries at all is a tombstone (the context remembers what was
 * deleted). Two kinds can only both hold entries when replicas wrote different kinds to the same
 * key concurrently; the join keeps both (it must stay a lattice) and a later write of either kind
 * with a read context removes the other ({@link valueKind} reports `mixed` until then).
 *
 * Values are immutable: every operation returns new objects and shares what did not change.
 */
export interface CausalValue {
  readonly context: CausalContext
  readonly register: RegisterStore
  readonly cart: CartStore
}

/** A local operation's result: the new state, and the delta to ship (`join(old, delta) = state`). */
export interface DeltaMutation {
  readonly state: CausalValue
  readonly delta: CausalValue
}

const EMPTY_REGISTER: RegisterStore = Object.freeze([])
const EMPTY_CART: CartStore = new Map()

/** The state of a key nobody wrote: empty stores, empty context (bottom of the lattice). */
export function emptyValue(): CausalValue {
  return { context: emptyContext(), register: EMPTY_REGISTER, cart: EMPTY_CART }
}

/** Builds a value from its parts (no validation beyond types; used by the codec and tests). */
export function makeValue(
  context: CausalContext,
  register: RegisterStore = EMPTY_REGISTER,
  cart: CartStore = EMPTY_CART,
): CausalValue {
  return { context, register, cart }
}

/** Deterministic merge of two siblings carrying the same dot (normally identical). */
function joinSibling(x: Sibling, y: Sibling): Sibling {
  const byTime = compareTimestamps(x.time, y.time)
  if (byTime !== 0) return byTime > 0 ? x : y
  return compareData(x.value, y.value) >= 0 ? x : y
}

function maxNumber(x: number, y: number): number {
  return Math.max(x, y)
}

function maxData(x: Data, y: Data): Data {
  return compareData(x, y) >= 0 ? x : y
}

const EMPTY_LINE: CartLineStore = Object.freeze({
  sets: Object.freeze([]),
  adds: Object.freeze([]),
  meta: Object.freeze([]),
})

/** The lattice of cart lines: field-wise dot-function joins. */
export const cartLineLattice: DotStoreLattice<CartLineStore> = {
  empty: EMPTY_LINE,
  isEmpty: (line) => line.sets.length === 0 && line.adds.length === 0 && line.meta.length === 0,
  join(a, ca, b, cb) {
    if (a === b) return a
    const sets = joinDotFun(a.sets, ca, b.sets, cb, maxNumber)
    const adds = joinDotFun(a.adds, ca, b.adds, cb, maxNumber)
    const meta = joinDotFun(a.meta, ca, b.meta, cb, maxData)
    if (sets === a.sets && adds === a.adds && meta === a.meta) return a
    if (sets === b.sets && adds === b.adds && meta === b.meta) return b
    return { sets, adds, meta }
  },
}

/** The lattice of carts: a dot map of lines. */
export const cartLattice: DotStoreLattice<CartStore> = dotMapLattice(cartLineLattice)

/** The lattice of registers: a dot function of siblings. */
export const registerLattice: DotStoreLattice<RegisterStore> = dotFunLattice(joinSibling)

/**
 * The join of two states of the same key: commutative, associative, idempotent. Joining a delta
 * into a state applies the operation that produced it; joining a peer's state merges replicas.
 */
export function joinValues(a: CausalValue, b: CausalValue): CausalValue {
  if (a === b) return a
  const register = joinDotFun(a.register, a.context, b.register, b.context, joinSibling)
  const cart = joinDotMap(a.cart, a.context, b.cart, b.context, cartLineLattice)
  const context = contextJoin(a.context, b.context)
  if (register === a.register && cart === a.cart && context === a.context) return a
  return { context, register, cart }
}

/**
 * Deletes the key: removes every entry `context` has seen (default: everything this state holds).
 * The result is a tombstone when nothing concurrent survives; its context keeps the deletion
 * from being undone by stale copies. A concurrent write the context had not seen survives.
 */
export function deleteValue(
  value: CausalValue,
  context: CausalContext = value.context,
): DeltaMutation {
  if (!isCausalContext(context)) invalid('context must come from readRegister or decodeContext')
  const delta: CausalValue = { context, register: EMPTY_REGISTER, cart: EMPTY_CART }
  const register = storeWithout(value.register, context)
  let cart: CartStore = value.cart
  if (cart.size > 0) cart = removeSeenFromCart(cart, context)
  return { state: { context: contextJoin(value.context, context), register, cart }, delta }
}

/** The cart without every entry `context` has seen (lines left empty disappear). */
export function removeSeenFromCart(cart: CartStore, context: CausalContext): CartStore {
  let out: Map<string, CartLineStore> | undefined
  for (const [sku, line] of cart) {
    const sets = storeWithout(line.sets, context)
    const adds = storeWithout(line.adds, context)
    const meta = storeWithout(line.meta, context)
    if (sets === line.sets && adds === line.adds && meta === line.meta) continue
    out ??= new Map(cart)
    if (sets.length === 0 && adds.length === 0 && meta.length === 0) out.delete(sku)
    else out.set(sku, { sets, adds, meta })
  }
  return out ?? cart
}

/** Which kind of value the key holds now (see {@link ValueKindState}). */
export function valueKind(value: CausalValue): ValueKindState {
  const hasRegister = value.register.length > 0
  const hasCart = value.cart.size > 0
  if (hasRegister && hasCart) return 'mixed'
  if (hasRegister) return 'register'
  return hasCart ? 'cart' : 'tombstone'
}

/** True when the key holds no entry (deleted, or never written): only its context remains. */
export function isTombstone(value: CausalValue): boolean {
  return value.register.length === 0 && value.cart.size === 0
}

/**
 * The dots of every live entry of the key, in canonical order without duplicates: "which dots
 * does this key carry" for gossip hints.
 */
export function valueDots(value: CausalValue): Dot[] {
  const dots: Dot[] = value.register.map((e) => ({ replica: e.replica, counter: e.counter }))
  for (const line of value.cart.values()) {
    for (const store of [line.sets, line.adds, line.meta] as const) {
      for (const e of store) dots.push({ replica: e.replica, counter: e.counter })
    }
  }
  dots.sort(compareDots)
  return dots.filter((dot, i) => i === 0 || compareDots(dots[i - 1] as Dot, dot) !== 0)
}

/** The highest dot per replica the key's context has seen (a short summary for gossip hints). */
export function valueFrontier(value: CausalValue): Dot[] {
  return contextFrontier(value.context)
}

function dotFunEquals<V>(a: DotFun<V>, b: DotFun<V>, eq: (x: V, y: V) => boolean): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as (typeof a)[number]
    const y = b[i] as (typeof b)[number]
    if (x.replica !== y.replica || x.counter !== y.counter || !eq(x.value, y.value)) return false
  }
  return true
}

function siblingEquals(x: Sibling, y: Sibling): boolean {
  return compareTimestamps(x.time, y.time) === 0 && dataEquals(x.value, y.value)
}

function numberEquals(x: number, y: number): boolean {
  return x === y
}

/** True when two states are equal (same context, same entries); equal states encode equally. */
export function valueEquals(a: CausalValue, b: CausalValue): boolean {
  if (a === b) return true
  if (!contextEquals(a.context, b.context)) return false
  if (!dotFunEquals(a.register, b.register, siblingEquals)) return false
  if (a.cart.size !== b.cart.size) return false
  for (const [sku, x] of a.cart) {
    const y = b.cart.get(sku)
    if (y === undefined) return false
    if (!dotFunEquals(x.sets, y.sets, numberEquals)) return false
    if (!dotFunEquals(x.adds, y.adds, numberEquals)) return false
    if (!dotFunEquals(x.meta, y.meta, dataEquals)) return false
  }
  return true
}
