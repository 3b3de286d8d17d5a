// The frames of `/mendsync/access/1.0.0`: one request, one reply, on a stream of their own.
//
//   request  [1, spaceId, proof | null]                 proof: core's proofToWire form
//   reply    [1, code, message, proof | null]           code "OK" or an error code
//
// The responder includes its own proof only when the requester proved a right (or is trusted):
// a peer that proves nothing learns nothing. Decoding is strict (canonical CBOR, exact shapes,
// the proof decoded in full by core) and throws a typed MendsyncError.
import { MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  isPrivateSpaceId,
  proofFromWire,
  proofToWire,
} from '@mendsync/core/access'
import { asString, decodeFrame, encodeFrame, expectLength } from '../codec.js'

const VERSION = 1
const MAX_CODE_LENGTH = 64
const MAX_MESSAGE_LENGTH = 1024

/** The reply code of an accepted proof. */
export const ACCESS_OK = 'OK'

/** A decoded access request. */
export interface AccessRequest {
  readonly spaceId: string
  readonly proof: AccessProof | null
}

/** A decoded access reply. */
export interface AccessReply {
  readonly code: string
  readonly message: string
  readonly proof: AccessProof | null
}

/** The request frame presenting `proof` for `spaceId`. */
export function encodeAccessRequest(spaceId: string, proof: AccessProof | undefined): Uint8Array {
  return encodeFrame([VERSION, spaceId, proof === undefined ? null : proofToWire(proof)])
}

/** The reply frame. */
export function encodeAccessReply(
  code: string,
  message: string,
  proof: AccessProof | undefined,
): Uint8Array {
  return encodeFrame([
    VERSION,
    code,
    message.slice(0, MAX_MESSAGE_LENGTH),
    proof === undefined ? null : proofToWire(proof),
  ])
}

/** Decodes a request; `FRAME_TOO_LARGE`, `DECODE_ERROR`, `PROTOCOL_ERROR` or `INVALID_ARGUMENT`. */
export function decodeAccessRequest(bytes: Uint8Array, maxBytes: number): AccessRequest {
  const frame = decodeFrame(bytes, maxBytes)
  expectLength(frame, 3, 'access request')
  expectVersion(frame[0])
  const spaceId = frame[1]
  if (!isPrivateSpaceId(spaceId)) {
    throw new MendsyncError('PROTOCOL_ERROR', 'malformed frame: access request space id')
  }
  return { spaceId, proof: frame[2] === null ? null : proofFromWire(frame[2]) }
}

/** Decodes a reply; the same errors as {@link decodeAccessRequest}. */
export function decodeAccessReply(bytes: Uint8Array, maxBytes: number): AccessReply {
  const frame = decodeFrame(bytes, maxBytes)
  expectLength(frame, 4, 'access reply')
  expectVersion(frame[0])
  return {
    code: asString(frame[1], MAX_CODE_LENGTH, 'access reply code'),
    message: asString(frame[2], MAX_MESSAGE_LENGTH, 'access reply message', 0),
    proof: frame[3] === null ? null : proofFromWire(frame[3]),
  }
}

function expectVersion(version: unknown): void {
  if (version !== VERSION) {
    throw new MendsyncError(
      'PROTOCOL_ERROR',
      `access frame version ${String(version)} is not supported`,
    )
  }
}
