import { type CausalContext, contextHasCounter } from './causal-context.js'
import { compareDots } from './dot.js'
import { invalid } from './guards.js'
import type { Dot } from './types.js'

/**
 * Dot stores and their generic join (Almeida, Shoker, Baquero, *Delta State Replicated Data
 * Types*, §6). A dot store paired with a causal context is a lattice state; the join of
 * `(s, c)` and `(s', c')` keeps an entry when both sides hold it, or when one side holds it and
 * the other side's context has not seen it. An entry the other side has seen but no longer holds
 * was removed there, and stays removed. The context is joined separately ({@link contextJoin}).
 *
 * Every store here is kept sorted by dot in canonical order ({@link compareDots}), so equal
 * stores have equal representations and encode to equal bytes.
 */

/** A set of dots, sorted canonically, without duplicates. */
export type DotSet = readonly Dot[]

/** One entry of a {@link DotFun}: a dot and the value the event with that dot wrote. */
export interface DotEntry<V> extends Dot {
  readonly value: V
}

/** A map `dot -> value`, as an array sorted canonically by dot, without duplicate dots. */
export type DotFun<V> = readonly DotEntry<V>[]

/** A map `key -> dot store`, never holding an empty store. */
export type DotMap<K, S> = ReadonlyMap<K, S>

/** What the generic join needs to know about one kind of dot store. */
export interface DotStoreLattice<S> {
  /** The empty store (bottom). */
  readonly empty: S
  /** True when the store holds no dot. */
  isEmpty(store: S): boolean
  /** The join of `(a, ca)` and `(b, cb)`, store part only. */
  join(a: S, ca: CausalContext, b: S, cb: CausalContext): S
}

const EMPTY: readonly never[] = Object.freeze([])

/**
 * The merge walk shared by {@link joinDotSet} and {@link joinDotFun}: both stores are sorted, so
 * one pass decides every dot. Returns `a` itself when the result equals it (structural sharing).
 */
function joinSorted<E extends Dot>(
  a: readonly E[],
  ca: CausalContext,
  b: readonly E[],
  cb: CausalContext,
  both: (x: E, y: E) => E,
): readonly E[] {
  if (a === b) return a
  const out: E[] = []
  let sameAsA = true
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    const order = x === undefined ? 1 : y === undefined ? -1 : compareDots(x, y)
    if (order === 0) {
      const kept = both(x as E, y as E)
      if (kept !== x) sameAsA = false
      out.push(kept)
      i++
      j++
    } else if (order < 0) {
      const entry = x as E
      if (contextHasCounter(cb, entry.replica, entry.counter)) sameAsA = false
      else out.push(entry)
      i++
    } else {
      const entry = y as E
      if (!contextHasCounter(ca, entry.replica, entry.counter)) {
        out.push(entry)
        sameAsA = false
      }
      j++
    }
  }
  if (sameAsA) return a
  return out.length === 0 ? EMPTY : out
}

function keepFirst<E>(x: E): E {
  return x
}

/** The join of two dot sets with their contexts. */
export function joinDotSet(a: DotSet, ca: CausalContext, b: DotSet, cb: CausalContext): DotSet {
  return joinSorted(a, ca, b, cb, keepFirst)
}

/**
 * The join of two dot functions with their contexts. `joinValue` merges the two values of a dot
 * both sides hold; dots name unique events, so they are normally equal, but the merge must still
 * be deterministic (commutative, associative, idempotent) so that inconsistent input converges.
 */
export function joinDotFun<V>(
  a: DotFun<V>,
  ca: CausalContext,
  b: DotFun<V>,
  cb: CausalContext,
  joinValue: (x: V, y: V) => V,
): DotFun<V> {
  return joinSorted(a, ca, b, cb, (x, y) => {
    if (x.value === y.value) return x
    const value = joinValue(x.value, y.value)
    if (value === x.value) return x
    if (value === y.value) return y
    return { replica: x.replica, counter: x.counter, value }
  })
}

