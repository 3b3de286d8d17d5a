/**
 * Deterministic pseudo-random numbers (mulberry32) for tests, fuzzers and benches, so a failure
 * reproduces from its seed. Not for anything secret: use `randomBytes` for ids and keys.
 */
export interface SeededRandom {
  /** A number in [0, 1). */
  next(): number
  /** An integer in [0, n). */
  int(n: number): number
  /** `length` pseudo-random bytes. */
  bytes(length: number): Uint8Array
}

/** The generator for `seed` (any 32-bit integer; the same seed gives the same sequence). */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bytes(length) {
      const out = new Uint8Array(length)
      for (let i = 0; i < length; i += 4) {
        const word = (next() * 4294967296) >>> 0
        out[i] = word
        if (i + 1 < length) out[i + 1] = word >>> 8
        if (i + 2 < length) out[i + 2] = word >>> 16
        if (i + 3 < length) out[i + 3] = word >>> 24
      }
      return out
    },
  }
}
