/** Stable identity of one replica of one space (persisted; never reused by another replica). */
export type ReplicaId = string

/** The event that created a piece of state: the `counter`-th event of replica `replica`. */
export interface Dot {
  readonly replica: ReplicaId
  readonly counter: number
}

/** `replicaId -> highest contiguous counter seen`. Absent entries mean 0. */
export type VersionVector = ReadonlyMap<ReplicaId, number>