/**
 * The join of two dot maps with their contexts: each key's stores are joined with `inner`
 * (a key present on one side only is joined with the empty store), and keys whose joined store
 * is empty disappear. Returns `a` itself when nothing changed.
 */
export function joinDotMap<K, S>(
  a: DotMap<K, S>,
  ca: CausalContext,
  b: DotMap<K, S>,
  cb: CausalContext,
  inner: DotStoreLattice<S>,
): DotMap<K, S> {
  if (a === b) return a
  const out = new Map<K, S>()
  let sameAsA = true
  for (const [key, x] of a) {
    const y = b.get(key)
    const joined = inner.join(x, ca, y === undefined ? inner.empty : y, cb)
    if (joined !== x) sameAsA = false
    if (!inner.isEmpty(joined)) out.set(key, joined)
  }
  for (const [key, y] of b) {
    if (a.has(key)) continue
    const joined = inner.join(inner.empty, ca, y, cb)
    if (!inner.isEmpty(joined)) {
      out.set(key, joined)
      sameAsA = false
    }
  }
  return sameAsA ? a : out
}

/** The lattice of dot sets. */
export const dotSetLattice: DotStoreLattice<DotSet> = {
  empty: EMPTY,
  isEmpty: (store) => store.length === 0,
  join: joinDotSet,
}

/** The lattice of dot functions whose shared dots merge with `joinValue`. */
export function dotFunLattice<V>(joinValue: (x: V, y: V) => V): DotStoreLattice<DotFun<V>> {
  return {
    empty: EMPTY,
    isEmpty: (store) => store.length === 0,
    join: (a, ca, b, cb) => joinDotFun(a, ca, b, cb, joinValue),
  }
}

/** The lattice of dot maps whose values are stores of the `inner` lattice. */
export function dotMapLattice<K, S>(inner: DotStoreLattice<S>): DotStoreLattice<DotMap<K, S>> {
  const empty: DotMap<K, S> = new Map()
  return {
    empty,
    isEmpty: (store) => store.size === 0,
    join: (a, ca, b, cb) => joinDotMap(a, ca, b, cb, inner),
  }
}

/** The dots of a dot set or dot function, in canonical order. */
export function storeDots(store: readonly Dot[]): Dot[] {
  return store.map((entry) => ({ replica: entry.replica, counter: entry.counter }))
}

/** The entries of a dot set or dot function whose dot `context` has not seen. */
export function storeWithout<E extends Dot>(
  store: readonly E[],
  context: CausalContext,
): readonly E[] {
  let out: E[] | undefined
  for (let i = 0; i < store.length; i++) {
    const entry = store[i] as E
    if (contextHasCounter(context, entry.replica, entry.counter)) {
      out ??= store.slice(0, i)
    } else if (out !== undefined) {
      out.push(entry)
    }
  }
  if (out === undefined) return store
  return out.length === 0 ? EMPTY : out
}

/** `store` plus `entry`, keeping the canonical order (an entry with the same dot is replaced). */
export function storeInsert<E extends Dot>(store: readonly E[], entry: E): readonly E[] {
  let i = store.length
  while (i > 0 && compareDots(store[i - 1] as E, entry) >= 0) i--
  const out = store.slice(0, i)
  const next = store[i]
  out.push(entry)
  const from = next !== undefined && compareDots(next, entry) === 0 ? i + 1 : i
  for (let k = from; k < store.length; k++) out.push(store[k] as E)
  return out
}

/**
 * Builds a dot function from entries in any order (for stores built by hand, e.g. in tests).
 * Throws `INVALID_ARGUMENT` on a duplicate dot.
 */
export function dotFunFrom<V>(entries: Iterable<DotEntry<V>>): DotFun<V> {
  const out = [...entries].sort(compareDots)
  for (let i = 1; i < out.length; i++) {
    if (compareDots(out[i - 1] as Dot, out[i] as Dot) === 0) invalid('duplicate dot in store')
  }
  return out
}
