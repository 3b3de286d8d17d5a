import type { CausalValue } from '@mendsync/core'
import type { KeyTarget } from '@mendsync/core/toolbox'

/**
 * Why a key changed: a local write, a remote push/reconcile/handoff, a read repair, or the
 * collection of its tombstone (`'collected'`: the key is gone, its state is the never-written one).
 */
export type ChangeOrigin = 'local' | 'remote' | 'repair' | 'collected'

/** What a subscriber receives. */
export interface Change {
  readonly key: string
  readonly origin: ChangeOrigin
  /** The key's state after the change (read it with the replica's view helpers). */
  readonly state: CausalValue
}

/** What to watch: one key, or every key with a prefix (`''`: every key). */
export type SubscriptionTarget = KeyTarget

/**
 * Called after each persisted change of a subscribed key. It should not throw; if it does, the
 * error is logged through the replica's logger and the change stands.
 */
export type ChangeListener = (change: Change) => void
