import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { decode as cborDecode, encode as cborEncode } from 'cborg'
import { STRICT_DECODE_OPTIONS } from '../model/codec.js'
import type { Dot, Timestamp } from '../model/index.js'
import { randomBytes } from '../toolbox/random-id.js'
import { MAX_EPOCH, type SpaceKeyring } from './keyring.js'

/**
 * The envelope of one sealed dot-tagged value:
 * ```
 * [format = 1] [epoch: unsigned LEB128] [nonce: 24 bytes] [XChaCha20-Poly1305 ciphertext + 16-byte tag]
 * ```
 * The associated data (not stored: every peer rebuilds it from where the envelope sits) binds the
 * space, the key's keyed id, the entry's place (register with its clock reading, or the keyed id
 * of its cart line), its dot and the epoch. An envelope moved to another space, key, line or dot,
 * or given another timestamp, fails authentication.
 */

/** First byte of every envelope. */
export const ENVELOPE_FORMAT = 1

/** XChaCha20-Poly1305 nonce length: random nonces of this size never repeat in practice. */
export const NONCE_BYTES = 24

/** Poly1305 tag length. */
export const TAG_BYTES = 16

/** Domain of the associated data: names the scheme and its version. */
const AD_DOMAIN = 'mendsync/sealed/1'

/** Where a sealed entry sits in its key's state: bound into its associated data. */
export type EntryPlace =
  | { readonly store: 'register'; readonly time: Timestamp }
  | { readonly store: 'cart'; readonly skuId: string }

/** Why an envelope did not open. */
export type OpenFailure = 'tampered' | 'unknown-epoch'

/** What {@link openEnvelope} returns. */
export type OpenedEnvelope =
  | { readonly ok: true; readonly payload: unknown; readonly epoch: number }
  | { readonly ok: false; readonly reason: OpenFailure }

function associatedData(
  keyring: SpaceKeyring,
  keyId: string,
  place: EntryPlace,
  dot: Dot,
  epoch: number,
): Uint8Array {
  const where =
    place.store === 'register' ? ['r', place.time.wall, place.time.logical] : ['c', place.skuId]
  return cborEncode([AD_DOMAIN, keyring.spaceId, keyId, dot.replica, dot.counter, epoch, ...where])
}

function epochBytes(epoch: number): number[] {
  const out: number[] = []
  let rest = epoch
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return out
}

/** Reads the header; `undefined` when it is malformed (the envelope is then tampered). */
function readHeader(envelope: Uint8Array): { epoch: number; offset: number } | undefined {
  if (envelope[0] !== ENVELOPE_FORMAT) return undefined
  let epoch = 0
  let scale = 1
  for (let i = 1; i <= 5 && i < envelope.length; i++) {
    const byte = envelope[i] as number
    epoch += (byte & 0x7f) * scale
    if (byte < 0x80) {
      // Only the shortest form is accepted: the header is not authenticated, so it must have
      // exactly one spelling per epoch (otherwise a relay could vary an envelope's bytes).
      if (byte === 0 && i > 1) return undefined
      const offset = i + 1
      if (epoch > MAX_EPOCH || envelope.length < offset + NONCE_BYTES + TAG_BYTES) return undefined
      return { epoch, offset }
    }
    scale *= 0x80
  }
  return undefined
}

/**
 * Seals `payload` (CBOR-encodable data) for the entry at `dot` and `place` of key `keyId`, with
 * the keyring's current epoch and a fresh random nonce.
 */
export function sealEnvelope(
  keyring: SpaceKeyring,
  keyId: string,
  place: EntryPlace,
  dot: Dot,
  payload: unknown,
): Uint8Array {
  const epoch = keyring.currentEpoch
  const key = keyring.valueKey(epoch) as Uint8Array
  const nonce = randomBytes(NONCE_BYTES)
  const ad = associatedData(keyring, keyId, place, dot, epoch)
  const sealed = xchacha20poly1305(key, nonce, ad).encrypt(cborEncode(payload))
  const header = epochBytes(epoch)
  const out = new Uint8Array(1 + header.length + NONCE_BYTES + sealed.length)
  out[0] = ENVELOPE_FORMAT
  out.set(header, 1)
  out.set(nonce, 1 + header.length)
  out.set(sealed, 1 + header.length + NONCE_BYTES)
  return out
}

/**
 * Opens an envelope found at `dot` and `place` of key `keyId`. Never throws on hostile input: a
 * malformed envelope, or one that fails authentication, is `tampered`; one of an epoch the
 * keyring does not hold is `unknown-epoch`. The payload is CBOR-decoded strictly but not
 * interpreted (the caller checks its shape).
 */
export function openEnvelope(
  keyring: SpaceKeyring,
  keyId: string,
  place: EntryPlace,
  dot: Dot,
  envelope: unknown,
): OpenedEnvelope {
  if (!(envelope instanceof Uint8Array)) return { ok: false, reason: 'tampered' }
  const header = readHeader(envelope)
  if (header === undefined) return { ok: false, reason: 'tampered' }
  const key = keyring.valueKey(header.epoch)
  if (key === undefined) return { ok: false, reason: 'unknown-epoch' }
  const nonce = envelope.subarray(header.offset, header.offset + NONCE_BYTES)
  const ad = associatedData(keyring, keyId, place, dot, header.epoch)
  let plain: Uint8Array
  try {
    plain = xchacha20poly1305(key, nonce, ad).decrypt(envelope.subarray(header.offset + NONCE_BYTES))
  } catch {
    // noble throws exactly when the tag does not verify: the result reports it as tampering.
    return { ok: false, reason: 'tampered' }
  }
  try {
    return { ok: true, payload: cborDecode(plain, STRICT_DECODE_OPTIONS), epoch: header.epoch }
  } catch {
    // Authentic bytes that are not strict CBOR: a key holder sealed garbage, as unusable as a
    // forgery, and reported the same way.
    return { ok: false, reason: 'tampered' }
  }
}
