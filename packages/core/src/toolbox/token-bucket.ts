import { BoundedMap } from './bounded-map.js'

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second, continuously. */
  readonly perSecond: number
  /** Most tokens held (the burst); default `perSecond`. */
  readonly burst?: number
  /** The clock, ms; default `Date.now` (tests pass a fake one). */
  readonly now?: () => number
}

/** A token bucket: `perSecond` tokens refill continuously up to `burst`; it starts full. */
export class TokenBucket {
  private tokens: number
  private updatedAt: number
  readonly perSecond: number
  readonly burst: number
  private readonly now: () => number

  constructor(options: TokenBucketOptions) {
    if (!(options.perSecond > 0))
      throw new RangeError(`perSecond must be > 0: ${options.perSecond}`)
    this.perSecond = options.perSecond
    this.burst = options.burst ?? options.perSecond
    if (!(this.burst >= 1)) throw new RangeError(`burst must be >= 1: ${this.burst}`)
    this.now = options.now ?? Date.now
    this.tokens = this.burst
    this.updatedAt = this.now()
  }

  /** Takes one token when one is available. */
  tryTake(): boolean {
    this.refill()
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Milliseconds until the next token is available (0 when one is). */
  waitMs(): number {
    this.refill()
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)
  }

  private refill(): void {
    const now = this.now()
    const elapsed = Math.max(0, now - this.updatedAt) / 1000
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perSecond)
    this.updatedAt = now
  }
}

/** Options of {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterOptions extends TokenBucketOptions {
  /** Most keys tracked; the stalest key's bucket is forgotten (it starts full again). */
  readonly capacity: number
}

/** One {@link TokenBucket} per key (a peer, a sender), for a bounded number of keys. */
export class KeyedRateLimiter {
  private readonly buckets: BoundedMap<string, TokenBucket>
  private readonly options: TokenBucketOptions

  constructor(options: KeyedRateLimiterOptions) {
    this.options = { perSecond: options.perSecond, burst: options.burst, now: options.now }
    this.buckets = new BoundedMap(options.capacity)
  }

  /** Takes one token for `key`; false when its bucket is empty (the event should be dropped). */
  take(key: string): boolean {
    return this.bucket(key).tryTake()
  }

  /** The bucket of `key`, created full when it is new or was forgotten. */
  bucket(key: string): TokenBucket {
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      bucket = new TokenBucket(this.options)
      this.buckets.set(key, bucket)
    }
    return bucket
  }
}
