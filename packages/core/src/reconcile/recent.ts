// The recency index of a tree: the items whose time of last change is at or after a floor, in
// time order. A partition or an offline device leaves its differences among the most recent
// items; the recency step of a session compares this order first (docs/reconcile.md).

/** Default number of most recent items a tree keeps in time order. */
export const DEFAULT_RECENT_WINDOW = 131_072

/** The recent items at one moment, ascending by (time, id lo, id hi). */
export interface RecentSnapshot {
  readonly times: Float64Array
  readonly lo: Int32Array
  readonly hi: Int32Array
  readonly keys: readonly string[]
  /** Every item with a time >= floor is here (-Infinity: every item that has a time). */
  readonly floor: number
}

interface Entry {
  readonly time: number
  readonly lo: number
  readonly hi: number
}

const EMPTY: RecentSnapshot = {
  times: new Float64Array(0),
  lo: new Int32Array(0),
  hi: new Int32Array(0),
  keys: [],
  floor: Number.NEGATIVE_INFINITY,
}

function compare(ta: number, la: number, ha: number, tb: number, lb: number, hb: number): number {
  return ta !== tb ? ta - tb : la !== lb ? la - lb : ha - hb
}

/** Sorts `(key, entry)` pairs into a snapshot with floor `floor`. */
function sorted(pairs: [string, Entry][], floor: number): RecentSnapshot {
  pairs.sort((a, b) => compare(a[1].time, a[1].lo, a[1].hi, b[1].time, b[1].lo, b[1].hi))
  const n = pairs.length
  const times = new Float64Array(n)
  const lo = new Int32Array(n)
  const hi = new Int32Array(n)
  const keys = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    const [key, e] = pairs[i]!
    times[i] = e.time
    lo[i] = e.lo
    hi[i] = e.hi
    keys[i] = key
  }
  return { times, lo, hi, keys, floor }
}

/**
 * Keeps every item whose time is at or after `floor`, and raises the floor (dropping the oldest)
 * when it holds more than twice its capacity, so it always holds between `capacity` and
 * `2 * capacity` items once that many have times. Writes cost O(1) amortised; a snapshot costs a
 * merge of the items changed since the last one.
 */
export class RecentWindow {
  readonly #capacity: number
  #floor = Number.NEGATIVE_INFINITY
  readonly #entries = new Map<string, Entry>()
  #snapshot: RecentSnapshot = EMPTY
  /** Keys written since #snapshot was taken. */
  readonly #changed = new Set<string>()
  /** #snapshot is to be rebuilt from the entries (too many changes to merge). */
  #stale = false

  /** `capacity` 0: a window that holds nothing and offers nothing (its floor is +Infinity). */
  constructor(capacity: number) {
    this.#capacity = capacity
    if (capacity === 0) {
      this.#floor = Number.POSITIVE_INFINITY
      this.#snapshot = { ...EMPTY, floor: this.#floor }
    }
  }

  /** Items held. */
  get size(): number {
    return this.#entries.size
  }

  /** Records the item of `key` (`time` undefined: the key has no time and leaves the window). */
  set(key: string, lo: number, hi: number, time: number | undefined): void {
    if (time === undefined || time < this.#floor) {
      if (this.#entries.delete(key)) this.#changed.add(key)
      return
    }
    this.#entries.set(key, { time, lo, hi })
    this.#note(key)
    if (this.#entries.size > 2 * this.#capacity) this.#compact(this.#capacity)
  }

  /** Forgets `key`. */
  delete(key: string): void {
    if (this.#entries.delete(key)) this.#note(key)
  }

  /** Remembers a changed key for the next snapshot's merge (bounded: past that, a rebuild). */
  #note(key: string): void {
    if (this.#stale) return
    this.#changed.add(key)
    if (this.#changed.size > 2 * this.#capacity) {
      this.#stale = true
      this.#changed.clear()
    }
  }

  /** Replaces the content by the timed items of a bulk load (`times[i]` NaN: no time). */
  load(keys: readonly string[], ids: Int32Array, times: Float64Array): void {
    if (this.#capacity === 0) return
    this.#entries.clear()
    this.#changed.clear()
    this.#stale = false
    this.#floor = Number.NEGATIVE_INFINITY
    let timed = 0
    for (let i = 0; i < times.length; i++) if (!Number.isNaN(times[i]!)) timed++
    let floor = Number.NEGATIVE_INFINITY
    if (timed > this.#capacity) {
      const all = new Float64Array(timed)
      let k = 0
      for (let i = 0; i < times.length; i++) if (!Number.isNaN(times[i]!)) all[k++] = times[i]!
      all.sort()
      floor = all[timed - this.#capacity]!
    }
    const pairs: [string, Entry][] = []
    for (let i = 0; i < keys.length; i++) {
      const time = times[i]!
      if (Number.isNaN(time) || time < floor) continue
      const entry = { time, lo: ids[2 * i]!, hi: ids[2 * i + 1]! }
      this.#entries.set(keys[i]!, entry)
      pairs.push([keys[i]!, entry])
    }
    this.#floor = floor
    this.#snapshot = sorted(pairs, floor)
  }

  /**
   * Keeps the newest `keep` items (and every item tied with the oldest of them). The snapshot
   * is left as it is: the next one drops what falls below the new floor as it merges.
   */
  #compact(keep: number): void {
    const times = new Float64Array(this.#entries.size)
    let k = 0
    for (const entry of this.#entries.values()) times[k++] = entry.time
    times.sort()
    const floor = times[times.length - keep]!
    for (const [key, entry] of this.#entries) if (entry.time < floor) this.#entries.delete(key)
    this.#floor = floor
  }

  /** The items now, in time order (shared until the next write: do not modify). */
  snapshot(): RecentSnapshot {
    if (this.#stale) {
      this.#snapshot = sorted([...this.#entries], this.#floor)
      this.#stale = false
    } else if (this.#changed.size > 0 || this.#snapshot.floor !== this.#floor) {
      const old = this.#snapshot
      // Merge: the old order without the changed keys, and the changed keys' current items.
      const added: [string, Entry][] = []
      for (const key of this.#changed) {
        const entry = this.#entries.get(key)
        if (entry !== undefined) added.push([key, entry])
      }
      const fresh = sorted(added, this.#floor)
      const n = this.#entries.size
      const times = new Float64Array(n)
      const lo = new Int32Array(n)
      const hi = new Int32Array(n)
      const keys = new Array<string>(n)
      let i = 0
      let j = 0
      let k = 0
      const m = fresh.keys.length
      while (k < n) {
        while (
          i < old.keys.length &&
          (old.times[i]! < this.#floor || this.#changed.has(old.keys[i]!))
        )
          i++
        const takeOld =
          i < old.keys.length &&
          (j >= m ||
            compare(
              old.times[i]!,
              old.lo[i]!,
              old.hi[i]!,
              fresh.times[j]!,
              fresh.lo[j]!,
              fresh.hi[j]!,
            ) < 0)
        const from = takeOld ? old : fresh
        const at = takeOld ? i++ : j++
        times[k] = from.times[at]!
        lo[k] = from.lo[at]!
        hi[k] = from.hi[at]!
        keys[k] = from.keys[at]!
        k++
      }
      this.#snapshot = { times, lo, hi, keys, floor: this.#floor }
    }
    this.#changed.clear()
    return this.#snapshot
  }
}

/** The first index of `snapshot` whose time is >= `time`. */
export function firstAtOrAfter(times: Float64Array, time: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! < time) lo = mid + 1
    else hi = mid
  }
  return lo
}
