import { compareDots } from './dot.js'
import { assertCounter, assertReplicaId, isCounter, isReplicaId } from './guards.js'
import type { Dot, ReplicaId, VersionVector } from './types.js'
import type { Causality } from './version-vector.js'

/**
 * The set of dots a replica has seen for one key: every dot it holds plus every dot it knows was
 * deleted. It is what lets a join tell "never seen" (keep the other side's entry) from "seen and
 * removed" (drop it), so removes need no tombstones.
 *
 * Always compact: `versionVector` holds the contiguous prefix `replica:1..n` of each replica and
 * `cloud` the few dots beyond it, sorted ascending, each at least two above the prefix (a dot
 * that extends the prefix is folded into it). Equal sets of dots have equal representations.
 * Treat it as immutable; every function returns a new context (or the same one when unchanged).
 */
export interface CausalContext {
  /** `replica -> n`: every dot `replica:1..n` has been seen. */
  readonly versionVector: VersionVector
  /** Seen dots above the compact prefix, per replica, strictly ascending, never empty lists. */
  readonly cloud: ReadonlyMap<ReplicaId, readonly number[]>
}

const EMPTY_CLOUD: ReadonlyMap<ReplicaId, readonly number[]> = new Map()

/** The context that has seen nothing. */
export function emptyContext(): CausalContext {
  return { versionVector: new Map(), cloud: EMPTY_CLOUD }
}

/** True when the context has seen no dot. */
export function isEmptyContext(context: CausalContext): boolean {
  return context.versionVector.size === 0 && context.cloud.size === 0
}

/** The context that has seen exactly the dots `replica:1..vv[replica]`. */
export function contextFromVersionVector(vv: VersionVector): CausalContext {
  const out = new Map<ReplicaId, number>()
  for (const [replica, counter] of vv) {
    assertReplicaId(replica)
    if (counter === 0) continue
    assertCounter(counter)
    out.set(replica, counter)
  }
  return { versionVector: out, cloud: EMPTY_CLOUD }
}

/** The (compacted) context that has seen exactly `dots`. */
export function contextFromDots(dots: Iterable<Dot>): CausalContext {
  const byReplica = new Map<ReplicaId, number[]>()
  for (const dot of dots) {
    assertReplicaId(dot.replica)
    assertCounter(dot.counter)
    const list = byReplica.get(dot.replica)
    if (list === undefined) byReplica.set(dot.replica, [dot.counter])
    else list.push(dot.counter)
  }
  const vv = new Map<ReplicaId, number>()
  const cloud = new Map<ReplicaId, readonly number[]>()
  for (const [replica, counters] of byReplica) {
    counters.sort((x, y) => x - y)
    compactInto(replica, 0, counters, vv, cloud)
  }
  return { versionVector: vv, cloud: cloud.size === 0 ? EMPTY_CLOUD : cloud }
}

/**
 * Folds the sorted `counters` (duplicates allowed) into the compact prefix `base` of `replica`,
 * writing the resulting prefix into `vv` and the remaining counters into `cloud`.
 */
function compactInto(
  replica: ReplicaId,
  base: number,
  counters: readonly number[],
  vv: Map<ReplicaId, number>,
  cloud: Map<ReplicaId, readonly number[]>,
): void {
  let n = base
  let i = 0
  while (i < counters.length) {
    const c = counters[i] as number
    if (c <= n) i++
    else if (c === n + 1) {
      n = c
      i++
    } else break
  }
  if (n > 0) vv.set(replica, n)
  else vv.delete(replica)
  if (i < counters.length) {
    const rest: number[] = []
    let last = n
    for (; i < counters.length; i++) {
      const c = counters[i] as number
      if (c > last) {
        rest.push(c)
        last = c
      }
    }
    cloud.set(replica, rest)
  } else {
    cloud.delete(replica)
  }
}

