import type { ReplicaId, VersionVector } from '@mendsync/core'
import type { SpaceKeyring } from '@mendsync/core/sealed'
import type { Logger } from '@mendsync/core/toolbox'
import type { Network, PeerId } from '../network/types.js'
import type { Storage } from '../storage/types.js'
import type { ReplicaAccess } from './access/replica-access.js'
import type { GcOptions, GcStatus } from './gc/index.js'
import type { ReadOptions, ReplicaTunables } from './options.js'
import type { SyncProgress } from './progress/sync-progress.js'
import type { SpaceQuota } from './quota.js'
import type { BreakerState } from './repair/circuit-breaker.js'
import type { ReadResult } from './views.js'

/** Options of `openReplica`; the tunables default to `DEFAULT_REPLICA_OPTIONS`. */
export interface ReplicaOptions extends Partial<ReplicaTunables> {
  /** The space (named keyspace) this replica holds. */
  readonly space: string
  /** Where the replica persists. One open replica per storage. */
  readonly storage: Storage
  /** The transport; absent: the replica works offline (every read is local). */
  readonly network?: Network
  /**
   * This replica's id. Default: the id persisted in `storage`, or a new random one persisted on
   * first open. Passing an id that differs from the persisted one fails with `INVALID_ARGUMENT`.
   */
  readonly replicaId?: ReplicaId
  /** Peer ids allowed to read and write this space over the network. Default: everyone. */
  readonly allow?: readonly PeerId[]
  /**
   * Makes the space private (`space` is then its `ms1…` id): this device's proof, or only the
   * descriptor on a relay, the signer of its revocations and grants, the trusted relays. See
   * {@link ReplicaAccess}. Absent: a named open space.
   */
  readonly access?: ReplicaAccess
  /**
   * Most keys and bytes this replica stores for its space (a relay's per-space quota). A change
   * that would pass one is refused whole with `QUOTA_EXCEEDED`, a push's pusher gets that code.
   * Default: no limit.
   */
  readonly quota?: SpaceQuota
  /** The physical clock, ms since the epoch. Default `Date.now`; tests inject skew. */
  readonly now?: () => number
  /** Random numbers in [0, 1) (repair sampling, jitter). Default `Math.random`. */
  readonly random?: () => number
  /**
   * Where the replica logs (handled errors, failed background tasks, a throwing subscriber).
   * Children: `:gossip`, `:handoff`, `:anti-entropy`, `:repair`, `:serve`, `:tasks`.
   * Default `defaultLogger('mendsync:replica')` (silent unless `DEBUG` / `localStorage.debug`
   * enables the namespace).
   */
  readonly logger?: Logger
  /** Tombstone collection; every field defaults (`DEFAULT_GC_OPTIONS`, see the README). */
  readonly gc?: Partial<GcOptions>
  /**
   * Makes this replica a key holder of an encrypted space: the space's keyring
   * (`SpaceKeyring` of `@mendsync/core/sealed`, whose `spaceId` must be `space`). `put`, `get`,
   * `delete`, `cart` and key subscriptions take plain names and values; storage and network
   * hold only keyed ids and sealed states. Prefix subscriptions see the keys whose names this
   * replica used since it opened (keyed ids are one-way).
   * Absent: keys are stored as given, and sealed states written by holders are stored, joined,
   * served and reconciled unread (a blind relay). See the README, "Encrypted spaces".
   */
  readonly sealed?: SpaceKeyring
}

/** A connected peer as `Replica.status` reports it. */
export interface PeerStatus {
  readonly peer: PeerId
  readonly replicaId: ReplicaId | undefined
  readonly breaker: BreakerState
  /** Changes queued for this peer (hinted handoff). */
  readonly outbox: number
  /** The peer's last gossiped reconciliation summary (undefined until it gossiped). */
  readonly summary: Uint8Array | undefined
  /** True when the peer's last gossiped summary equals ours. */
  readonly inSync: boolean
}

/** A snapshot of what the replica knows and does. */
export interface ReplicaStatus {
  readonly space: string
  readonly replicaId: ReplicaId
  readonly peerId: PeerId | undefined
  readonly online: boolean
  readonly peers: readonly PeerStatus[]
  /** Per replica, how many of its events this replica holds (see the README). */
  readonly versionVector: VersionVector
  /** The reconciliation summary (count + root fingerprint) gossiped to peers. */
  readonly summary: Uint8Array
  readonly keys: number
  /** Changes queued for all known peers. */
  readonly outbox: number
  readonly reconciling: readonly PeerId[]
  /** Tombstones held and collected, the horizon, the rejoin rule (see the README). */
  readonly gc: GcStatus
  /** The exchanges in flight: keys to receive, received, bytes (see `Replica.onProgress`). */
  readonly progress: SyncProgress
}

/** The operations on a cart held at one key. Each returns once the change is persisted. */
export interface CartHandle {
  /** Adds `qty` (default 1) to the line `sku`, creating it; with `meta`, also sets its meta. */
  add(sku: string, qty?: number, meta?: unknown): Promise<void>
  /** Sets the line's quantity (0 removes it). Concurrent set-quantities keep the largest. */
  setQty(sku: string, qty: number): Promise<void>
  /** Removes the line (only what this replica has seen: concurrent adds survive). */
  remove(sku: string): Promise<void>
  /** Sets the line's meta (e.g. a name or a price). */
  setMeta(sku: string, meta: unknown): Promise<void>
  /** Reads the cart (a read like `Replica.get`). */
  view(options?: ReadOptions): Promise<ReadResult>
}
