// Rateless coded symbols (Yang et al. 2024, "Practical Rateless Set Reconciliation") and the
// difference-size estimator, over 64-bit item ids.
//
// Every item maps to an infinite, increasing sequence of symbol indices starting at 0; index i is
// hit with probability about 2 / (i + 2) (alpha = 1/2 in the paper), so an item touches about
// 2 ln(m) of the first m symbols. A symbol holds the XOR of the ids and of the checksums of its
// items and their count. Subtracting the peer's symbols from ours gives the symbols of the
// symmetric difference, which peel like an IBLT; any prefix of the sequence works, so the number
// of symbols is chosen after the fact (rateless).

import {
  checkOf,
  mix2,
  SEED_ESTIMATE,
  SEED_ESTIMATE_VALUE,
  SEED_WALK0,
  SEED_WALK1,
} from './hash.js'

/** The index sequence restarts, freshly seeded, at 4096, 16384, 65536, ... (4096 * 4^k). */
export const FIRST_BLOCK = 4096

/**
 * An item's symbol index sequence: xoroshiro64** seeded from the id, gaps drawn so that
 * P(next > j | last hit i) = ((i + 1.5) / (j + 1.5))^2. Under that law, whether index j is hit
 * does not depend on earlier hits (P(hit j) = 1 - ((j + 0.5) / (j + 1.5))^2, about 2 / (j + 2)),
 * so the sequence may restart at any index from a fresh seed without changing its distribution.
 * It does so at block boundaries, so that symbols past a boundary are computed without walking
 * the indices before it (a scan for symbols [4096, 20000) takes ~5 steps per item, not ~20).
 */
export class Walk {
  s0 = 0
  s1 = 0
  /** The current index. */
  index = 0
  /** End (exclusive) of the current block. */
  end = FIRST_BLOCK
  lo = 0
  hi = 0

  #seed(blockStart: number): void {
    let s0 = mix2(this.lo, this.hi, SEED_WALK0 ^ blockStart)
    const s1 = mix2(this.hi, this.lo, SEED_WALK1 ^ blockStart)
    if (s0 === 0 && s1 === 0) s0 = 0x9e3779b9 | 0
    this.s0 = s0
    this.s1 = s1
  }

  /** Starts the sequence of id `(lo, hi)`; `index` is 0 (every item maps to symbol 0). */
  start(lo: number, hi: number): void {
    this.lo = lo
    this.hi = hi
    this.#seed(0)
    this.index = 0
    this.end = FIRST_BLOCK
  }

  /** Starts the sequence of id `(lo, hi)` at its first index >= `from`, and returns it. */
  startAt(lo: number, hi: number, from: number): number {
    if (from < FIRST_BLOCK) {
      this.start(lo, hi)
      let i = 0
      while (i < from) i = this.next()
      return i
    }
    this.lo = lo
    this.hi = hi
    let a = FIRST_BLOCK
    while (a * 4 <= from) a *= 4
    // Enter block [a, 4a) as if the last hit were at a - 1.
    this.end = a
    let i = this.#cross()
    while (i < from) i = this.next()
    return i
  }

  /** The next hit after `i` with the current generator state. */
  #step(i: number): number {
    const s0 = this.s0
    let s1 = this.s1
    let r = Math.imul(s0, 0x9e3779bb)
    r = Math.imul((r << 5) | (r >>> 27), 5)
    s1 ^= s0
    this.s0 = ((s0 << 26) | (s0 >>> 6)) ^ s1 ^ (s1 << 9)
    this.s1 = (s1 << 13) | (s1 >>> 19)
    // 65536 / sqrt(u * 2^32) with u in (0, 1]: 1 / sqrt(u).
    const gap = Math.ceil((i + 1.5) * (65536 / Math.sqrt((r >>> 0) + 1) - 1))
    return gap < 1 ? i + 1 : i + gap
  }

  /** Moves into the next block(s) until a hit lands inside one; returns it. */
  #cross(): number {
    for (;;) {
      const a = this.end
      this.end = a * 4
      this.#seed(a)
      const i = this.#step(a - 1)
      this.index = i
      if (i < this.end) return i
    }
  }

  /** Advances to the next index of the sequence and returns it. */
  next(): number {
    const i = this.#step(this.index)
    if (i < this.end) {
      this.index = i
      return i
    }
    return this.#cross()
  }
}

