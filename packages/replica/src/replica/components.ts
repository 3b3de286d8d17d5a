import type { ReplicaId, VersionVector } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { SpaceChannel } from '../network/types.js'
import type { Storage } from '../storage/types.js'
import type { SpaceGuard } from './access/space-guard.js'
import type { ChangeLog } from './handoff/change-log.js'
import type { ReplicaMetrics } from './metrics.js'
import type { ReplicaTunables } from './options.js'
import type { HintStore } from './peers/hint-store.js'
import type { PeerDirectory } from './peers/peer-directory.js'
import type { SyncProgressTracker } from './progress/sync-progress.js'
import type { QuotaMeter } from './quota.js'
import type { LocalState } from './state/local-state.js'
import type { TaskScheduler } from './tasks/task-scheduler.js'

/**
 * What the parts of a replica share (the way js-libp2p hands `components` to its services): the
 * `Replica` creates them once and passes them to the gossip, handoff, anti-entropy, serving and
 * read parts, which keep no copies of their own.
 */
export interface ReplicaComponents {
  readonly space: string
  readonly storage: Storage
  readonly options: ReplicaTunables
  readonly metrics: ReplicaMetrics
  /** The replica's logger; each part logs through its own child. */
  readonly logger: Logger
  /** Background tasks and timers; `tasks.isStopped` is true once the replica closes. */
  readonly tasks: TaskScheduler
  readonly now: () => number
  readonly random: () => number
  readonly local: LocalState
  readonly log: ChangeLog
  readonly hints: HintStore
  readonly peers: PeerDirectory
  /** The space's access rules: local writes, reserved keys, revocations. */
  readonly guard: SpaceGuard
  /** The space's quota, when the replica was given one: every stored batch is checked by it. */
  readonly quota: QuotaMeter | undefined
  /** The progress of the exchanges in flight (`status().progress`, `onProgress`). */
  readonly progress: SyncProgressTracker
  /** The space's channel while online, `undefined` offline or once closing. */
  channel(): SpaceChannel | undefined
  /** This replica's id (set once the persisted state is recovered). */
  replicaId(): ReplicaId
  /** The version vector of every committed change. */
  versionVector(): VersionVector
  /** Throws `CLOSED` once closed, and the storage's failure once a batch failed. */
  ensureOpen(): void
}
