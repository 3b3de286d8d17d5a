import { callListener, type Logger } from '@mendsync/core/toolbox'
import type { ReplicaStatus } from '@mendsync/replica'
import { sameData } from './same-data.js'
import { LOADING, type Snapshot } from './snapshot.js'
import { asError, type ReplicaSource } from './source.js'

/** What `useStatus` shows: the replica's last status read (with `Tabs`, one fails when no leader tab answers). */
export type StatusSnapshot = Snapshot<ReplicaStatus>

/** How often `useStatus` re-reads the status by default, ms. */
export const DEFAULT_STATUS_INTERVAL_MS = 1_000

/**
 * The replica's status for `useStatus`: read while some component watches it, every
 * `intervalMs` and after every change of any key (at most one read at a time; changes during a
 * read coalesce into one more). A read that returns the same status as before keeps the old
 * snapshot, so watchers re-render only when the status changed.
 */
export class StatusStore {
  readonly #source: ReplicaSource
  readonly #logger: Logger
  readonly #intervalMs: number
  readonly #listeners = new Set<() => void>()
  #snapshot: StatusSnapshot = LOADING
  #stop: (() => void) | undefined
  #reading = false
  #stale = false

  constructor(source: ReplicaSource, logger: Logger, intervalMs: number) {
    if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
      throw new RangeError(`statusIntervalMs must be a positive number of ms, got ${intervalMs}`)
    }
    this.#source = source
    this.#logger = logger
    this.#intervalMs = intervalMs
  }

  snapshot(): StatusSnapshot {
    return this.#snapshot
  }

  /** Calls `onChange` whenever the status snapshot is replaced; returns the unsubscribe. */
  watch(onChange: () => void): () => void {
    this.#listeners.add(onChange)
    if (this.#stop === undefined) {
      const unsubscribe = this.#source.subscribe({ prefix: '' }, () => this.#read())
      const timer = setInterval(() => this.#read(), this.#intervalMs)
      this.#stop = () => {
        unsubscribe()
        clearInterval(timer)
      }
      this.#read()
    }
    return () => {
      this.#listeners.delete(onChange)
      if (this.#listeners.size > 0) return
      this.#stop?.()
      this.#stop = undefined
    }
  }

  #read(): void {
    if (this.#reading) {
      this.#stale = true
      return
    }
    this.#reading = true
    this.#stale = false
    Promise.resolve()
      .then(() => this.#source.status())
      .then(
        (status) => {
          const previous = this.#snapshot
          if (previous.error === undefined && sameData(previous.data, status)) return
          this.#publish({ loading: false, error: undefined, data: status })
        },
        (error: unknown) => {
          this.#logger.debug('reading the status failed', { error })
          this.#publish({ loading: false, error: asError(error), data: this.#snapshot.data })
        },
      )
      .finally(() => {
        this.#reading = false
        if (this.#stale && this.#stop !== undefined) this.#read()
      })
  }

  #publish(snapshot: StatusSnapshot): void {
    this.#snapshot = snapshot
    for (const listener of [...this.#listeners]) callListener(this.#logger, listener, undefined)
  }
}
