// The envelope every session message shares: version byte, type, sequence number, session tag,
// body, and a closing murmur3 checksum. Both protocols (recency step and coded symbols) use it.

import { MendsyncError } from '../errors.js'
import { bytesHash32 } from './hash.js'
import { Reader, Writer } from './wire.js'

/** Smallest accepted `maxMessageSize`. */
export const MIN_MESSAGE_SIZE = 1024
/** Largest accepted `maxMessageSize`. */
export const MAX_MESSAGE_SIZE = 2 ** 30

/** Throws the session's error code. */
export function protocolError(message: string): never {
  throw new MendsyncError('RECONCILE_PROTOCOL', message)
}

/** Validates a `maxMessageSize` option; 0 for unlimited. */
export function checkMaxMessageSize(max: number | undefined): number {
  if (max === undefined || max === Number.POSITIVE_INFINITY) return 0
  if (!Number.isInteger(max) || max < MIN_MESSAGE_SIZE || max > MAX_MESSAGE_SIZE)
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `maxMessageSize must be an integer in [${MIN_MESSAGE_SIZE}, ${MAX_MESSAGE_SIZE}]`,
    )
  return max
}

/** A message's header, and a reader positioned at its body (ending before the checksum). */
export interface OpenedMessage {
  readonly reader: Reader
  readonly type: number
  readonly seq: number
  readonly tag: number
}

/**
 * Checks a message's size (against `maxMessage`, 0: none), checksum, version and type
 * (1..`maxType`) and reads its header.
 */
export function openMessage(
  message: Uint8Array,
  maxMessage: number,
  version: number,
  maxType: number,
): OpenedMessage {
  if (maxMessage > 0 && message.length > maxMessage)
    protocolError(`message of ${message.length} bytes exceeds the limit ${maxMessage}`)
  if (message.length < 11) protocolError('message too short')
  const end = message.length - 4
  const stored =
    message[end]! | (message[end + 1]! << 8) | (message[end + 2]! << 16) | (message[end + 3]! << 24)
  if (stored !== bytesHash32(message, 0, end)) protocolError('message checksum mismatch')
  const reader = new Reader(message, 'RECONCILE_PROTOCOL', 'reconcile message', 0, end)
  const got = reader.u8('version')
  if (got !== version) protocolError(`unsupported protocol version ${got}`)
  const type = reader.u8('type')
  if (type < 1 || type > maxType) protocolError(`unknown message type ${type}`)
  const seq = reader.varint('seq', 2 ** 40)
  const tag = reader.i32('tag') >>> 0
  return { reader, type, seq, tag }
}

/**
 * The sequence number the next message must carry: the initiator sends even numbers, the
 * responder odd ones, and each message answers the previous one, so it is one less than the next
 * to send (0 for a responder's first message).
 */
export function expectedSeq(responder: boolean, sendSeq: number): number {
  return responder && sendSeq === 0 ? 0 : sendSeq - 1
}

/** Starts a message: version, type, sequence number, tag. */
export function beginMessage(
  version: number,
  type: number,
  seq: number,
  tag: number,
  capacity: number,
): Writer {
  const w = new Writer(capacity)
  w.u8(version)
  w.u8(type)
  w.varint(seq)
  w.u32(tag)
  return w
}

/** Closes a message with its checksum; it must fit in `limit` bytes (0: no limit). */
export function endMessage(w: Writer, limit: number): Uint8Array {
  w.u32(bytesHash32(w.bytes, 0, w.length))
  const out = w.finish()
  if (limit > 0 && out.length > limit)
    throw new Error(`internal: message of ${out.length} bytes exceeds ${limit}`)
  return out
}

/** A session's traffic counters (see `ReconcileStats`). */
export class Traffic {
  messagesSent = 0
  messagesReceived = 0
  bytesSent = 0
  bytesReceived = 0

  /** Counts a message received. */
  received(message: Uint8Array): void {
    this.messagesReceived++
    this.bytesReceived += message.length
  }

  /** Counts a message sent; returns it. */
  sent(message: Uint8Array): Uint8Array {
    this.messagesSent++
    this.bytesSent += message.length
    return message
  }

  /** The counters now. */
  snapshot(): {
    messagesSent: number
    messagesReceived: number
    bytesSent: number
    bytesReceived: number
  } {
    const { messagesSent, messagesReceived, bytesSent, bytesReceived } = this
    return { messagesSent, messagesReceived, bytesSent, bytesReceived }
  }
}

/** A failure inside a step as the session reports it: a MendsyncError as is, else wrapped. */
export function asSessionError(error: unknown): MendsyncError {
  if (error instanceof MendsyncError) return error
  return new MendsyncError('RECONCILE_PROTOCOL', 'reconciliation failed', { cause: error })
}
