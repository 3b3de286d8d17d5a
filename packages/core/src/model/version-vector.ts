import { assertCounter, assertReplicaId, invalid, isCounter, isReplicaId } from './guards.js'
import type { Dot, ReplicaId, VersionVector } from './types.js'

/**
 * How two causal histories relate: the same (`equal`), the first strictly older (`before`), the
 * first strictly newer (`after`), or neither contains the other (`concurrent`).
 */
export type Causality = 'equal' | 'before' | 'after' | 'concurrent'

/**
 * Builds a version vector from `[replica, counter]` entries or a record. Counters must be
 * non-negative safe integers; zero entries are dropped (absent means 0); a replica listed twice
 * keeps its larger counter. Throws `INVALID_ARGUMENT` on anything else.
 */
export function createVersionVector(
  entries: Iterable<readonly [ReplicaId, number]> | Readonly<Record<ReplicaId, number>> = [],
): VersionVector {
  const pairs: Iterable<readonly [ReplicaId, number]> =
    Symbol.iterator in entries
      ? (entries as Iterable<readonly [ReplicaId, number]>)
      : Object.entries(entries as Record<ReplicaId, number>)
  const out = new Map<ReplicaId, number>()
  for (const [replica, counter] of pairs) {
    assertReplicaId(replica)
    if (counter === 0) continue
    assertCounter(counter, `counter of ${replica}`)
    if (counter > (out.get(replica) ?? 0)) out.set(replica, counter)
  }
  return out
}

/** True when `value` is a well-formed version vector (a Map of replica id -> positive counter). */
export function isVersionVector(value: unknown): value is VersionVector {
  if (!(value instanceof Map)) return false
  for (const [replica, counter] of value) {
    if (!isReplicaId(replica) || !isCounter(counter)) return false
  }
  return true
}

/** The counter of `replica` in `vv` (0 when absent). */
export function versionVectorGet(vv: VersionVector, replica: ReplicaId): number {
  return vv.get(replica) ?? 0
}

/** True when `vv` covers `dot` (`dot.counter <= vv[dot.replica]`). */
export function versionVectorIncludes(vv: VersionVector, dot: Dot): boolean {
  return dot.counter <= (vv.get(dot.replica) ?? 0)
}

/** A copy of `vv` whose entry for `replica` is at least `counter` (default: one more than now). */
export function advanceVersionVector(
  vv: VersionVector,
  replica: ReplicaId,
  counter = (vv.get(replica) ?? 0) + 1,
): VersionVector {
  assertReplicaId(replica)
  assertCounter(counter)
  if (counter <= (vv.get(replica) ?? 0)) return vv
  const out = new Map(vv)
  out.set(replica, counter)
  return out
}

/** Compares two version vectors entry by entry (see {@link Causality}). */
export function compareVersionVectors(a: VersionVector, b: VersionVector): Causality {
  let aAhead = false
  let bAhead = false
  for (const [replica, counter] of a) {
    const other = b.get(replica) ?? 0
    if (counter > other) aAhead = true
    else if (counter < other) bAhead = true
  }
  for (const [replica, counter] of b) {
    if (counter > (a.get(replica) ?? 0)) bAhead = true
  }
  if (aAhead) return bAhead ? 'concurrent' : 'after'
  return bAhead ? 'before' : 'equal'
}

/** True when both vectors hold the same counters. */
export function versionVectorEquals(a: VersionVector, b: VersionVector): boolean {
  return compareVersionVectors(a, b) === 'equal'
}

/** The pointwise maximum of two version vectors (their join). */
export function mergeVersionVectors(a: VersionVector, b: VersionVector): VersionVector {
  if (a === b || b.size === 0) return a
  if (a.size === 0) return b
  let out: Map<ReplicaId, number> | undefined
  for (const [replica, counter] of b) {
    if (counter > (a.get(replica) ?? 0)) {
      out ??= new Map(a)
      out.set(replica, counter)
    }
  }
  return out ?? a
}

/**
 * What changed from one version vector to the next, to ship instead of the whole vector:
 * `changed` holds the entries of `next` that differ from `previous`, `removed` the replicas
 * `next` no longer lists (a pruned replica). See {@link diffVersionVectors}.
 */
export interface VersionVectorDelta {
  readonly changed: VersionVector
  readonly removed: readonly ReplicaId[]
}

/** The delta that turns `previous` into `next` (entries sorted; empty when they are equal). */
export function diffVersionVectors(
  previous: VersionVector,
  next: VersionVector,
): VersionVectorDelta {
  const changed = new Map<ReplicaId, number>()
  for (const replica of [...next.keys()].sort()) {
    const counter = next.get(replica) as number
    if (previous.get(replica) !== counter) changed.set(replica, counter)
  }
  const removed = [...previous.keys()].filter((replica) => !next.has(replica)).sort()
  return { changed, removed }
}

/**
 * Applies a delta from {@link diffVersionVectors} to the vector it was computed against:
 * `applyVersionVectorDelta(p, diffVersionVectors(p, n))` equals `n`. Throws `INVALID_ARGUMENT`
 * when the delta is malformed.
 */
export function applyVersionVectorDelta(
  previous: VersionVector,
  delta: VersionVectorDelta,
): VersionVector {
  const out = new Map(previous)
  for (const replica of delta.removed) {
    assertReplicaId(replica)
    out.delete(replica)
  }
  for (const [replica, counter] of delta.changed) {
    assertReplicaId(replica)
    if (!isCounter(counter)) invalid(`counter of ${replica} must be a positive safe integer`)
    out.set(replica, counter)
  }
  return out
}
