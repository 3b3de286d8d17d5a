import { MendsyncError } from '@mendsync/core'

/**
 * Bounded concurrency with a bounded wait queue: at most `limit` holders at once, at most
 * `maxQueued` waiters; one more waiter fails at once with `OVERLOADED` instead of growing memory.
 */
export class Semaphore {
  private active = 0
  private readonly waiters: (() => void)[] = []
  private readonly limit: number
  private readonly maxQueued: number

  constructor(limit: number, maxQueued: number) {
    this.limit = limit
    this.maxQueued = maxQueued
  }

  /** Resolves when a slot is held; the returned function releases it (once). */
  async acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.active += 1
      return this.releaser()
    }
    if (this.waiters.length >= this.maxQueued) {
      throw new MendsyncError(
        'OVERLOADED',
        `more than ${this.maxQueued} requests wait for one peer`,
      )
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve))
    return this.releaser()
  }

  get inFlight(): number {
    return this.active
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      if (next === undefined) this.active -= 1
      else next()
    }
  }
}
