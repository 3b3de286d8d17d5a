// Wire frames of the direct protocols and the gossip payload: canonical CBOR arrays (cborg, with
// strict decoding), each decoded and validated in full before any field is used. Decoders throw
// a MendsyncError: FRAME_TOO_LARGE (over the limit), DECODE_ERROR (not canonical CBOR),
// PROTOCOL_ERROR (CBOR of the wrong shape, type or size).

import type { Dot } from '@mendsync/core'
import { MendsyncError } from '@mendsync/core'
import type { KeyState, PullMode } from '@mendsync/replica/adapter'
import { decode, encode } from 'cborg'
import { MAX_SPACE_NAME_LENGTH, type WireLimits } from './constants.defaults.js'

// Declared beside its defaults (constants.defaults.ts), so that file imports nothing back.
export type { WireLimits }

const MAX_CODE_LENGTH = 64
const MAX_MESSAGE_LENGTH = 1024

const DECODE_OPTIONS = {
  strict: true,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
}

/** Canonical CBOR of a frame. */
export function encodeFrame(frame: readonly unknown[]): Uint8Array {
  return encode(frame)
}

/** Decodes one frame (a CBOR array) after checking its size. */
export function decodeFrame(bytes: Uint8Array, maxBytes: number): unknown[] {
  if (bytes.byteLength > maxBytes) {
    throw new MendsyncError('FRAME_TOO_LARGE', `frame of ${bytes.byteLength} bytes > ${maxBytes}`)
  }
  let value: unknown
  try {
    value = decode(bytes, DECODE_OPTIONS)
  } catch (cause) {
    throw new MendsyncError('DECODE_ERROR', 'frame is not canonical CBOR', { cause })
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new MendsyncError('PROTOCOL_ERROR', 'frame is not a non-empty CBOR array')
  }
  return value
}

function bad(what: string): never {
  throw new MendsyncError('PROTOCOL_ERROR', `malformed frame: ${what}`)
}

/** Fails `PROTOCOL_ERROR` unless `frame` has exactly `length` fields. */
export function expectLength(frame: readonly unknown[], length: number, what: string): void {
  if (frame.length !== length) bad(`${what} has ${frame.length} fields, expected ${length}`)
}

/** `value` as a safe non-negative integer, or `PROTOCOL_ERROR`. */
export function asUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(what)
  return value
}

/** `value` as a string of `minLength` to `maxLength` UTF-16 units, or `PROTOCOL_ERROR`. */
export function asString(value: unknown, maxLength: number, what: string, minLength = 1): string {
  if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) bad(what)
  return value
}

/** `value` as bytes of at most `maxLength`, or `PROTOCOL_ERROR`. */
export function asBytes(
  value: unknown,
  what: string,
  maxLength = Number.POSITIVE_INFINITY,
): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength > maxLength) bad(what)
  return value
}

/** `value` as an array of at most `maxLength` entries, or `PROTOCOL_ERROR`. */
export function asArray(value: unknown, maxLength: number, what: string): unknown[] {
  if (!Array.isArray(value) || value.length > maxLength) bad(what)
  return value
}

/** `value` as a space name (1 to `MAX_SPACE_NAME_LENGTH` units), or `PROTOCOL_ERROR`. */
export function asSpace(value: unknown): string {
  return asString(value, MAX_SPACE_NAME_LENGTH, 'space name')
}

/** `value` as `[[key, bytes], ...]` within `limits`, or `PROTOCOL_ERROR`. */
export function asStates(value: unknown, limits: WireLimits): KeyState[] {
  return asArray(value, limits.maxKeysPerFrame, 'states').map((entry) => {
    const pair = asArray(entry, 2, 'state entry')
    expectLength(pair, 2, 'state entry')
    return {
      key: asString(pair[0], limits.maxKeyLength, 'state key'),
      state: asBytes(pair[1], 'state bytes'),
    }
  })
}

/** States as their wire form, `[[key, bytes], ...]`. */
export function statesToWire(states: readonly KeyState[]): [string, Uint8Array][] {
  return states.map(({ key, state }) => [key, state])
}

/** `value` as at most `maxDots` dots `[[replica, counter >= 1], ...]`, or `PROTOCOL_ERROR`. */
export function asDots(value: unknown, limits: WireLimits, maxDots: number): Dot[] {
  return asArray(value, maxDots, 'dots').map((entry) => {
    const pair = asArray(entry, 2, 'dot')
    expectLength(pair, 2, 'dot')
    const counter = asUint(pair[1], 'dot counter')
    if (counter === 0) bad('dot counter 0')
    return { replica: asString(pair[0], limits.maxKeyLength, 'dot replica'), counter }
  })
}

