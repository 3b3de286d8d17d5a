import type { CausalValue, ReplicaId } from '@mendsync/core'
import type { Mutation } from '../../storage/types.js'

/**
 * What the write path asks of tombstone collection (`gc/`), which keeps its records in the same
 * atomic batches as the changes they describe.
 */
export interface StateHooks {
  /** The actor id of this replica's new dots. */
  actor(): ReplicaId
  /** The records a change of `key` needs, written in its batch (`local`: a local write). */
  recordsFor(key: string, before: CausalValue, after: CausalValue, local: boolean): Mutation[]
  /** The changes of `keys` to `states` committed (`local`: local writes). */
  committed(keys: readonly string[], states: readonly CausalValue[], local: boolean): void
}
