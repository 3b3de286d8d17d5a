// Canonical CBOR for signed structures: a structure has exactly one byte form, so a signature
// covers the bytes that every peer re-derives, and a re-encoded, padded or reordered copy of a
// signed structure is refused rather than accepted under a different hash.
import { decode, encode } from 'cborg'
import { MendsyncError } from '../errors.js'
import { STRICT_DECODE_OPTIONS } from '../model/codec.js'
import { bytesEqual } from './keys.js'

/** Encodes `value` (arrays of integers, strings and byte strings) canonically. */
export function encodeCanonical(value: unknown): Uint8Array {
  return encode(value)
}

/**
 * Decodes `bytes` and checks they are the canonical encoding of what they decode to; throws
 * `INVALID_ARGUMENT` naming `what` otherwise.
 */
export function decodeCanonical(bytes: unknown, what: string, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: expected bytes`)
  }
  if (bytes.byteLength > maxBytes) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `${what}: ${bytes.byteLength} bytes, at most ${maxBytes}`,
    )
  }
  let value: unknown
  try {
    value = decode(bytes, STRICT_DECODE_OPTIONS)
  } catch (cause) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: not valid CBOR`, { cause })
  }
  if (!bytesEqual(encode(value), bytes)) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: not in canonical form`)
  }
  return value
}

/** `value` as an array of exactly `length` elements, or `INVALID_ARGUMENT`. */
export function expectTuple(value: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: expected an array of ${length} elements`)
  }
  return value
}

/** `value` as bytes of a length in `[min, max]`, or `INVALID_ARGUMENT`. */
export function expectBytes(value: unknown, min: number, max: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength < min || value.byteLength > max) {
    const size = min === max ? `${min}` : `${min} to ${max}`
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: expected ${size} bytes`)
  }
  return value
}

/** `value` as a non-negative safe integer, or `INVALID_ARGUMENT`. */
export function expectUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MendsyncError('INVALID_ARGUMENT', `${what}: expected a non-negative integer`)
  }
  return value
}
