/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to a burst of the same size.
 * Bounds the repair requests one peer receives from this replica.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number
  private readonly ratePerSecond: number
  private readonly now: () => number

  constructor(ratePerSecond: number, now: () => number) {
    this.ratePerSecond = ratePerSecond
    this.now = now
    this.tokens = ratePerSecond
    this.updatedAt = now()
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
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000)
  }

  private refill(): void {
    const now = this.now()
    const elapsed = Math.max(0, now - this.updatedAt) / 1000
    this.tokens = Math.min(this.ratePerSecond, this.tokens + elapsed * this.ratePerSecond)
    this.updatedAt = now
  }
}
