// An open-addressing hash map from 64-bit item ids (two int32 words) to non-negative int32
// values, in typed arrays: no per-entry objects, no string keys.

export class IdMap {
  #lo: Int32Array
  #hi: Int32Array
  /** value + 1; 0 marks an empty slot. */
  #val: Int32Array
  #mask: number
  #size = 0

  constructor(expected = 8) {
    let cap = 16
    while (cap < expected * 2) cap *= 2
    this.#lo = new Int32Array(cap)
    this.#hi = new Int32Array(cap)
    this.#val = new Int32Array(cap)
    this.#mask = cap - 1
  }

  get size(): number {
    return this.#size
  }

  #slot(lo: number, hi: number): number {
    const mask = this.#mask
    const keysLo = this.#lo
    const keysHi = this.#hi
    const vals = this.#val
    let i = (lo ^ Math.imul(hi, 0x9e3779b1) ^ (hi >>> 15)) & mask
    while (vals[i] !== 0 && (keysLo[i] !== lo || keysHi[i] !== hi)) i = (i + 1) & mask
    return i
  }

  /** The value of `(lo, hi)`, or -1 when absent. */
  get(lo: number, hi: number): number {
    return this.#val[this.#slot(lo, hi)]! - 1
  }

  has(lo: number, hi: number): boolean {
    return this.#val[this.#slot(lo, hi)] !== 0
  }

  /** Adds `(lo, hi) -> value` (value >= 0); returns false (and changes nothing) when present. */
  add(lo: number, hi: number, value: number): boolean {
    const i = this.#slot(lo, hi)
    if (this.#val[i] !== 0) return false
    this.#lo[i] = lo
    this.#hi[i] = hi
    this.#val[i] = value + 1
    this.#size++
    if (this.#size * 2 > this.#mask) this.#rehash()
    return true
  }

  /** Overwrites the value of a present id; returns false when absent. */
  set(lo: number, hi: number, value: number): boolean {
    const i = this.#slot(lo, hi)
    if (this.#val[i] === 0) return false
    this.#val[i] = value + 1
    return true
  }

  #rehash(): void {
    const oldLo = this.#lo
    const oldHi = this.#hi
    const oldVal = this.#val
    const cap = oldVal.length * 2
    this.#lo = new Int32Array(cap)
    this.#hi = new Int32Array(cap)
    this.#val = new Int32Array(cap)
    this.#mask = cap - 1
    for (let i = 0; i < oldVal.length; i++) {
      if (oldVal[i] === 0) continue
      const j = this.#slot(oldLo[i]!, oldHi[i]!)
      this.#lo[j] = oldLo[i]!
      this.#hi[j] = oldHi[i]!
      this.#val[j] = oldVal[i]!
    }
  }
}

/**
 * A 2^16-bit bitmap over the top 16 bits of `lo`: a one-bit-test "maybe" before an IdMap lookup,
 * which makes a scan of a million ids against a few thousand cost about 2 ms.
 */
export class IdFilter {
  readonly #bits = new Int32Array(2048)

  add(lo: number): void {
    const b = lo >>> 16
    this.#bits[b >>> 5] = this.#bits[b >>> 5]! | (1 << (b & 31))
  }

  mayHave(lo: number): boolean {
    const b = lo >>> 16
    return (this.#bits[b >>> 5]! & (1 << (b & 31))) !== 0
  }
}
