import { type CausalContext, contextFromDots, contextHasCounter } from './causal-context.js'
import type { CartLineStore, CartStore, CausalValue } from './causal-value.js'
import type { DotFun } from './dot-store.js'
import type { Dot, ReplicaId } from './types.js'

/**
 * The rejoin rule of tombstone collection, as pure functions (the reasoning is in
 * docs/DESIGN.md, "Metadata that does not grow forever").
 *
 * A replica that was away from its space for longer than the collection horizon may hold copies
 * of entries that every other replica deleted and then forgot (collected). It must deliver what
 * it wrote while away, and must not bring those copies back. {@link rejoinPart} keeps exactly
 * the first: the *away* entries (chosen by the caller, normally this replica's own dots above
 * the counter it had before it went away), with the context minus the dots of every other entry
 * it holds. Joined with a peer's state, the result keeps the peer's entries unless this replica
 * deleted them (their dots stay in the context), adds the away entries, and brings back no
 * entry the peer does not hold.
 */

/** The context without `dots` (dots it has not seen are ignored), compacted. */
export function contextWithout(context: CausalContext, dots: Iterable<Dot>): CausalContext {
  const removed = new Map<ReplicaId, Set<number>>()
  for (const dot of dots) {
    if (!contextHasCounter(context, dot.replica, dot.counter)) continue
    const set = removed.get(dot.replica) ?? new Set<number>()
    set.add(dot.counter)
    removed.set(dot.replica, set)
  }
  if (removed.size === 0) return context
  const versionVector = new Map(context.versionVector)
  const cloud = new Map(context.cloud)
  for (const [replica, gone] of removed) {
    const kept: Dot[] = []
    const prefix = context.versionVector.get(replica) ?? 0
    for (let counter = 1; counter <= prefix; counter++) {
      if (!gone.has(counter)) kept.push({ replica, counter })
    }
    for (const counter of context.cloud.get(replica) ?? []) {
      if (!gone.has(counter)) kept.push({ replica, counter })
    }
    // Only the touched replicas are rebuilt; contextFromDots compacts their remaining dots.
    const rebuilt = contextFromDots(kept)
    const n = rebuilt.versionVector.get(replica)
    if (n === undefined) versionVector.delete(replica)
    else versionVector.set(replica, n)
    const extra = rebuilt.cloud.get(replica)
    if (extra === undefined) cloud.delete(replica)
    else cloud.set(replica, extra)
  }
  return { versionVector, cloud }
}

function split<V>(store: DotFun<V>, isAway: (dot: Dot) => boolean, stale: Dot[]): DotFun<V> {
  const out = store.filter((entry) => {
    if (isAway(entry)) return true
    stale.push({ replica: entry.replica, counter: entry.counter })
    return false
  })
  return out.length === store.length ? store : out
}

/**
 * What a rejoining replica may offer for one key: the entries `isAway` selects, and the context
 * without the dots of the entries it drops (the *stale* ones). Returns the value itself when
 * every entry is away. The result is a valid state: every kept entry's dot is in its context.
 */
export function rejoinPart(value: CausalValue, isAway: (dot: Dot) => boolean): CausalValue {
  const stale: Dot[] = []
  const register = split(value.register, isAway, stale)
  let cart: CartStore = value.cart
  if (cart.size > 0) {
    const lines = new Map<string, CartLineStore>()
    for (const [sku, line] of value.cart) {
      const sets = split(line.sets, isAway, stale)
      const adds = split(line.adds, isAway, stale)
      const meta = split(line.meta, isAway, stale)
      if (sets.length > 0 || adds.length > 0 || meta.length > 0) {
        lines.set(sku, { sets, adds, meta })
      }
    }
    cart = lines
  }
  if (stale.length === 0) return value
  return { context: contextWithout(value.context, stale), register, cart }
}
