export type { BreakerState } from './circuit-breaker.js'
export { type Histogram, LATENCY_BUCKETS_MS, type ReplicaMetricValues } from './metrics.js'
export * from './options.js'
export {
  type CartHandle,
  openReplica,
  type PeerStatus,
  Replica,
  type ReplicaOptions,
  type ReplicaStatus,
} from './replica.js'
export type { Change, ChangeListener, ChangeOrigin, SubscriptionTarget } from './subscriptions.js'
export type { ReadResult, RepairReport, ValueKindView } from './views.js'
