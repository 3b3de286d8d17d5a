// `@mendsync/replica`: the engine as an application uses it. Adapter authors take the Storage
// and Network contracts from `@mendsync/replica/adapter`; tests take the in-process network,
// fakes and acceptance suites from `@mendsync/replica/testing`.
export {
  type AccessProof,
  type RightName,
  type SigningKey,
  type SpaceDescriptor,
  signingKeyOf,
} from '@mendsync/core/access'
export type { Network, PeerId } from './network/types.js'
export type { ReplicaAccess } from './replica/access/replica-access.js'
export {
  GRANT_KEY_PREFIX,
  RESERVED_KEY_PREFIX,
  REVOCATION_KEY_PREFIX,
} from './replica/access/reserved-keys.js'
export type {
  DeviceGrant,
  ReplicaAccessStatus,
  RevokedPeer,
} from './replica/access/space-guard.js'
export {
  createInviteToken,
  createSpace,
  type GrantOptions,
  grantAccess,
  type InviteTokenOptions,
  redeemInviteToken,
  type SpaceCredentials,
} from './replica/access/spaces.js'
export type { Change, ChangeListener, ChangeOrigin, SubscriptionTarget } from './replica/change.js'
export {
  DEFAULT_GC_OPTIONS,
  type GcOptions,
  type GcPassResult,
  type GcStatus,
} from './replica/gc/index.js'
export { type Histogram, LATENCY_BUCKETS_MS, type ReplicaMetricValues } from './replica/metrics.js'
export {
  DEFAULT_REPLICA_OPTIONS,
  type PeerSelection,
  type ReadOptions,
  type RepairMode,
  type ReplicaTunables,
} from './replica/options.js'
export {
  IDLE_PROGRESS,
  type SyncProgress,
} from './replica/progress/sync-progress.js'
export type { QuotaUsage, SpaceQuota } from './replica/quota.js'
export type { BreakerState } from './replica/repair/circuit-breaker.js'
export { openReplica, Replica } from './replica/replica.js'
export {
  decodeKeyFragment,
  encodeKeyFragment,
  KEY_FRAGMENT_PARAM,
} from './replica/sealed/key-link.js'
export type { SealedQuarantine } from './replica/sealed/sealed-keys.js'
export type { CartHandle, PeerStatus, ReplicaOptions, ReplicaStatus } from './replica/types.js'
export type { ReadResult, RepairReport, ValueKindView } from './replica/views.js'
export {
  MemoryStorage,
  type MemoryStorageOptions,
  MemoryStore,
} from './storage/memory-storage.js'
export type { Durability, Storage } from './storage/types.js'
