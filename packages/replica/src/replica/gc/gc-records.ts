import { MendsyncError } from '@mendsync/core'

// The records tombstone collection keeps in the storage's `meta` namespace.

/** `gc/tomb/<key>`: when this replica saw the key become (or grow as) a tombstone. */
export const TOMB_PREFIX = 'gc/tomb/'
/** `gc/away/<key>`: a local write not yet confirmed by an agreement (the rejoin rule). */
export const AWAY_PREFIX = 'gc/away/'
/** `gc/heard/<replica>`: when gossip of that replica was last heard (membership). */
export const HEARD_PREFIX = 'gc/heard/'
/** Present once this replica joined a network or heard another: never "alone by design" again. */
export const META_HEARD_ANY = 'gc/heard-any'
/** When this replica last agreed with a peer (equal summaries or a finished reconciliation). */
export const META_AGREED_AT = 'gc/agreed-at'
/** This replica's actor epoch: its writes use the actor id `<replica>.<epoch>` once above 0. */
export const META_ACTOR_EPOCH = 'gc/actor-epoch'

/** A number as 8 bytes (float64 big-endian). */
export function encodeNumber(value: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setFloat64(0, value)
  return out
}

/** Decodes {@link encodeNumber}'s bytes from `offset`; `STORAGE_CORRUPT` naming `record` when malformed. */
export function decodeNumber(bytes: Uint8Array, record: string, offset = 0): number {
  const value =
    bytes.length >= offset + 8
      ? new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getFloat64(0)
      : Number.NaN
  if (!Number.isFinite(value)) {
    throw new MendsyncError('STORAGE_CORRUPT', `the ${record} record is malformed`)
  }
  return value
}
