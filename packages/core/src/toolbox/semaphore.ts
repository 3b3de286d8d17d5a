import { MendsyncError } from '../errors.js'

/** Releases a held {@link Semaphore} slot; calling it again does nothing. */
export type Release = () => void

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Holders at once (at least 1). */
  readonly limit: number
  /** Waiters beyond which `acquire` fails at once with `OVERLOADED` (0: never wait). */
  readonly maxQueued: number
  /** The `OVERLOADED` message, naming what is overloaded and what to do. */
  readonly overloadedMessage?: string
}

interface Waiter {
  grant(): void
  fail(error: unknown): void
}

/**
 * Bounded concurrency with a bounded wait queue: at most `limit` holders, at most `maxQueued`
 * waiters; one more waiter fails at once with `OVERLOADED` instead of growing memory. Waiters
 * honour an AbortSignal and are served first come, first served.
 */
export class Semaphore {
  private used = 0
  private readonly waiters: Waiter[] = []
  readonly limit: number
  readonly maxQueued: number
  private readonly overloadedMessage: string

  constructor(options: SemaphoreOptions) {
    if (!(Number.isInteger(options.limit) && options.limit >= 1)) {
      throw new RangeError(`limit must be a positive integer: ${options.limit}`)
    }
    if (!(Number.isInteger(options.maxQueued) && options.maxQueued >= 0)) {
      throw new RangeError(`maxQueued must be a non-negative integer: ${options.maxQueued}`)
    }
    this.limit = options.limit
    this.maxQueued = options.maxQueued
    this.overloadedMessage =
      options.overloadedMessage ?? `more than ${options.maxQueued} callers wait; retry later`
  }

  /** Slots held now. */
  get inUse(): number {
    return this.used
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.waiters.length
  }

  /**
   * Resolves with the slot's release function once a slot is held. Rejects with `OVERLOADED`
   * when the wait queue is full, and with the signal's reason when it aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.used < this.limit) {
      this.used += 1
      return Promise.resolve(this.releaser())
    }
    if (this.waiters.length >= this.maxQueued) {
      return Promise.reject(new MendsyncError('OVERLOADED', this.overloadedMessage))
    }
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter)
        if (index >= 0) this.waiters.splice(index, 1)
        reject(signal?.reason)
      }
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.releaser())
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Runs `task` holding a slot. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal)
    try {
      return await task()
    } finally {
      release()
    }
  }

  /** Fails every waiter with `error` (on shutdown); holders keep their slots. */
  failWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(error)
  }

  private releaser(): Release {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      // The slot passes straight to the next waiter, so `used` stays the same.
      if (next) next.grant()
      else this.used -= 1
    }
  }
}