// ---------------------------------------------------------------------------------------------
// Request/response protocols (/mendsync/pull/1.0.0, /mendsync/push/1.0.0)
//
//   request   [0, id, space, ...body]      pull body: [mode 0=digest|1=state, keys[]]
//                                          push body: [states [[key, bytes], ...]]
//   response  [1, id, ...body]             pull body: [results (bytes|null)[]]   push: []
//   error     [2, id, code, message]
//
// Ids are chosen by the requester, strictly increasing on a stream.

/** Tag of a pull or push request frame. */
export const FRAME_REQUEST = 0
/** Tag of a successful reply frame. */
export const FRAME_RESPONSE = 1
/** Tag of an error reply frame. */
export const FRAME_ERROR = 2

/** A decoded pull request. */
export interface PullRequest {
  readonly id: number
  readonly space: string
  readonly mode: PullMode
  readonly keys: string[]
}

/** A decoded push request. */
export interface PushRequest {
  readonly id: number
  readonly space: string
  readonly states: KeyState[]
}

/** A decoded reply: the body of an `ok`, or the peer's error code and message. */
export type Reply =
  | { readonly kind: 'ok'; readonly id: number; readonly body: unknown[] }
  | { readonly kind: 'error'; readonly id: number; readonly code: string; readonly message: string }

/** The frame of pull request `id`. */
export function encodePullRequest(
  id: number,
  space: string,
  mode: PullMode,
  keys: readonly string[],
) {
  return encodeFrame([FRAME_REQUEST, id, space, mode === 'digest' ? 0 : 1, keys])
}

/** Decodes and validates a pull request frame (a wire error otherwise). */
export function decodePullRequest(bytes: Uint8Array, limits: WireLimits): PullRequest {
  const frame = decodeFrame(bytes, limits.maxFrameBytes)
  if (frame[0] !== FRAME_REQUEST) bad('expected a request')
  expectLength(frame, 5, 'pull request')
  const mode = frame[3]
  if (mode !== 0 && mode !== 1) bad('pull mode')
  return {
    id: asUint(frame[1], 'request id'),
    space: asSpace(frame[2]),
    mode: mode === 0 ? 'digest' : 'state',
    keys: asArray(frame[4], limits.maxKeysPerFrame, 'keys').map((key) =>
      asString(key, limits.maxKeyLength, 'key'),
    ),
  }
}

/** The frame of push request `id` (one chunk of states; see {@link chunkStates}). */
export function encodePushRequest(id: number, space: string, states: readonly KeyState[]) {
  return encodeFrame([FRAME_REQUEST, id, space, statesToWire(states)])
}

/** Decodes and validates a push request frame (a wire error otherwise). */
export function decodePushRequest(bytes: Uint8Array, limits: WireLimits): PushRequest {
  const frame = decodeFrame(bytes, limits.maxFrameBytes)
  if (frame[0] !== FRAME_REQUEST) bad('expected a request')
  expectLength(frame, 4, 'push request')
  return {
    id: asUint(frame[1], 'request id'),
    space: asSpace(frame[2]),
    states: asStates(frame[3], limits),
  }
}

/** The `ok` reply frame to request `id`. */
export function encodeReply(id: number, body: readonly unknown[]): Uint8Array {
  return encodeFrame([FRAME_RESPONSE, id, ...body])
}

/** The error reply frame to request `id` (code and message cut to their wire limits). */
export function encodeError(id: number, code: string, message: string): Uint8Array {
  return encodeFrame([
    FRAME_ERROR,
    id,
    code.slice(0, MAX_CODE_LENGTH),
    message.slice(0, MAX_MESSAGE_LENGTH),
  ])
}

/** Decodes and validates a reply frame (a wire error otherwise). */
export function decodeReply(bytes: Uint8Array, limits: WireLimits): Reply {
  const frame = decodeFrame(bytes, limits.maxFrameBytes)
  const id = asUint(frame[1], 'reply id')
  if (frame[0] === FRAME_RESPONSE) return { kind: 'ok', id, body: frame.slice(2) }
  if (frame[0] === FRAME_ERROR) {
    expectLength(frame, 4, 'error reply')
    return {
      kind: 'error',
      id,
      code: asString(frame[2], MAX_CODE_LENGTH, 'error code'),
      message: asString(frame[3], MAX_MESSAGE_LENGTH, 'error message', 0),
    }
  }
  return bad('expected a reply')
}

