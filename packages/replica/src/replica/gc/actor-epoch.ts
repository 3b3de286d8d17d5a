import { LIMITS, type ReplicaId } from '@mendsync/core'

/**
 * Actor ids: the replica id a replica's new dots carry. Epoch 0 is the replica id itself; epoch
 * `n` is `<replica>.<n>`. A replica moves to a new epoch when it collected a tombstone holding
 * its own dots, and when it rejoins: dot counters are per key, so a key written again after its
 * tombstone was collected would otherwise restart at counter 1 and collide with dots that a copy
 * of the tombstone somewhere else remembers as deleted. A new actor id has no dots anywhere.
 */
export function actorId(replica: ReplicaId, epoch: number): ReplicaId {
  if (epoch === 0) return replica
  const suffix = `.${epoch}`
  return replica.slice(0, LIMITS.maxReplicaIdLength - suffix.length) + suffix
}

/** The epoch of `actor` if it is one of `replica`'s actor ids, else `undefined`. */
export function epochOf(replica: ReplicaId, actor: ReplicaId): number | undefined {
  if (actor === replica) return 0
  const dot = actor.lastIndexOf('.')
  if (dot < 0) return undefined
  const epoch = Number(actor.slice(dot + 1))
  if (!Number.isSafeInteger(epoch) || epoch <= 0 || actorId(replica, epoch) !== actor) {
    return undefined
  }
  return epoch
}
