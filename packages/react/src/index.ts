// @mendsync/react: React bindings for a mendsync replica (or `Tabs`). A `ReplicaProvider` gives
// the hooks their replica; `useKey` / `useCart` follow one key each, so a component re-renders
// only when its key changes; `useStatus` follows the replica's status.
export {
  type CartState,
  type KeyState,
  type StatusState,
  useCart,
  useKey,
  useReplica,
  useStatus,
} from './hooks.js'
export { IDLE_SNAPSHOTS } from './key-store.js'
export {
  ReplicaProvider,
  type ReplicaProviderProps,
  type ReplicaState,
} from './provider.js'
export type { ReplicaSource } from './source.js'
export { DEFAULT_STATUS_INTERVAL_MS } from './status-store.js'
