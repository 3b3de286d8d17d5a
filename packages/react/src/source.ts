import type { ReadContext } from '@mendsync/core'
import type {
  CartHandle,
  ChangeListener,
  ReadOptions,
  ReadResult,
  ReplicaStatus,
  SubscriptionTarget,
} from '@mendsync/replica'

/**
 * What the hooks read and write: the part of the replica API they use. A `Replica` from
 * `@mendsync/replica` has it, and so does `Tabs` from `@mendsync/tabs` (every tab of a browser
 * profile sharing the leader tab's replica), so either can be given to `ReplicaProvider`.
 */
export interface ReplicaSource {
  get(key: string, options?: ReadOptions): Promise<ReadResult>
  put(key: string, value: unknown, context?: ReadContext): Promise<void>
  delete(key: string, context?: ReadContext): Promise<void>
  cart(key: string): CartHandle
  subscribe(target: SubscriptionTarget, listener: ChangeListener): () => void
  /** A `Replica` answers at once; `Tabs` asks the leader tab. */
  status(): ReplicaStatus | Promise<ReplicaStatus>
}

/** `error` as an `Error` (a rejection may carry anything). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
