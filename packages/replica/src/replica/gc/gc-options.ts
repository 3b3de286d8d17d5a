import { MendsyncError } from '@mendsync/core'

/** Default `gc.enabled`: collect tombstones once it is safe. */
export const GC_ENABLED = true
/** Default `gc.horizonMs`: 14 days. Replicas not heard for longer retire; away longer, they rejoin. */
export const GC_HORIZON_MS = 14 * 24 * 60 * 60 * 1000
/** Default `gc.graceMs`: 10 min, for pushes and gossip in flight to land before a tombstone is queued. */
export const GC_GRACE_MS = 10 * 60 * 1000
/** Default `gc.intervalMs`: how often a collection pass runs, 5 min. */
export const GC_INTERVAL_MS = 5 * 60 * 1000
/** Tombstones just collected whose first sighting is remembered, should a peer send one back. */
export const MAX_COLLECTED_MEMORY = 100_000
/** Replicas whose last gossip is remembered; past it collection pauses (forgetting one is unsafe). */
export const MAX_MEMBERS = 4096

/**
 * Tombstone collection (docs/DESIGN.md, "Metadata that does not grow forever"). Every field has
 * a default above; `openReplica({ gc: { horizonMs } })` overrides one.
 */
export interface GcOptions {
  /** Collect tombstones, retire replicas and stale handoff cursors. Default {@link GC_ENABLED}. */
  readonly enabled: boolean
  /**
   * The horizon, ms: a replica not heard from for longer is no longer waited for (it retires),
   * and a replica that agreed with no peer for longer rejoins by the rejoin rule. Pick it longer
   * than any replica is expected to stay offline and still be trusted with its copies. Clocks of
   * the replicas may disagree by up to a sixteenth of it. Default {@link GC_HORIZON_MS}.
   */
  readonly horizonMs: number
  /** How old a tombstone must be before it is queued for collection, ms. Default {@link GC_GRACE_MS}. */
  readonly graceMs: number
  /** Period of the collection pass, ms. Default {@link GC_INTERVAL_MS}. */
  readonly intervalMs: number
}

/** The defaults of {@link GcOptions}. */
export const DEFAULT_GC_OPTIONS: GcOptions = Object.freeze({
  enabled: GC_ENABLED,
  horizonMs: GC_HORIZON_MS,
  graceMs: GC_GRACE_MS,
  intervalMs: GC_INTERVAL_MS,
})

/** The given options over the defaults; `INVALID_ARGUMENT` names the first that is wrong. */
export function resolveGcOptions(options: Partial<GcOptions> | undefined): GcOptions {
  const out: GcOptions = { ...DEFAULT_GC_OPTIONS, ...options }
  if (typeof out.enabled !== 'boolean') throw invalid('option gc.enabled must be a boolean')
  for (const name of ['horizonMs', 'graceMs', 'intervalMs'] as const) {
    const value = out[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalid(`option gc.${name} must be a positive number, got ${String(value)}`)
    }
  }
  if (out.graceMs >= out.horizonMs) {
    throw invalid('option gc.graceMs must be shorter than gc.horizonMs')
  }
  return out
}

function invalid(message: string): MendsyncError {
  return new MendsyncError('INVALID_ARGUMENT', message)
}
