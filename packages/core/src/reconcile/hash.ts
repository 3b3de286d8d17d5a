// Fast non-cryptographic hashing for reconciliation. Everything here is pure 32-bit integer
// arithmetic (Math.imul, shifts), so every platform computes bit-identical results.
//
// An item `(key, stateHash)` is reduced once, on write, to a 64-bit item id (two int32 words, lo
// and hi). Every other per-item quantity (the four fingerprint lanes, the coded-symbol checksum,
// the symbol index sequence, the estimator cell) is derived from the id by an independently
// seeded mixer, so none of them needs to be stored.

const C1 = 0xcc9e2d51
const C2 = 0x1b873593
const C3 = 0x38b34ae5
const C4 = 0xa1e38b93

/** Seeds of the independent mixers (arbitrary odd constants; part of the wire contract). */
export const SEED_FP0 = 0x243f6a88
export const SEED_FP1 = 0x85a308d3
export const SEED_FP2 = 0x13198a2e
export const SEED_FP3 = 0x03707344
export const SEED_CHECK = 0xa4093822
export const SEED_WALK0 = 0x299f31d0
export const SEED_WALK1 = 0x082efa98
export const SEED_ESTIMATE = 0xec4e6c89
export const SEED_ESTIMATE_VALUE = 0x452821e6
export const SEED_MESSAGE = 0x38d01377
const SEED_ID1 = 0xbe5466cf
const SEED_ID2 = 0x34e90c6c

/** murmur3's 32-bit finaliser. */
export function fmix32(x: number): number {
  let h = x
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

/** murmur3_x86_32 of the two words `a, b` with `seed`: an independent 32-bit mixer per seed. */
export function mix2(a: number, b: number, seed: number): number {
  let k = Math.imul(a, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  let h = seed ^ k
  h = (h << 13) | (h >>> 19)
  h = (Math.imul(h, 5) + 0xe6546b64) | 0
  k = Math.imul(b, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  h = (Math.imul(h, 5) + 0xe6546b64) | 0
  h ^= 8
  return fmix32(h)
}

/** The symbol checksum of an item id. */
export function checkOf(lo: number, hi: number): number {
  return mix2(lo, hi, SEED_CHECK)
}

/** Output slots of {@link itemIdInto}. */
export interface IdOut {
  lo: number
  hi: number
}

/**
 * The 64-bit item id of `(key, stateHash[offset .. offset + 32))`, written to `out.lo` / `out.hi`
 * (int32 each). Two murmur3-style lanes with different constants absorb the key's UTF-16 code
 * units (two per word), the key length, then the 8 little-endian words of the state hash, and are
 * cross-mixed at the end (as murmur3_x86_128 does).
 */
export function itemIdInto(key: string, stateHash: Uint8Array, offset: number, out: IdOut): void {
  let h1 = SEED_ID1
  let h2 = SEED_ID2
  const len = key.length
  let i = 0
  for (; i + 1 < len; i += 2) {
    const w = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)
    let k1 = Math.imul(w, C1)
    k1 = (k1 << 15) | (k1 >>> 17)
    h1 ^= Math.imul(k1, C2)
    h1 = (h1 << 13) | (h1 >>> 19)
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0
    let k2 = Math.imul(w, C3)
    k2 = (k2 << 17) | (k2 >>> 15)
    h2 ^= Math.imul(k2, C4)
    h2 = (h2 << 15) | (h2 >>> 17)
    h2 = (Math.imul(h2, 5) + 0x38495ab5) | 0
  }
  // The odd last code unit (if any) and the length are absorbed together, so that keys of
  // different lengths never share a word stream.
  const tail = (i < len ? key.charCodeAt(i) : 0xffff) | 0
  {
    const w = tail ^ Math.imul(len, 0x10001)
    let k1 = Math.imul(w, C1)
    k1 = (k1 << 15) | (k1 >>> 17)
    h1 ^= Math.imul(k1, C2)
    h1 = (h1 << 13) | (h1 >>> 19)
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0
    let k2 = Math.imul(w ^ len, C3)
    k2 = (k2 << 17) | (k2 >>> 15)
    h2 ^= Math.imul(k2, C4)
    h2 = (h2 << 15) | (h2 >>> 17)
    h2 = (Math.imul(h2, 5) + 0x38495ab5) | 0
  }
  for (let j = offset; j < offset + 32; j += 4) {
    const w =
      stateHash[j]! |
      (stateHash[j + 1]! << 8) |
      (stateHash[j + 2]! << 16) |
      (stateHash[j + 3]! << 24)
    let k1 = Math.imul(w, C1)
    k1 = (k1 << 15) | (k1 >>> 17)
    h1 ^= Math.imul(k1, C2)
    h1 = (h1 << 13) | (h1 >>> 19)
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0
    let k2 = Math.imul(w, C3)
    k2 = (k2 << 17) | (k2 >>> 15)
    h2 ^= Math.imul(k2, C4)
    h2 = (h2 << 15) | (h2 >>> 17)
    h2 = (Math.imul(h2, 5) + 0x38495ab5) | 0
  }
  h1 ^= len
  h2 ^= len
  h1 = (h1 + h2) | 0
  h2 = (h2 + h1) | 0
  h1 = fmix32(h1)
  h2 = fmix32(h2)
  h1 = (h1 + h2) | 0
  h2 = (h2 + h1) | 0
  out.lo = h1
  out.hi = h2
}

/** A 32-bit checksum of `bytes[start .. end)` (murmur3_x86_32 over little-endian words). */
export function bytesHash32(bytes: Uint8Array, start: number, end: number): number {
  let h = SEED_MESSAGE
  let i = start
  for (; i + 3 < end; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  let shift = 0
  for (; i < end; i++, shift += 8) k |= bytes[i]! << shift
  if (shift > 0) {
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
  }
  h ^= end - start
  return fmix32(h)
}
