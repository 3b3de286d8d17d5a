// Bounded bookkeeping for state keyed by peer input: every map here has a fixed capacity and
// evicts its least recently used entry, so a flood of new peer ids or senders cannot grow memory.

/** A Map with a capacity; `get` and `set` refresh an entry, the stalest entry is evicted. */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()
  readonly capacity: number

  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(`capacity must be a positive integer: ${capacity}`)
    }
    this.capacity = capacity
  }

  get size(): number {
    return this.entries.size
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  /** Reads without refreshing. */
  peek(key: K): V | undefined {
    return this.entries.get(key)
  }

  has(key: K): boolean {
    return this.entries.has(key)
  }

  set(key: K, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next()
      if (oldest.done) break
      this.entries.delete(oldest.value)
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  keys(): IterableIterator<K> {
    return this.entries.keys()
  }
}

/** Token-bucket rate limits per key (bounded number of keys). */
export class RateLimiter {
  private readonly buckets: BoundedMap<string, { tokens: number; at: number }>
  private readonly perSecond: number
  private readonly burst: number
  private readonly now: () => number

  constructor(options: {
    perSecond: number
    burst: number
    capacity: number
    now?: () => number
  }) {
    this.perSecond = options.perSecond
    this.burst = options.burst
    this.buckets = new BoundedMap(options.capacity)
    this.now = options.now ?? Date.now
  }

  /** Takes one token for `key`; false when its bucket is empty (the event should be dropped). */
  take(key: string): boolean {
    const now = this.now()
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now }
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond,
    )
    bucket.at = now
    const allowed = bucket.tokens >= 1
    if (allowed) bucket.tokens -= 1
    this.buckets.set(key, bucket)
    return allowed
  }
}

/** A counting semaphore with a bounded wait queue; waiters honour an AbortSignal. */
export class Slots {
  private used = 0
  private readonly waiters: { grant: () => void; fail: (error: unknown) => void }[] = []
  readonly limit: number
  readonly maxWaiting: number

  constructor(limit: number, maxWaiting: number) {
    this.limit = limit
    this.maxWaiting = maxWaiting
  }

  get inUse(): number {
    return this.used
  }

  get waiting(): number {
    return this.waiters.length
  }

  /**
   * Takes a slot, waiting for one when all are used. Rejects with `overloaded()` when the wait
   * queue is full, and with the signal's reason when it aborts while waiting.
   */
  acquire(signal: AbortSignal, overloaded: () => Error): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.used < this.limit) {
      this.used += 1
      return Promise.resolve()
    }
    if (this.waiters.length >= this.maxWaiting) return Promise.reject(overloaded())
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        fail: (error: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter)
        if (index >= 0) this.waiters.splice(index, 1)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  release(): void {
    const next = this.waiters.shift()
    if (next) next.grant()
    else this.used = Math.max(0, this.used - 1)
  }

  /** Fails every waiter (on shutdown). */
  failWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(error)
  }
}