/** Coded symbols `[0, length)`: XOR of ids (lo, hi), XOR of checksums, signed count. */
export class Symbols {
  lo: Int32Array
  hi: Int32Array
  check: Int32Array
  count: Int32Array
  length: number

  constructor(length: number) {
    this.lo = new Int32Array(length)
    this.hi = new Int32Array(length)
    this.check = new Int32Array(length)
    this.count = new Int32Array(length)
    this.length = length
  }

  /** Grows the capacity to at least `length` symbols (new symbols are zero). */
  grow(length: number): void {
    if (length <= this.lo.length) {
      this.length = Math.max(this.length, length)
      return
    }
    const cap = Math.max(length, this.lo.length * 2)
    const lo = new Int32Array(cap)
    lo.set(this.lo)
    const hi = new Int32Array(cap)
    hi.set(this.hi)
    const check = new Int32Array(cap)
    check.set(this.check)
    const count = new Int32Array(cap)
    count.set(this.count)
    this.lo = lo
    this.hi = hi
    this.check = check
    this.count = count
    this.length = length
  }

  clone(): Symbols {
    const copy = new Symbols(0)
    copy.lo = this.lo.slice(0, this.length)
    copy.hi = this.hi.slice(0, this.length)
    copy.check = this.check.slice(0, this.length)
    copy.count = this.count.slice(0, this.length)
    copy.length = this.length
    return copy
  }
}

/**
 * Adds (`sign` 1) or removes (`sign` -1) the item `(lo, hi)` to the symbols with indices in
 * `[from, to)`, walking its sequence with `walk`.
 */
export function applyItem(
  symbols: Symbols,
  walk: Walk,
  lo: number,
  hi: number,
  sign: number,
  from: number,
  to: number,
): void {
  if (to <= 0) return
  const check = checkOf(lo, hi)
  const sl = symbols.lo
  const sh = symbols.hi
  const sc = symbols.check
  const sn = symbols.count
  let i = walk.startAt(lo, hi, from)
  while (i < to) {
    sl[i] = sl[i]! ^ lo
    sh[i] = sh[i]! ^ hi
    sc[i] = sc[i]! ^ check
    sn[i] = sn[i]! + sign
    i = walk.next()
  }
}

// ---- difference-size estimator -------------------------------------------------------------

/** Estimator levels: an item lands on level min(clz32(h), LEVELS - 1), i.e. with P = 2^-(l+1). */
export const ESTIMATOR_LEVELS = 16
/** log2 of the buckets per level. */
export const ESTIMATOR_BUCKET_BITS = 6
export const ESTIMATOR_BUCKETS = 1 << ESTIMATOR_BUCKET_BITS
/** Cells of the estimator. */
export const ESTIMATOR_CELLS = ESTIMATOR_LEVELS * ESTIMATOR_BUCKETS
/** Bits of each estimator cell sent on the wire. */
export const ESTIMATOR_WIRE_BITS = 2

/** The estimator cell of item `(lo, hi)`. */
export function estimatorCell(lo: number, hi: number): number {
  const h = mix2(lo, hi, SEED_ESTIMATE)
  let level = Math.clz32(h)
  if (level >= ESTIMATOR_LEVELS) level = ESTIMATOR_LEVELS - 1
  return level * ESTIMATOR_BUCKETS + (h & (ESTIMATOR_BUCKETS - 1))
}

/** The value an item XORs into its estimator cell. */
export function estimatorValue(lo: number, hi: number): number {
  return mix2(hi, lo, SEED_ESTIMATE_VALUE)
}

/** Probability that one item lands in estimator cell `cell`. */
export function estimatorCellProbability(cell: number): number {
  const level = Math.floor(cell / ESTIMATOR_BUCKETS)
  const p = level === ESTIMATOR_LEVELS - 1 ? 2 ** -(ESTIMATOR_LEVELS - 1) : 2 ** -(level + 1)
  return p / ESTIMATOR_BUCKETS
}

/** Probability that one item maps to coded symbol `index` (about 2 / (index + 2)). */
export function symbolProbability(index: number): number {
  return index === 0 ? 1 : 1 - ((index + 0.5) / (index + 1.5)) ** 2
}
