// The one bounded map of mendsync. Every map keyed by something a peer or a caller chooses (peer
// ids, keys, request ids) has a fixed capacity, so a flood of new keys cannot grow memory.

/** A Map with a capacity that evicts its least recently used entry; `get` and `set` refresh. */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()
  readonly capacity: number
  private readonly onEvict: ((key: K, value: V) => void) | undefined

  /**
   * @param capacity most entries held; `0` holds nothing (a disabled cache).
   * @param onEvict called with each entry pushed out by the capacity (not by `delete`/`clear`).
   */
  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) {
      throw new RangeError(`capacity must be a non-negative integer: ${capacity}`)
    }
    this.capacity = capacity
    this.onEvict = onEvict
  }

  get size(): number {
    return this.entries.size
  }

  /** The value of `key`, marking it the most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  /** The value of `key` without refreshing it. */
  peek(key: K): V | undefined {
    return this.entries.get(key)
  }

  has(key: K): boolean {
    return this.entries.has(key)
  }

  /** Stores `value` as the most recently used entry, evicting the stalest past the capacity. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return
    this.entries.delete(key)
    this.entries.set(key, value)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.entries().next()
      if (oldest.done) break
      this.entries.delete(oldest.value[0])
      this.onEvict?.(oldest.value[0], oldest.value[1])
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  /** Keys from the stalest to the most recently used. */
  keys(): IterableIterator<K> {
    return this.entries.keys()
  }

  /** Values from the stalest to the most recently used. */
  values(): IterableIterator<V> {
    return this.entries.values()
  }

  /** Entries from the stalest to the most recently used. */
  entriesOldestFirst(): IterableIterator<[K, V]> {
    return this.entries.entries()
  }
}

/** A set with a capacity: adding past it forgets the least recently added or refreshed member. */
export class BoundedSet<T> {
  private readonly members: BoundedMap<T, true>

  constructor(capacity: number) {
    this.members = new BoundedMap(capacity)
  }

  get size(): number {
    return this.members.size
  }

  get capacity(): number {
    return this.members.capacity
  }

  has(member: T): boolean {
    return this.members.has(member)
  }

  /** Adds (or refreshes) `member`. */
  add(member: T): void {
    this.members.set(member, true)
  }

  delete(member: T): boolean {
    return this.members.delete(member)
  }

  clear(): void {
    this.members.clear()
  }
}
