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
 * of its cart line), its dot and the epoch:
 * ```
 * text("mendsync/sealed/1") text(spaceId) text(keyId)
 *   (u32(1) f64(wall) u32(logical) | u32(2) text(skuId))
 *   text(replica) f64(counter) u32(epoch)          text(s) = u32(UTF-8 length) UTF-8(s), big-endian
 * ```
 * An envelope moved to another space, key, line or dot, or given another timestamp, fails
 * authentication.
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

/** What {@link KeyEnvelopes.open} returns. */
export type OpenedEnvelope =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly reason: OpenFailure }

const UTF8 = new TextEncoder()

/**
 * Builds associated data: a sequence of length-prefixed UTF-8 strings and fixed-width numbers
 * (big-endian), so two different inputs never give the same bytes.
 */
class AdWriter {
  #bytes = new Uint8Array(256)
  #view = new DataView(this.#bytes.buffer)
  length = 0

  constructor(prefix?: Uint8Array) {
    if (prefix !== undefined) this.#append(prefix)
  }

  #room(n: number): void {
    if (this.length + n <= this.#bytes.length) return
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + n))
    grown.set(this.#bytes.subarray(0, this.length))
    this.#bytes = grown
    this.#view = new DataView(grown.buffer)
  }

  #append(bytes: Uint8Array): void {
    this.#room(bytes.length)
    this.#bytes.set(bytes, this.length)
    this.length += bytes.length
  }

  text(value: string): this {
    const encoded = UTF8.encode(value)
    this.uint32(encoded.length)
    this.#append(encoded)
    return this
  }

  uint32(value: number): this {
    this.#room(4)
    this.#view.setUint32(this.length, value)
    this.length += 4
    return this
  }

  /** A safe integer, as a float64 (exact for every safe integer). */
  integer(value: number): this {
    this.#room(8)
    this.#view.setFloat64(this.length, value)
    this.length += 8
    return this
  }

  bytes(): Uint8Array {
    return this.#bytes.slice(0, this.length)
  }
}

const PLACE_REGISTER = 1
const PLACE_CART = 2

/**
 * Seals and opens the envelopes of one key (its keyed id `keyId`) of one keyring's space. Holds
 * the part of the associated data shared by all of the key's entries, so make one per key and
 * operation, not one per entry.
 */
export class KeyEnvelopes {
  readonly keyring: SpaceKeyring
  readonly keyId: string
  readonly #prefix: Uint8Array

  constructor(keyring: SpaceKeyring, keyId: string) {
    this.keyring = keyring
    this.keyId = keyId
    this.#prefix = new AdWriter().text(AD_DOMAIN).text(keyring.spaceId).text(keyId).bytes()
  }

  #associatedData(place: EntryPlace, dot: Dot, epoch: number): Uint8Array {
    const ad = new AdWriter(this.#prefix)
    if (place.store === 'register') {
      ad.uint32(PLACE_REGISTER).integer(place.time.wall).uint32(place.time.logical)
    } else {
      ad.uint32(PLACE_CART).text(place.skuId)
    }
    return ad.text(dot.replica).integer(dot.counter).uint32(epoch).bytes()
  }

  /**
   * Seals `payload` (CBOR-encodable data) for the entry at `dot` and `place`, with the keyring's
   * current epoch and a fresh random nonce.
   */
  seal(place: EntryPlace, dot: Dot, payload: unknown): Uint8Array {
    const epoch = this.keyring.currentEpoch
    const key = this.keyring.valueKey(epoch) as Uint8Array
    const nonce = randomBytes(NONCE_BYTES)
    const ad = this.#associatedData(place, dot, epoch)
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
   * Opens an envelope found at `dot` and `place`. Never throws on hostile input: a malformed
   * envelope, or one that fails authentication, is `tampered`; one of an epoch the keyring does
   * not hold is `unknown-epoch`. The payload is CBOR-decoded strictly but not interpreted (the
   * caller checks its shape).
   */
  open(place: EntryPlace, dot: Dot, envelope: unknown): OpenedEnvelope {
    if (!(envelope instanceof Uint8Array)) return { ok: false, reason: 'tampered' }
    const header = readHeader(envelope)
    if (header === undefined) return { ok: false, reason: 'tampered' }
    const key = this.keyring.valueKey(header.epoch)
    if (key === undefined) return { ok: false, reason: 'unknown-epoch' }
    const nonce = envelope.subarray(header.offset, header.offset + NONCE_BYTES)
    const ad = this.#associatedData(place, dot, header.epoch)
    let plain: Uint8Array
    try {
      plain = xchacha20poly1305(key, nonce, ad).decrypt(
        envelope.subarray(header.offset + NONCE_BYTES),
      )
    } catch {
      // noble throws exactly when the tag does not verify: the result reports it as tampering.
      return { ok: false, reason: 'tampered' }
    }
    try {
      return { ok: true, payload: cborDecode(plain, STRICT_DECODE_OPTIONS) }
    } catch {
      // Authentic bytes that are not strict CBOR: a key holder sealed garbage, as unusable as a
      // forgery, and reported the same way.
      return { ok: false, reason: 'tampered' }
    }
  }
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