/** True when `counters` (sorted ascending) contains `value`. */
function sortedIncludes(counters: readonly number[], value: number): boolean {
  let lo = 0
  let hi = counters.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const c = counters[mid] as number
    if (c === value) return true
    if (c < value) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

/** True when the context has seen dot `replica:counter` (the allocation-free form of {@link contextHas}). */
export function contextHasCounter(
  context: CausalContext,
  replica: ReplicaId,
  counter: number,
): boolean {
  if (counter <= (context.versionVector.get(replica) ?? 0)) return true
  const extra = context.cloud.get(replica)
  return extra !== undefined && sortedIncludes(extra, counter)
}

/** True when the context has seen `dot`. */
export function contextHas(context: CausalContext, dot: Dot): boolean {
  return contextHasCounter(context, dot.replica, dot.counter)
}

/**
 * True when the context has seen every one of `dots`: "has my causal context seen these dots"
 * for a gossip hint listing the dots a peer's key carries.
 */
export function contextHasAll(context: CausalContext, dots: Iterable<Dot>): boolean {
  for (const dot of dots) if (!contextHas(context, dot)) return false
  return true
}

/** The dots among `dots` the context has not seen, in canonical order without duplicates. */
export function contextMissing(context: CausalContext, dots: Iterable<Dot>): Dot[] {
  const out: Dot[] = []
  for (const dot of dots) if (!contextHas(context, dot)) out.push(dot)
  out.sort(compareDots)
  return out.filter((dot, i) => i === 0 || compareDots(out[i - 1] as Dot, dot) !== 0)
}

/**
 * True when, for every listed dot `r:n`, the context has seen *all* of `r:1..n` (not only `r:n`).
 * With a peer's {@link contextFrontier} as `dots`, `true` means the peer has seen nothing from
 * those replicas that this context lacks: the cheap "is that peer ahead of me for this key" test.
 */
export function contextSeenUpTo(context: CausalContext, dots: Iterable<Dot>): boolean {
  for (const dot of dots) {
    if (dot.counter > (context.versionVector.get(dot.replica) ?? 0)) return false
  }
  return true
}

/** The highest counter of `replica` the context has seen (0 when none). */
export function contextMax(context: CausalContext, replica: ReplicaId): number {
  const extra = context.cloud.get(replica)
  if (extra !== undefined && extra.length > 0) return extra[extra.length - 1] as number
  return context.versionVector.get(replica) ?? 0
}

/**
 * The dot `replica` must use for its next event on this key: one above the highest counter of
 * `replica` the context has seen. Counters are per key (as in Riak's dvvset), so a replica's dots
 * on one key stay contiguous and the context stays compact.
 */
export function contextNextDot(context: CausalContext, replica: ReplicaId): Dot {
  assertReplicaId(replica)
  return { replica, counter: contextMax(context, replica) + 1 }
}

/** The context plus `dot`, compacted. */
export function contextAdd(context: CausalContext, dot: Dot): CausalContext {
  const { replica, counter } = dot
  if (contextHasCounter(context, replica, counter)) return context
  assertReplicaId(replica)
  assertCounter(counter)
  const vv = new Map(context.versionVector)
  const cloud = new Map(context.cloud)
  const base = vv.get(replica) ?? 0
  const extra = cloud.get(replica) ?? []
  const merged = insertSorted(extra, counter)
  compactInto(replica, base, merged, vv, cloud)
  return { versionVector: vv, cloud: cloud.size === 0 ? EMPTY_CLOUD : cloud }
}

function insertSorted(counters: readonly number[], value: number): number[] {
  let i = counters.length
  while (i > 0 && (counters[i - 1] as number) > value) i--
  const out = counters.slice(0, i)
  out.push(value)
  for (let j = i; j < counters.length; j++) out.push(counters[j] as number)
  return out
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a[i] as number
    const y = b[j] as number
    if (x < y) {
      out.push(x)
      i++
    } else if (y < x) {
      out.push(y)
      j++
    } else {
      out.push(x)
      i++
      j++
    }
  }
  while (i < a.length) out.push(a[i++] as number)
  while (j < b.length) out.push(b[j++] as number)
  return out
}

