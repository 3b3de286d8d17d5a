import { decodeSummary } from '@mendsync/core'

/**
 * Estimates the keys a reconciliation will bring, once the session found this side's `differing`
 * keys: the peer holds `|peer \ local| = |peer| - |local| + |local \ peer|` items this side
 * lacks (each key is one item of the set), with `|peer|` from the peer's last gossiped summary
 * and `|local|` the local set the session reconciled. `undefined` without a summary; a stale
 * summary gives a wrong estimate, which the received states correct.
 */
export function keysToReceive(
  peerSummary: Uint8Array | undefined,
  localCount: number,
  differing: number,
): number | undefined {
  if (peerSummary === undefined) return undefined
  return Math.max(0, decodeSummary(peerSummary).count - localCount + differing)
}
