// The two replicas a reconciliation bench compares: deterministic keys, random 32-byte state
// hashes, and a difference placed by a named pattern. The mendsync grid and the negentropy
// comparison build their sides from the same scenario, so both reconcile the same sets.

/** Where the difference between the two sides lies. */
export type Pattern = 'uniform' | 'clustered' | 'one-sided' | 'versions' | 'mixed'

/** Every pattern, in the order benches print them. */
export const PATTERNS: readonly Pattern[] = [
  'uniform',
  'one-sided',
  'versions',
  'clustered',
  'mixed',
]

/** xorshift32, seeded: reproducible data. */
export function rng(seed: number): () => number {
  let s = seed | 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return s >>> 0
  }
}

/** Time-ordered keys: "key:" + 10-digit counter, so key order is creation order. */
export function makeKeys(count: number): string[] {
  const keys = new Array<string>(count)
  for (let i = 0; i < count; i++) keys[i] = `key:${String(i * 7).padStart(10, '0')}`
  return keys
}

/** Fills `bytes` (length a multiple of 4) from `next`. */
export function fillRandom(bytes: Uint8Array, next: () => number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2)
  for (let i = 0; i < words.length; i++) words[i] = next()
}

/** One replica: its keys in order, their 32-byte state hashes, and each state's time. */
export interface Side {
  readonly keys: readonly string[]
  /** `32 * keys.length` bytes: the state hash of `keys[i]` at `32 * i`. */
  readonly hashes: Uint8Array
  /**
   * The time of the last change of `keys[i]`'s state: its position in the key pool (the time it
   * was created), or, for a state changed on B, a time after every key's creation.
   */
  readonly times: Float64Array
}

/** Two replicas and the keys on which they differ. */
export interface Scenario {
  readonly a: Side
  readonly b: Side
  /** The keys of the true difference (held by one side only, or with different states). */
  readonly expected: ReadonlySet<string>
}

function pickDistinct(count: number, from: number, next: () => number, taken: Set<number>) {
  const chosen: number[] = []
  while (chosen.length < count) {
    const i = next() % from
    if (taken.has(i)) continue
    taken.add(i)
    chosen.push(i)
  }
  return chosen
}

/**
 * A scenario over the first `n + d` keys of `pool` (`n` for `versions`), differing by `d` keys:
 * - `uniform`: d random keys, alternately only on A and only on B;
 * - `clustered`: the d most recent keys, alternately only on A and only on B;
 * - `one-sided`: B has d random keys A lacks (A is a subset of B);
 * - `versions`: both have the same keys and d of them carry different states on each side (B
 *   changed them after every key was created, so B's states are the newest);
 * - `mixed`: a quarter of d each of `clustered`, `one-sided` and `versions`, the rest `uniform`.
 */
export function scenario(
  pool: readonly string[],
  n: number,
  d: number,
  pattern: Pattern,
): Scenario {
  const next = rng(0x5eed ^ (n * 31 + d * 7 + pattern.length))
  const total = pattern === 'versions' ? n : n + d
  if (pool.length < total)
    throw new Error(`scenario: the pool holds ${pool.length} < ${total} keys`)
  const hashes = new Uint8Array(32 * total)
  fillRandom(hashes, next)
  const aOnly = new Set<number>()
  const bOnly = new Set<number>()
  const changed = new Set<number>()
  const taken = new Set<number>()
  const alternate = (indices: readonly number[]) =>
    indices.forEach((i, k) => {
      ;(k % 2 === 0 ? aOnly : bOnly).add(i)
    })
  const recent = (count: number) => {
    const indices: number[] = []
    for (let k = 0; k < count; k++) indices.push(total - count + k)
    for (const i of indices) taken.add(i)
    return indices
  }
  const quarter = pattern === 'mixed' ? Math.floor(d / 4) : 0
  switch (pattern) {
    case 'uniform':
      alternate(pickDistinct(d, total, next, taken))
      break
    case 'clustered':
      alternate(recent(d))
      break
    case 'one-sided':
      for (const i of pickDistinct(d, total, next, taken)) bOnly.add(i)
      break
    case 'versions':
      for (const i of pickDistinct(d, total, next, taken)) changed.add(i)
      break
    case 'mixed':
      alternate(recent(quarter))
      for (const i of pickDistinct(quarter, total, next, taken)) bOnly.add(i)
      for (const i of pickDistinct(quarter, total, next, taken)) changed.add(i)
      alternate(pickDistinct(d - 3 * quarter, total, next, taken))
      break
  }
  // A changed state hashes to an unrelated value, as a real new state does (not a bit flip of the
  // old hash: negentropy's additive fingerprints would cancel such flips in pairs).
  // B changed them in random order after every key was created: each change is a later time.
  const changedHashes = new Map<number, Uint8Array>()
  const changedTimes = new Map<number, number>()
  const nextChanged = rng(0xc4a9 ^ (n * 13 + d))
  for (const i of changed) {
    const hash = new Uint8Array(32)
    fillRandom(hash, nextChanged)
    changedHashes.set(i, hash)
    changedTimes.set(i, total + changedTimes.size)
  }
  const build = (skip: ReadonlySet<number>, alt: boolean): Side => {
    const keys: string[] = []
    const out = new Uint8Array(32 * (total - skip.size))
    const times = new Float64Array(total - skip.size)
    let j = 0
    for (let i = 0; i < total; i++) {
      if (skip.has(i)) continue
      keys.push(pool[i]!)
      times[j] = (alt ? changedTimes.get(i) : undefined) ?? i
      const changedHash = alt ? changedHashes.get(i) : undefined
      out.set(changedHash ?? hashes.subarray(32 * i, 32 * i + 32), 32 * j)
      j++
    }
    return { keys, hashes: out, times }
  }
  const expected = new Set<string>()
  for (const i of [...aOnly, ...bOnly, ...changed]) expected.add(pool[i]!)
  return { a: build(bOnly, false), b: build(aOnly, true), expected }
}

/** CPU time (user + system, ms) that `f` takes. */
export function cpuMs(f: () => void): number {
  const start = process.cpuUsage()
  f()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}
