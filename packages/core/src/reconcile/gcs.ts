// A Golomb-Rice coded set of item ids: a probabilistic membership filter with no false negatives
// and a false-positive rate of 2^-RICE_BITS, in about RICE_BITS + 1.5 bits per item. The
// recency step sends one over the most recent items so that the peer learns, item by item,
// which of its own recent items are certainly absent on the sender.

import { mix2 } from './hash.js'
import type { Reader, Writer } from './wire.js'

/** Remainder bits per value: false-positive rate 2^-7, about 8.5 bits per item. */
export const RICE_BITS = 7
const SEED_GCS = 0x6a09e667

/** The value of id `(lo, hi)` in a set of `count` items: uniform in `[0, count * 2^RICE_BITS)`. */
export function gcsValue(lo: number, hi: number, count: number): number {
  const h = mix2(lo, hi, SEED_GCS) >>> 0
  return Math.floor((h * count * 2 ** RICE_BITS) / 4294967296)
}

/** Writes the coded set of the ids `lo[i], hi[i]` for `i` in `[from, to)` (byte length first). */
export function writeGcs(w: Writer, lo: Int32Array, hi: Int32Array, from: number, to: number) {
  const count = to - from
  const values = new Float64Array(count)
  for (let i = from; i < to; i++) values[i - from] = gcsValue(lo[i]!, hi[i]!, count)
  values.sort()
  const bits = new BitWriter(Math.ceil((count * (RICE_BITS + 3)) / 8) + 8)
  let prev = 0
  for (let i = 0; i < count; i++) {
    const gap = values[i]! - prev
    prev = values[i]!
    bits.unary(Math.floor(gap / 2 ** RICE_BITS))
    bits.bits(gap % 2 ** RICE_BITS, RICE_BITS)
  }
  const bytes = bits.finish()
  w.varint(bytes.length)
  w.raw(bytes)
}

/** Reads a coded set of `count` values written by {@link writeGcs}; every field is checked. */
export function readGcs(r: Reader, count: number): Set<number> {
  const length = r.varint('coded set length', Math.ceil((count * (RICE_BITS + 3)) / 8) + 8)
  const bytes = r.raw(length, 'coded set')
  const range = count * 2 ** RICE_BITS
  const out = new Set<number>()
  let pos = 0
  const total = 8 * length
  const bit = () => {
    if (pos >= total) r.fail('truncated coded set')
    const b = (bytes[pos >>> 3]! >>> (pos & 7)) & 1
    pos++
    return b
  }
  let value = 0
  for (let i = 0; i < count; i++) {
    let q = 0
    while (bit() === 1) {
      q++
      if (q * 2 ** RICE_BITS >= range) r.fail('coded set value out of range')
    }
    let rem = 0
    for (let k = 0; k < RICE_BITS; k++) rem |= bit() << k
    value += q * 2 ** RICE_BITS + rem
    if (value >= range) r.fail('coded set value out of range')
    out.add(value)
  }
  if (total - pos >= 8) r.fail('coded set longer than its values')
  while (pos < total) if (bit() !== 0) r.fail('nonzero padding in coded set')
  return out
}

class BitWriter {
  #bytes: Uint8Array
  #pos = 0

  constructor(capacity: number) {
    this.#bytes = new Uint8Array(capacity)
  }

  #grow(): void {
    const b = new Uint8Array(2 * this.#bytes.length)
    b.set(this.#bytes)
    this.#bytes = b
  }

  #bit(b: number): void {
    if (this.#pos >>> 3 >= this.#bytes.length) this.#grow()
    if (b !== 0) {
      const at = this.#pos >>> 3
      this.#bytes[at] = this.#bytes[at]! | (1 << (this.#pos & 7))
    }
    this.#pos++
  }

  unary(q: number): void {
    for (let i = 0; i < q; i++) this.#bit(1)
    this.#bit(0)
  }

  bits(value: number, n: number): void {
    for (let k = 0; k < n; k++) this.#bit((value >>> k) & 1)
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, (this.#pos + 7) >>> 3)
  }
}
