import { MendsyncError } from '@mendsync/core'
import { DEFAULT_REPLICA_OPTIONS, type ReplicaTunables } from './options.js'
import type { ReplicaOptions } from './types.js'

/** Tunables that must be positive finite numbers. */
const POSITIVE_NUMBERS = [
  'timeoutMs',
  'maxConcurrentRepairsPerPeer',
  'repairRatePerSecond',
  'breakerFailureThreshold',
  'breakerResetMs',
  'retryBaseMs',
  'retryAttempts',
  'antiEntropyIntervalMs',
  'reconcileDelayMs',
  'gossipIntervalMs',
  'outboxMaxKeys',
  'outboxMaxAgeMs',
] as const satisfies readonly (keyof ReplicaTunables)[]

function invalid(message: string): MendsyncError {
  return new MendsyncError('INVALID_ARGUMENT', message)
}

/**
 * Checks the options of `openReplica` and returns its tunables (the given ones over
 * {@link DEFAULT_REPLICA_OPTIONS}); `INVALID_ARGUMENT` names the first option that is wrong.
 */
export function resolveReplicaOptions(options: ReplicaOptions): ReplicaTunables {
  if (typeof options?.space !== 'string' || options.space.length === 0) {
    throw invalid('openReplica needs a non-empty space name')
  }
  if (options.storage === undefined) throw invalid('openReplica needs a storage')
  const overrides = Object.fromEntries(
    Object.keys(DEFAULT_REPLICA_OPTIONS).flatMap((name) => {
      const value = options[name as keyof ReplicaTunables]
      return value === undefined ? [] : [[name, value]]
    }),
  )
  const tunables: ReplicaTunables = { ...DEFAULT_REPLICA_OPTIONS, ...overrides }
  validateTunables(tunables)
  return tunables
}

function validateTunables(options: ReplicaTunables): void {
  for (const name of POSITIVE_NUMBERS) {
    const value = options[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalid(`option ${name} must be a positive number, got ${String(value)}`)
    }
  }
  if (typeof options.handoff !== 'boolean') throw invalid('option handoff must be a boolean')
  if (!(Number.isInteger(options.cacheMaxKeys) && options.cacheMaxKeys >= 0)) {
    throw invalid('option cacheMaxKeys must be a non-negative integer')
  }
  if (!(options.repairChance >= 0 && options.repairChance <= 1)) {
    throw invalid('option repairChance must be within [0, 1]')
  }
  if (!['strict', 'relaxed'].includes(options.repairDurability)) {
    throw invalid(`option repairDurability must be 'strict' or 'relaxed'`)
  }
  if (!['sync', 'async', 'none'].includes(options.repair)) {
    throw invalid(`option repair must be 'sync', 'async' or 'none'`)
  }
  const peers = options.peers
  if (
    typeof peers === 'number'
      ? !(Number.isInteger(peers) && peers > 0)
      : !['ahead', 'one', 'quorum', 'all'].includes(peers)
  ) {
    throw invalid(`option peers must be 'ahead', 'one', 'quorum', 'all' or a positive integer`)
  }
}