/** The results of a pull reply: exactly `count` entries of bytes or null. */
export function asPullResults(body: readonly unknown[], count: number): (Uint8Array | null)[] {
  expectLength(body, 1, 'pull reply')
  const results = asArray(body[0], count, 'pull results')
  if (results.length !== count) bad(`pull reply has ${results.length} results for ${count} keys`)
  return results.map((entry) => (entry === null ? null : asBytes(entry, 'pull result')))
}

// ---------------------------------------------------------------------------------------------
// Reconcile protocol (/mendsync/reconcile/1.0.0), one stream per session:
//
//   open   [0, space, message]   initiator's first frame
//   round  [1, message]          a session message
//   end    [2]                   the responder ended the rounds
//   states [3, [[key, bytes]...]] a chunk of states
//   done   [4]                   no more states from this side
//   error  [5, code, message]

/** Tag of the initiator's first reconcile frame: `[0, space, message]`. */
export const RC_OPEN = 0
/** Tag of a reconcile session message: `[1, message]`. */
export const RC_ROUND = 1
/** Tag of the responder ending the rounds: `[2]`. */
export const RC_END = 2
/** Tag of a chunk of states: `[3, [[key, bytes], ...]]`. */
export const RC_STATES = 3
/** Tag of the end of one side's states: `[4]`. */
export const RC_DONE = 4
/** Tag of a reconcile error: `[5, code, message]`. */
export const RC_ERROR = 5

/** A decoded reconcile frame. */
export type ReconcileFrame =
  | { readonly kind: 'open'; readonly space: string; readonly message: Uint8Array }
  | { readonly kind: 'round'; readonly message: Uint8Array }
  | { readonly kind: 'end' }
  | { readonly kind: 'states'; readonly states: KeyState[] }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }

/** Decodes and validates a reconcile frame (a wire error otherwise). */
export function decodeReconcileFrame(bytes: Uint8Array, limits: WireLimits): ReconcileFrame {
  const frame = decodeFrame(bytes, limits.maxFrameBytes)
  switch (frame[0]) {
    case RC_OPEN:
      expectLength(frame, 3, 'open')
      return { kind: 'open', space: asSpace(frame[1]), message: asBytes(frame[2], 'message') }
    case RC_ROUND:
      expectLength(frame, 2, 'round')
      return { kind: 'round', message: asBytes(frame[1], 'message') }
    case RC_END:
      expectLength(frame, 1, 'end')
      return { kind: 'end' }
    case RC_STATES:
      expectLength(frame, 2, 'states')
      return { kind: 'states', states: asStates(frame[1], limits) }
    case RC_DONE:
      expectLength(frame, 1, 'done')
      return { kind: 'done' }
    case RC_ERROR:
      expectLength(frame, 3, 'error')
      return {
        kind: 'error',
        code: asString(frame[1], MAX_CODE_LENGTH, 'error code'),
        message: asString(frame[2], MAX_MESSAGE_LENGTH, 'error message', 0),
      }
    default:
      return bad('unknown reconcile frame type')
  }
}

/** The reconcile error frame (code and message cut to their wire limits). */
export function encodeReconcileError(code: string, message: string): Uint8Array {
  return encodeFrame([
    RC_ERROR,
    code.slice(0, MAX_CODE_LENGTH),
    message.slice(0, MAX_MESSAGE_LENGTH),
  ])
}

/**
 * Splits states into chunks whose frames stay under `maxFrameBytes` (a conservative estimate:
 * CBOR adds at most 9 bytes per length and keys are at most 3 bytes per UTF-16 unit). A single
 * state too large for any frame fails with FRAME_TOO_LARGE.
 */
export function chunkStates(
  states: readonly KeyState[],
  maxFrameBytes: number,
  maxPerChunk: number,
): KeyState[][] {
  const budget = maxFrameBytes - 256
  const chunks: KeyState[][] = []
  let current: KeyState[] = []
  let size = 0
  for (const entry of states) {
    const cost = entry.key.length * 3 + entry.state.byteLength + 24
    if (cost > budget) {
      throw new MendsyncError(
        'FRAME_TOO_LARGE',
        `state of ${entry.key} (${entry.state.byteLength} bytes) exceeds the ${maxFrameBytes}-byte frame limit`,
      )
    }
    if (current.length > 0 && (size + cost > budget || current.length >= maxPerChunk)) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(entry)
    size += cost
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}
