import type { Logger } from '@mendsync/core/toolbox'
import { logFailure } from './log-failure.js'

/**
 * The replica's background work: promises it does not wait for (repairs, handoff, gossip,
 * reconciliations), timers, and backoff sleeps. A failed task is logged (never thrown), and
 * `stop()` cancels every timer and wakes every sleep, so no task outlives the replica.
 */
export class TaskScheduler {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Wakes every pending backoff sleep (on stop). */
  private readonly sleepers = new Set<() => void>()
  private readonly running = new Set<Promise<unknown>>()
  private readonly logger: Logger
  private stopped = false

  /** @param logger where failed tasks are reported. */
  constructor(logger: Logger) {
    this.logger = logger
  }

  /** True once {@link stop} was called. */
  get isStopped(): boolean {
    return this.stopped
  }

  /**
   * Tracks `work` until it settles; a rejection is logged as the failure of `task` (with
   * `context`), at debug for network churn and warn otherwise.
   */
  run(task: string, work: Promise<unknown> | undefined, context?: Record<string, unknown>): void {
    if (work === undefined) return
    const tracked = work
      .catch((error: unknown) => logFailure(this.logger, `${task} failed`, error, context))
      .finally(() => this.running.delete(tracked))
    this.running.add(tracked)
  }

  /** Runs `task` once after `delayMs`, unless stopped first. */
  after(delayMs: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.stopped) return
      try {
        task()
      } catch (error) {
        // A timer callback that throws would otherwise be an uncaught exception of the process.
        this.logger.error('a timer task threw', { error })
      }
    }, delayMs)
    this.timers.add(timer)
  }

  /** Runs `task` every `periodMs` until stopped. */
  every(periodMs: number, task: () => void): void {
    this.after(periodMs, () => {
      try {
        task()
      } finally {
        this.every(periodMs, task)
      }
    })
  }

  /** Waits `ms`; resolves at once when stopped (a backoff must not hold up shutdown). */
  sleep(ms: number): Promise<void> {
    // After stop no timer task runs, so a sleep would never end and shutdown would wait forever.
    if (this.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake)
        resolve()
      }
      this.sleepers.add(wake)
      this.after(ms, wake)
    })
  }

  /** Resolves when no task is running, waiting for tasks started meanwhile too. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  /** Resolves when the tasks running now have settled. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running])
  }

  /** Cancels every timer and wakes every sleep; later timers never fire. */
  stop(): void {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const wake of this.sleepers) wake()
    this.sleepers.clear()
  }
}
