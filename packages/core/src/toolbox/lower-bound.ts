// Binary searches over ascending arrays of strings or numbers. Plain `<` comparisons, no
// comparator callback: the reconciliation tree calls these on its hot path.

/** The index of the first element not less than `value` (`sorted.length` when all are less). */
export function lowerBound<T extends string | number | bigint>(
  sorted: readonly T[],
  value: T,
): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((sorted[mid] as T) < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The index of the first element greater than `value` (`sorted.length` when none is). */
export function upperBound<T extends string | number | bigint>(
  sorted: readonly T[],
  value: T,
): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((sorted[mid] as T) <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}
