// Record integrity and key encoding shared by adapters.
//
// - CRC-32 (IEEE 802.3, the zlib polynomial, so Node's native `zlib.crc32` gives the same
//   numbers) in pure JavaScript for browsers: slicing-by-8, eight bytes per step.
// - `encodeKey` / `decodeKey`: keys as bytes whose order (memcmp, SQLite's BLOB order, LMDB...)
//   is exactly the contract's UTF-16 code unit order. UTF-8 does not have that property (it puts
//   U+E000..U+FFFF before the astral characters; UTF-16 puts them after), so each UTF-16 code unit
//   is encoded on its own as UTF-8 would encode that value (CESU-8): 1 byte for ASCII, 2 up to
//   U+07FF, 3 above, and 3 for each half of a surrogate pair. The encoding is prefix-free and
//   order-preserving per code unit, hence for whole keys, and as compact as UTF-8 for BMP text.
// - `recordChecksum(key, value)`: the CRC-32 of `encodeKey(key)` followed by the value, so that a
//   damaged value, a damaged checksum or a record found under another key all fail verification.
import { MendsyncError } from '@mendsync/core'
import type { Namespace } from './types.js'

const TABLES = (() => {
  const tables = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    tables[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!
    for (let t = 1; t < 8; t++) {
      c = tables[c & 0xff]! ^ (c >>> 8)
      tables[t * 256 + n] = c
    }
  }
  return tables
})()

// `crc` is the running register (pre-inverted); returns the register.
function updateBytes(crc: number, bytes: Uint8Array): number {
  const t = TABLES
  let c = crc
  let i = 0
  const end8 = bytes.length - 7
  for (; i < end8; i += 8) {
    const lo =
      c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return c
}

// Feeds the `encodeKey` bytes of `key` without materialising them.
function updateKey(crc: number, key: string): number {
  const t = TABLES
  let c = crc
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i)
    if (unit < 0x80) {
      c = t[(c ^ unit) & 0xff]! ^ (c >>> 8)
    } else if (unit < 0x800) {
      c = t[(c ^ (0xc0 | (unit >>> 6))) & 0xff]! ^ (c >>> 8)
      c = t[(c ^ (0x80 | (unit & 0x3f))) & 0xff]! ^ (c >>> 8)
    } else {
      c = t[(c ^ (0xe0 | (unit >>> 12))) & 0xff]! ^ (c >>> 8)
      c = t[(c ^ (0x80 | ((unit >>> 6) & 0x3f))) & 0xff]! ^ (c >>> 8)
      c = t[(c ^ (0x80 | (unit & 0x3f))) & 0xff]! ^ (c >>> 8)
    }
  }
  return c
}

/**
 * The CRC-32 of `bytes`, unsigned, continuing from `previous` (the CRC of the bytes before them),
 * as `zlib.crc32(bytes, previous)` computes it.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return (updateBytes(~previous, bytes) ^ -1) >>> 0
}

/**
 * The checksum of a record: CRC-32 of `encodeKey(key)` followed by `value`, unsigned; equal to
 * `crc32(value, crc32(encodeKey(key)))` and to Node's `zlib.crc32(value, zlib.crc32(encodeKey(key)))`.
 */
export function recordChecksum(key: string, value: Uint8Array): number {
  return (updateBytes(updateKey(-1, key), value) ^ -1) >>> 0
}

/**
 * `key` as order-preserving bytes (CESU-8, see the top of this file): comparing encoded keys
 * byte by byte orders them by UTF-16 code unit, the contract's key order.
 */
export function encodeKey(key: string): Uint8Array {
  let length = key.length
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i)
    if (unit >= 0x80) length += unit < 0x800 ? 1 : 2
  }
  const bytes = new Uint8Array(length)
  if (length === key.length) {
    for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i)
    return bytes
  }
  let j = 0
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i)
    if (unit < 0x80) {
      bytes[j++] = unit
    } else if (unit < 0x800) {
      bytes[j++] = 0xc0 | (unit >>> 6)
      bytes[j++] = 0x80 | (unit & 0x3f)
    } else {
      bytes[j++] = 0xe0 | (unit >>> 12)
      bytes[j++] = 0x80 | ((unit >>> 6) & 0x3f)
      bytes[j++] = 0x80 | (unit & 0x3f)
    }
  }
  return bytes
}

/** The key whose {@link encodeKey} bytes are `bytes`; throws a RangeError on malformed bytes. */
export function decodeKey(bytes: Uint8Array): string {
  const units: number[] = []
  let key = ''
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!
    let unit: number
    if (lead < 0x80) {
      unit = lead
      i += 1
    } else if (lead >= 0xc2 && lead < 0xe0 && i + 1 < bytes.length) {
      unit = ((lead & 0x1f) << 6) | continuation(bytes, i + 1)
      i += 2
    } else if (lead >= 0xe0 && lead < 0xf0 && i + 2 < bytes.length) {
      unit = ((lead & 0x0f) << 12) | (continuation(bytes, i + 1) << 6) | continuation(bytes, i + 2)
      if (unit < 0x800) throw malformedKey(i)
      i += 3
    } else {
      throw malformedKey(i)
    }
    units.push(unit)
    if (units.length === 4096) {
      key += String.fromCharCode(...units)
      units.length = 0
    }
  }
  return key + String.fromCharCode(...units)
}

function continuation(bytes: Uint8Array, index: number): number {
  const byte = bytes[index]!
  if ((byte & 0xc0) !== 0x80) throw malformedKey(index)
  return byte & 0x3f
}

function malformedKey(offset: number): RangeError {
  return new RangeError(`an encoded key is malformed at byte ${offset}`)
}

/**
 * The error for a record that failed its integrity check. `where` names the file or database, so
 * the message says what to restore or delete.
 */
export function corruptRecord(
  where: string,
  namespace: Namespace,
  key: string,
  detail = 'its checksum does not match its bytes',
): MendsyncError {
  return new MendsyncError(
    'STORAGE_CORRUPT',
    `${where}: record ${JSON.stringify(key)} in '${namespace}' is corrupt (${detail}); it was not ` +
      'returned. Restore the store from a backup or a peer, or overwrite the key.',
  )
}
