import type { ConflictPolicy } from '@mendsync/core'
import type { Durability } from '../storage/types.js'
import * as defaults from './constants.defaults.js'

/** How a read repairs divergence it knows of (see the README, "Read repair"). */
export type RepairMode = 'sync' | 'async' | 'none'

/**
 * Which connected peers a repairing read asks: `'ahead'` the peers gossip says hold newer or
 * concurrent state for the key; `'one'` one of those (or any peer when none is known);
 * `'quorum'` a majority of the connected peers; `'all'` every connected peer; a number: that
 * many connected peers, those known to be ahead first.
 */
export type PeerSelection = 'ahead' | 'one' | 'quorum' | 'all' | number

/** Options of a read. Each defaults to the replica's option of the same name. */
export interface ReadOptions {
  readonly repair?: RepairMode
  readonly peers?: PeerSelection
  readonly timeoutMs?: number
  /**
   * Encrypted spaces only: throw instead of leaving out entries that did not open,
   * `SEALED_TAMPERED` when any failed authentication, `ACCESS_DENIED` when the only ones left
   * out were sealed with an epoch this device lacks. Default false: such entries are left out
   * (and listed in `ReadResult.quarantined`).
   */
  readonly intact?: boolean
}

/**
 * Tunables of a replica; every one has a default in {@link DEFAULT_REPLICA_OPTIONS}, named in
 * `constants.defaults.ts`.
 */
export interface ReplicaTunables {
  /** Repair mode of reads that do not say. Default {@link defaults.REPAIR}: a read never waits. */
  readonly repair: RepairMode
  /** Peers a repairing read asks. Default {@link defaults.PEERS}. */
  readonly peers: PeerSelection
  /** How long a `'sync'` read waits for peers before returning what it has (ms). Default {@link defaults.TIMEOUT_MS}. */
  readonly timeoutMs: number
  /**
   * Probability in [0, 1] that a read without any divergence hint still checks one peer in the
   * background (catches divergence gossip missed). Default {@link defaults.REPAIR_CHANCE}.
   */
  readonly repairChance: number
  /**
   * Repair requests in flight to one peer at once; more wait in a bounded queue. Default
   * {@link defaults.MAX_CONCURRENT_REPAIRS_PER_PEER}.
   */
  readonly maxConcurrentRepairsPerPeer: number
  /**
   * Repair requests per second to one peer (token bucket, burst = this many). Default
   * {@link defaults.REPAIR_RATE_PER_SECOND}.
   */
  readonly repairRatePerSecond: number
  /** Consecutive failures after which a peer's circuit breaker opens. Default {@link defaults.BREAKER_FAILURE_THRESHOLD}. */
  readonly breakerFailureThreshold: number
  /** How long an open breaker stays open before one trial request (half-open), ms. Default {@link defaults.BREAKER_RESET_MS}. */
  readonly breakerResetMs: number
  /**
   * First retry delay of a failed handoff or repair request, ms; doubles per attempt. Default
   * {@link defaults.RETRY_BASE_MS}.
   */
  readonly retryBaseMs: number
  /**
   * Attempts of a handoff, or of a repair request that failed transiently (connection dropped,
   * peer's handler failed), before it is given up. A repair retries only while it can still finish
   * within the read's `timeoutMs`; after that the divergence hint stays, so the next read of the
   * key repairs again, and anti-entropy covers the rest. A handoff is left to the next trigger.
   * Default {@link defaults.RETRY_ATTEMPTS}.
   */
  readonly retryAttempts: number
  /** Period of anti-entropy (summary check, reconcile when it differs), ms. Default {@link defaults.ANTI_ENTROPY_INTERVAL_MS}. */
  readonly antiEntropyIntervalMs: number
  /**
   * How long a summary mismatch seen in gossip must last before it starts a reconciliation with
   * that peer, ms. Right after a write the summaries differ until handoff delivers it, which takes
   * milliseconds; reconciling at once would start a session per write. Default
   * {@link defaults.RECONCILE_DELAY_MS}.
   */
  readonly reconcileDelayMs: number
  /**
   * Push changes to peers (hinted handoff). Off: peers receive this replica's changes only by
   * pulling them (read repair) and by reconciliation — a pull-only replica. Default
   * {@link defaults.HANDOFF}.
   */
  readonly handoff: boolean
  /** Period of gossip when nothing changed (a write gossips at once), ms. Default {@link defaults.GOSSIP_INTERVAL_MS}. */
  readonly gossipIntervalMs: number
  /** Keys queued for one absent peer (hinted handoff) before overflow. Default {@link defaults.OUTBOX_MAX_KEYS}. */
  readonly outboxMaxKeys: number
  /** Age after which a queued key is dropped in favour of reconciliation, ms. Default {@link defaults.OUTBOX_MAX_AGE_MS} (24 h). */
  readonly outboxMaxAgeMs: number
  /**
   * Decoded key states kept in memory for reads (most recently used first); 0 turns the cache
   * off. Default {@link defaults.CACHE_MAX_KEYS}.
   */
  readonly cacheMaxKeys: number
  /** How concurrent register siblings read back. Default {@link defaults.CONFLICTS} (no arbitration). */
  readonly conflicts: ConflictPolicy
  /**
   * How durably a state joined by read repair is stored before the read returns. `'relaxed'`:
   * handed to the OS, no fsync (a crash of the process keeps it; a power failure may lose it,
   * and then the next read repairs it again from the peer that sent it, which stores it
   * durably). `'strict'`: fsynced like a local write. Local writes are always strict.
   * Default {@link defaults.REPAIR_DURABILITY}.
   */
  readonly repairDurability: Durability
}

/** The defaults of {@link ReplicaTunables}, from `constants.defaults.ts`. */
export const DEFAULT_REPLICA_OPTIONS: ReplicaTunables = Object.freeze({
  repair: defaults.REPAIR,
  peers: defaults.PEERS,
  timeoutMs: defaults.TIMEOUT_MS,
  repairChance: defaults.REPAIR_CHANCE,
  maxConcurrentRepairsPerPeer: defaults.MAX_CONCURRENT_REPAIRS_PER_PEER,
  repairRatePerSecond: defaults.REPAIR_RATE_PER_SECOND,
  breakerFailureThreshold: defaults.BREAKER_FAILURE_THRESHOLD,
  breakerResetMs: defaults.BREAKER_RESET_MS,
  retryBaseMs: defaults.RETRY_BASE_MS,
  retryAttempts: defaults.RETRY_ATTEMPTS,
  antiEntropyIntervalMs: defaults.ANTI_ENTROPY_INTERVAL_MS,
  reconcileDelayMs: defaults.RECONCILE_DELAY_MS,
  handoff: defaults.HANDOFF,
  gossipIntervalMs: defaults.GOSSIP_INTERVAL_MS,
  outboxMaxKeys: defaults.OUTBOX_MAX_KEYS,
  outboxMaxAgeMs: defaults.OUTBOX_MAX_AGE_MS,
  cacheMaxKeys: defaults.CACHE_MAX_KEYS,
  conflicts: defaults.CONFLICTS,
  repairDurability: defaults.REPAIR_DURABILITY,
})
