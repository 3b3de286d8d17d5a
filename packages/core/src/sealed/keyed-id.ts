import { utf8ToBytes } from '@noble/hashes/utils.js'
import { toBase64Url } from '../access/encoding.js'
import type { SpaceKeyring } from './keyring.js'

/** Bytes of HMAC-SHA256 kept in a keyed id: 144 bits (at least 128, and 24 base64url chars). */
export const KEYED_ID_BYTES = 18

/** First character of every keyed id: marks a name as sealed in listings and logs. */
export const KEYED_ID_PREFIX = '~'

const KEYED_ID_PATTERN = /^~[A-Za-z0-9_-]{24}$/

/** Domain labels of the two kinds of keyed id, so a key id never equals a sku id. */
const KEY_LABEL = 'key'
const SKU_LABEL = 'sku'

function keyedId(keyring: SpaceKeyring, parts: readonly string[]): string {
  // NUL-separated: key names and skus are well-formed strings, a keyed id has no NUL, and the
  // label comes first, so two different inputs never give the same message.
  const mac = keyring.idMac(utf8ToBytes(parts.join('\u0000')))
  return KEYED_ID_PREFIX + toBase64Url(mac.subarray(0, KEYED_ID_BYTES))
}

/**
 * The keyed id of the key `name`: what peers without the space key see instead of the name
 * (the storage key of its sealed state). A valid mendsync key (25 ASCII characters).
 */
export function keyedKeyId(keyring: SpaceKeyring, name: string): string {
  return keyedId(keyring, [KEY_LABEL, name])
}

/**
 * The keyed id of cart sku `sku` within the key whose keyed id is `keyId`. Bound to the key, so
 * a blind peer cannot tell that two carts hold the same sku.
 */
export function keyedSkuId(keyring: SpaceKeyring, keyId: string, sku: string): string {
  return keyedId(keyring, [SKU_LABEL, keyId, sku])
}

/** True when `text` has the form of a keyed id (says nothing about which key made it). */
export function isKeyedId(text: unknown): text is string {
  return typeof text === 'string' && KEYED_ID_PATTERN.test(text)
}
