import { assertCounter, assertReplicaId, isCounter, isReplicaId } from './guards.js'
import type { Dot, ReplicaId } from './types.js'

/** Builds a dot, checking that `replica` is a replica id and `counter` a positive safe integer. */
export function createDot(replica: ReplicaId, counter: number): Dot {
  assertReplicaId(replica)
  assertCounter(counter)
  return { replica, counter }
}

/** True when `value` is a well-formed {@link Dot}. */
export function isDot(value: unknown): value is Dot {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { replica?: unknown; counter?: unknown }
  return isReplicaId(candidate.replica) && isCounter(candidate.counter)
}

/** Orders replica ids by UTF-16 code units (JavaScript's `<`): the canonical order everywhere. */
export function compareReplicaIds(a: ReplicaId, b: ReplicaId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The canonical order of dots: by replica id, then by counter. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.replica !== b.replica) return a.replica < b.replica ? -1 : 1
  return a.counter - b.counter
}

/** True when both dots name the same event. */
export function dotEquals(a: Dot, b: Dot): boolean {
  return a.replica === b.replica && a.counter === b.counter
}

/** Dots in canonical order without duplicates (a new array; the input is untouched). */
export function sortDots(dots: Iterable<Dot>): Dot[] {
  const sorted = [...dots].sort(compareDots)
  const out: Dot[] = []
  for (const dot of sorted) {
    const last = out[out.length - 1]
    if (last === undefined || !dotEquals(last, dot))
      out.push({ replica: dot.replica, counter: dot.counter })
  }
  return out
}

/** A readable form of a dot, `replica:counter`, for logs and messages. */
export function formatDot(dot: Dot): string {
  return `${dot.replica}:${dot.counter}`
}