/** The union of two contexts (their join), compacted. */
export function contextJoin(a: CausalContext, b: CausalContext): CausalContext {
  if (a === b || isEmptyContext(b)) return a
  if (isEmptyContext(a)) return b
  let vv: Map<ReplicaId, number> | undefined
  for (const [replica, counter] of b.versionVector) {
    if (counter > (a.versionVector.get(replica) ?? 0)) {
      vv ??= new Map(a.versionVector)
      vv.set(replica, counter)
    }
  }
  if (a.cloud.size === 0 && b.cloud.size === 0) {
    return vv === undefined ? a : { versionVector: vv, cloud: EMPTY_CLOUD }
  }
  const outVv = vv ?? new Map(a.versionVector)
  const cloud = new Map<ReplicaId, readonly number[]>()
  const replicas = new Set([...a.cloud.keys(), ...b.cloud.keys()])
  for (const replica of replicas) {
    const x = a.cloud.get(replica)
    const y = b.cloud.get(replica)
    const merged =
      x === undefined ? (y as readonly number[]) : y === undefined ? x : mergeSorted(x, y)
    compactInto(replica, outVv.get(replica) ?? 0, merged, outVv, cloud)
  }
  return { versionVector: outVv, cloud: cloud.size === 0 ? EMPTY_CLOUD : cloud }
}

/** True when `a` has seen every dot `b` has seen (`a ⊇ b`). */
export function contextIncludes(a: CausalContext, b: CausalContext): boolean {
  if (a === b) return true
  for (const [replica, counter] of b.versionVector) {
    // `a` is compact: its cloud never continues its prefix, so 1..counter ⊆ a iff the prefix does.
    if (counter > (a.versionVector.get(replica) ?? 0)) return false
  }
  for (const [replica, counters] of b.cloud) {
    for (const counter of counters) if (!contextHasCounter(a, replica, counter)) return false
  }
  return true
}

/** How two contexts relate as sets of dots (see {@link Causality}). */
export function compareContexts(a: CausalContext, b: CausalContext): Causality {
  const aSeesB = contextIncludes(a, b)
  const bSeesA = contextIncludes(b, a)
  if (aSeesB) return bSeesA ? 'equal' : 'after'
  return bSeesA ? 'before' : 'concurrent'
}

/** True when both contexts hold the same dots. */
export function contextEquals(a: CausalContext, b: CausalContext): boolean {
  if (a === b) return true
  if (a.versionVector.size !== b.versionVector.size || a.cloud.size !== b.cloud.size) return false
  for (const [replica, counter] of a.versionVector) {
    if (b.versionVector.get(replica) !== counter) return false
  }
  for (const [replica, counters] of a.cloud) {
    const other = b.cloud.get(replica)
    if (other === undefined || other.length !== counters.length) return false
    for (let i = 0; i < counters.length; i++) if (other[i] !== counters[i]) return false
  }
  return true
}

/**
 * The highest dot of each replica the context has seen, in canonical order: a short summary of
 * the context for gossip hints (see {@link contextSeenUpTo}).
 */
export function contextFrontier(context: CausalContext): Dot[] {
  const replicas = new Set([...context.versionVector.keys(), ...context.cloud.keys()])
  return [...replicas].sort().map((replica) => ({ replica, counter: contextMax(context, replica) }))
}

/** Number of dots kept individually in the cloud (0 for a fully compact context). */
export function contextCloudSize(context: CausalContext): number {
  let n = 0
  for (const counters of context.cloud.values()) n += counters.length
  return n
}

/**
 * True when `value` is a well-formed, compact {@link CausalContext} (the invariants every
 * function here maintains and {@link decodeValue} checks).
 */
export function isCausalContext(value: unknown): value is CausalContext {
  if (typeof value !== 'object' || value === null) return false
  const { versionVector, cloud } = value as { versionVector?: unknown; cloud?: unknown }
  if (!(versionVector instanceof Map) || !(cloud instanceof Map)) return false
  for (const [replica, counter] of versionVector) {
    if (!isReplicaId(replica) || !isCounter(counter)) return false
  }
  for (const [replica, counters] of cloud) {
    if (!isReplicaId(replica) || !Array.isArray(counters) || counters.length === 0) return false
    let last = (versionVector.get(replica) ?? 0) + 1
    for (const counter of counters) {
      if (!isCounter(counter) || counter <= last) return false
      last = counter
    }
  }
  return true
}
