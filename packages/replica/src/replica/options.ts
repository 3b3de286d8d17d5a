import type { ConflictPolicy } from '@mendsync/core'
import type { Durability } from '../storage/types.js'

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
}

/** Tunables of a replica; every one has a documented default ({@link DEFAULT_REPLICA_OPTIONS}). */
export interface ReplicaTunables {
  /** Repair mode of reads that do not say. Default `'async'`: a read never waits for the network. */
  readonly repair: RepairMode
  /** Peers a repairing read asks. Default `'ahead'`. */
  readonly peers: PeerSelection
  /** How long a `'sync'` read waits for peers before returning what it has. Default 1000 ms. */
  readonly timeoutMs: number
  /**
   * Probability in [0, 1] that a read without any divergence hint still checks one peer in the
   * background (catches divergence gossip missed). Default 0.
   */
  readonly repairChance: number
  /** Repair requests in flight to one peer at once; more wait in a bounded queue. Default 4. */
  readonly maxConcurrentRepairsPerPeer: number
  /** Repair requests per second to one peer (token bucket, burst = this many). Default 50. */
  readonly repairRatePerSecond: number
  /** Consecutive failures after which a peer's circuit breaker opens. Default 5. */
  readonly breakerFailureThreshold: number
  /** How long an open breaker stays open before one trial request (half-open). Default 10 s. */
  readonly breakerResetMs: number
  /**
   * First retry delay of a failed handoff or repair request; doubles per attempt. Default 100 ms.
   */
  readonly retryBaseMs: number
  /**
   * Attempts of a handoff, or of a repair request that failed transiently (connection dropped,
   * peer's handler failed), before it is given up. A repair retries only while it can still finish
   * within the read's `timeoutMs`; after that the divergence hint stays, so the next read of the
   * key repairs again, and anti-entropy covers the rest. A handoff is left to the next trigger.
   * Default 3.
   */
  readonly retryAttempts: number
  /** Period of anti-entropy (summary check, reconcile when it differs). Default 30 s. */
  readonly antiEntropyIntervalMs: number
  /**
   * How long a summary mismatch seen in gossip must last before it starts a reconciliation with
   * that peer. Right after a write the summaries differ until handoff delivers it, which takes
   * milliseconds; reconciling at once would start a session per write. Default 1000 ms.
   */
  readonly reconcileDelayMs: number
  /**
   * Push changes to peers (hinted handoff). Off: peers receive this replica's changes only by
   * pulling them (read repair) and by reconciliation — a pull-only replica. Default `true`.
   */
  readonly handoff: boolean
  /** Period of gossip when nothing changed (a write gossips at once). Default 5 s. */
  readonly gossipIntervalMs: number
  /** Keys queued for one absent peer (hinted handoff) before overflow. Default 10,000. */
  readonly outboxMaxKeys: number
  /** Age after which a queued key is dropped in favour of reconciliation. Default 24 h. */
  readonly outboxMaxAgeMs: number
  /**
   * Decoded key states kept in memory for reads (most recently used first); 0 turns the cache
   * off. Default 10,000.
   */
  readonly cacheMaxKeys: number
  /** How concurrent register siblings read back. Default `'siblings'` (no arbitration). */
  readonly conflicts: ConflictPolicy
  /**
   * How durably a state joined by read repair is stored before the read returns. `'relaxed'`:
   * handed to the OS, no fsync (a crash of the process keeps it; a power failure may lose it,
   * and then the next read repairs it again from the peer that sent it, which stores it
   * durably). `'strict'`: fsynced like a local write. Local writes are always strict.
   * Default `'relaxed'`.
   */
  readonly repairDurability: Durability
}

/** The defaults of {@link ReplicaTunables}. */
export const DEFAULT_REPLICA_OPTIONS: ReplicaTunables = Object.freeze({
  repair: 'async',
  peers: 'ahead',
  timeoutMs: 1000,
  repairChance: 0,
  maxConcurrentRepairsPerPeer: 4,
  repairRatePerSecond: 50,
  breakerFailureThreshold: 5,
  breakerResetMs: 10_000,
  retryBaseMs: 100,
  retryAttempts: 3,
  antiEntropyIntervalMs: 30_000,
  reconcileDelayMs: 1000,
  handoff: true,
  gossipIntervalMs: 5_000,
  outboxMaxKeys: 10_000,
  outboxMaxAgeMs: 24 * 60 * 60 * 1000,
  cacheMaxKeys: 10_000,
  conflicts: 'siblings',
  repairDurability: 'relaxed',
})
