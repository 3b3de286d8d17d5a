import { isTimestamp, MendsyncError, type Timestamp } from '@mendsync/core'

/** The 16 bytes of a hybrid-clock timestamp (wall and logical, float64 big-endian each). */
export function encodeTimestamp(time: Timestamp): Uint8Array {
  const out = new Uint8Array(16)
  const view = new DataView(out.buffer)
  view.setFloat64(0, time.wall)
  view.setFloat64(8, time.logical)
  return out
}

/** Decodes {@link encodeTimestamp}'s bytes; `STORAGE_CORRUPT` naming `record` when malformed. */
export function decodeTimestamp(bytes: Uint8Array, record: string): Timestamp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const time =
    bytes.length === 16 ? { wall: view.getFloat64(0), logical: view.getFloat64(8) } : undefined
  if (!isTimestamp(time)) {
    throw new MendsyncError('STORAGE_CORRUPT', `the ${record} record is malformed`)
  }
  return time
}
