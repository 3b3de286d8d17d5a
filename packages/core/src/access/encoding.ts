// Text forms of the access structures: base32 (RFC 4648, lowercase, unpadded) for space ids,
// which become topic and file names, and base64url for grants and invites, which travel in links
// and QR codes. The codecs are multiformats' (through `uint8arrays`), which reject non-canonical
// text; here their errors become typed ones.
import { toString as bytesToString, fromString } from 'uint8arrays'
import { MendsyncError } from '../errors.js'

/** RFC 4648 base32, lowercase, without padding. */
export function toBase32(bytes: Uint8Array): string {
  return bytesToString(bytes, 'base32')
}

/** Inverse of {@link toBase32}; `INVALID_ARGUMENT` (naming `what`) on any other text. */
export function fromBase32(text: string, what: string): Uint8Array {
  return decodeText(text, 'base32', what)
}

/** RFC 4648 base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  return bytesToString(bytes, 'base64url')
}

/** Inverse of {@link toBase64Url}; `INVALID_ARGUMENT` (naming `what`) on any other text. */
export function fromBase64Url(text: string, what: string): Uint8Array {
  return decodeText(text, 'base64url', what)
}

function decodeText(text: unknown, encoding: 'base32' | 'base64url', what: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: expected ${encoding} text`)
  }
  try {
    return fromString(text, encoding)
  } catch (cause) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: not canonical ${encoding} text`, {
      cause,
    })
  }
}
