import {
  decodeVersionVector,
  MendsyncError,
  type ReplicaId,
  type Timestamp,
  type VersionVector,
} from '@mendsync/core'
import { randomHexId } from '@mendsync/core/toolbox'
import type { Storage } from '../../storage/types.js'
import { META_CLOCK, META_REPLICA_ID, META_VERSION_VECTOR } from './meta-keys.js'
import { decodeTimestamp } from './timestamp-codec.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Bytes of a new replica id (hex: 24 characters). */
const REPLICA_ID_BYTES = 12

/** What a replica recovers from its storage's meta records. */
export interface RecoveredIdentity {
  readonly replicaId: ReplicaId
  readonly versionVector: VersionVector
  /** The clock's last timestamp; `undefined` before the first local write. */
  readonly clock: Timestamp | undefined
}

/**
 * Reads the replica id, version vector and clock persisted in `storage`. A storage without an id
 * gets `requested` (or a new random id), persisted at once; a `requested` id that differs from
 * the persisted one fails with `INVALID_ARGUMENT`.
 */
export async function recoverIdentity(
  storage: Storage,
  requested: ReplicaId | undefined,
): Promise<RecoveredIdentity> {
  const [storedId, storedVector, storedClock] = await storage.get('meta', [
    META_REPLICA_ID,
    META_VERSION_VECTOR,
    META_CLOCK,
  ])
  const persistedId = storedId === undefined ? undefined : decoder.decode(storedId)
  const wanted = requested === '' ? undefined : requested
  if (persistedId !== undefined && wanted !== undefined && wanted !== persistedId) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `this storage belongs to replica ${persistedId}, not ${wanted}; open it without replicaId or use another storage`,
    )
  }
  const replicaId = persistedId ?? wanted ?? randomHexId(REPLICA_ID_BYTES)
  if (persistedId === undefined) {
    await storage.write({ meta: [{ key: META_REPLICA_ID, value: encoder.encode(replicaId) }] })
  }
  return {
    replicaId,
    versionVector: storedVector === undefined ? new Map() : decodeVersionVector(storedVector),
    clock: storedClock === undefined ? undefined : decodeTimestamp(storedClock, META_CLOCK),
  }
}
