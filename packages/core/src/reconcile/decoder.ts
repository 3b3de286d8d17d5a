// Incremental peeling decoder of difference symbols (local minus peer), extended as the peer's
// symbols arrive. Counts are kept modulo 4 (two bits travel on the wire): a symbol is pure when
// its count is +-1 (mod 4), its checksum matches its id and the id's own index sequence passes
// through the symbol. Recovered ids are removed from every symbol they map to, including symbols
// that arrive later.

import { checkOf } from './hash.js'
import { IdMap } from './idset.js'
import { Walk } from './symbols.js'

export class Decoder {
  /** Difference symbols: ids, checksums, count mod 4. */
  lo = new Int32Array(64)
  hi = new Int32Array(64)
  check = new Int32Array(64)
  count = new Uint8Array(64)
  /** 1 where the raw difference symbol (before peeling) was empty: input of the estimator. */
  rawEmpty = new Uint8Array(64)
  /** Symbols received so far. */
  length = 0
  /** Symbols in [0, length) that are not (yet) zero. */
  nonzero = 0
  /** Recovered ids, their side (1 local-only, -1 peer-only) and their walk state past `length`. */
  recLo = new Int32Array(16)
  recHi = new Int32Array(16)
  recSign = new Int8Array(16)
  recS0 = new Int32Array(16)
  recS1 = new Int32Array(16)
  recNext = new Float64Array(16)
  recEnd = new Float64Array(16)
  recovered = 0
  /** Set when an id was recovered twice: the decoding went wrong (a false pure symbol). */
  corrupt = false
  #recSet = new IdMap(16)
  #walk = new Walk()
  #queue = new Int32Array(64)
  #queued = 0
  #path = new Float64Array(64)

  /** True when every received symbol peeled to zero: the difference is fully recovered. */
  get complete(): boolean {
    return this.nonzero === 0 && !this.corrupt
  }

  #growSymbols(length: number): void {
    if (length <= this.lo.length) return
    let cap = this.lo.length
    while (cap < length) cap *= 2
    const grow32 = (a: Int32Array) => {
      const b = new Int32Array(cap)
      b.set(a)
      return b
    }
    const grow8 = (a: Uint8Array) => {
      const b = new Uint8Array(cap)
      b.set(a)
      return b
    }
    this.lo = grow32(this.lo)
    this.hi = grow32(this.hi)
    this.check = grow32(this.check)
    this.count = grow8(this.count)
    this.rawEmpty = grow8(this.rawEmpty)
  }

  #growRecovered(): void {
    const cap = this.recLo.length * 2
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap)
      b.set(a)
      return b
    }
    this.recLo = g32(this.recLo)
    this.recHi = g32(this.recHi)
    this.recS0 = g32(this.recS0)
    this.recS1 = g32(this.recS1)
    const sign = new Int8Array(cap)
    sign.set(this.recSign)
    this.recSign = sign
    const next = new Float64Array(cap)
    next.set(this.recNext)
    this.recNext = next
    const end = new Float64Array(cap)
    end.set(this.recEnd)
    this.recEnd = end
  }

  #push(i: number): void {
    if (this.#queued === this.#queue.length) {
      const q = new Int32Array(this.#queue.length * 2)
      q.set(this.#queue)
      this.#queue = q
    }
    this.#queue[this.#queued++] = i
  }

  /**
   * Appends difference symbols `[length, length + n)`: local symbol (lo, hi, check, count) minus
   * the peer's, given by the accessor arrays at offset `peerOffset`. Then peels.
   */
  extend(
    n: number,
    local: { lo: Int32Array; hi: Int32Array; check: Int32Array; count: Int32Array },
    peerLo: Int32Array,
    peerHi: Int32Array,
    peerCheck: Int32Array,
    peerCount: Uint8Array,
  ): void {
    const start = this.length
    const end = start + n
    this.#growSymbols(end)
    const lo = this.lo
    const hi = this.hi
    const check = this.check
    const count = this.count
    for (let j = 0; j < n; j++) {
      const i = start + j
      const l = local.lo[i]! ^ peerLo[j]!
      const h = local.hi[i]! ^ peerHi[j]!
      const c = local.check[i]! ^ peerCheck[j]!
      const k = (local.count[i]! - peerCount[j]!) & 3
      lo[i] = l
      hi[i] = h
      check[i] = c
      count[i] = k
      const empty = l === 0 && h === 0 && c === 0 && k === 0
      this.rawEmpty[i] = empty ? 1 : 0
    }
    // Remove the already recovered ids from the new symbols.
    const walk = this.#walk
    for (let r = 0; r < this.recovered; r++) {
      let next = this.recNext[r]!
      if (next >= end) continue
      const rl = this.recLo[r]!
      const rh = this.recHi[r]!
      const rc = checkOf(rl, rh)
      const sign = this.recSign[r]!
      walk.lo = rl
      walk.hi = rh
      walk.s0 = this.recS0[r]!
      walk.s1 = this.recS1[r]!
      walk.index = next
      walk.end = this.recEnd[r]!
      while (next < end) {
        lo[next] = lo[next]! ^ rl
        hi[next] = hi[next]! ^ rh
        check[next] = check[next]! ^ rc
        count[next] = (count[next]! - sign) & 3
        next = walk.next()
      }
      this.recS0[r] = walk.s0
      this.recS1[r] = walk.s1
      this.recNext[r] = next
      this.recEnd[r] = walk.end
    }
    this.length = end
    for (let i = start; i < end; i++) {
      if (lo[i] !== 0 || hi[i] !== 0 || check[i] !== 0 || count[i] !== 0) {
        this.nonzero++
        this.#push(i)
      }
    }
    this.#peel()
  }

  #peel(): void {
    const lo = this.lo
    const hi = this.hi
    const check = this.check
    const count = this.count
    const length = this.length
    const walk = this.#walk
    while (this.#queued > 0) {
      const i = this.#queue[--this.#queued]!
      const k = count[i]!
      if (k !== 1 && k !== 3) continue
      const l = lo[i]!
      const h = hi[i]!
      if (checkOf(l, h) !== check[i]) continue
      // The id's own sequence must pass through i, else the symbol only looks pure.
      let n = 0
      let hit = false
      walk.start(l, h)
      let j = 0
      while (j < length) {
        if (n === this.#path.length) {
          const p = new Float64Array(n * 2)
          p.set(this.#path)
          this.#path = p
        }
        this.#path[n++] = j
        if (j === i) hit = true
        j = walk.next()
      }
      if (!hit) continue
      if (!this.#recSet.add(l, h, this.recovered)) {
        this.corrupt = true
        return
      }
      const sign = k === 1 ? 1 : -1
      const c = check[i]!
      for (let p = 0; p < n; p++) {
        const s = this.#path[p]!
        const wasZero = lo[s] === 0 && hi[s] === 0 && check[s] === 0 && count[s] === 0
        lo[s] = lo[s]! ^ l
        hi[s] = hi[s]! ^ h
        check[s] = check[s]! ^ c
        count[s] = (count[s]! - sign) & 3
        const isZero = lo[s] === 0 && hi[s] === 0 && check[s] === 0 && count[s] === 0
        if (wasZero !== isZero) this.nonzero += isZero ? -1 : 1
        if (!isZero) this.#push(s)
      }
      if (this.recovered === this.recLo.length) this.#growRecovered()
      const r = this.recovered++
      this.recLo[r] = l
      this.recHi[r] = h
      this.recSign[r] = sign
      this.recS0[r] = walk.s0
      this.recS1[r] = walk.s1
      this.recNext[r] = j
      this.recEnd[r] = walk.end
    }
  }
}
