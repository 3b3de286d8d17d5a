import { Listeners, type Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'

/**
 * How far the exchanges in flight have got: what `Replica.status().progress` reports and
 * `Replica.onProgress` delivers. Counts cover the current round: the round starts when an
 * exchange begins while none runs, and ends (`active` false) when the last one ends.
 */
export interface SyncProgress {
  /** True while at least one reconciliation, handoff delivery or `sync()` runs. */
  readonly active: boolean
  /** Keys the exchanges of this round found this replica lacks or holds older (an estimate until a session's differences are known). */
  readonly keysToReceive: number
  /** Keys received and joined in this round. */
  readonly keysReceived: number
  /** Encoded state bytes received in this round. */
  readonly bytesReceived: number
  /** The peers an exchange runs with now. */
  readonly peers: readonly PeerId[]
}

/** The progress of a replica that exchanges nothing. */
export const IDLE_PROGRESS: SyncProgress = Object.freeze({
  active: false,
  keysToReceive: 0,
  keysReceived: 0,
  bytesReceived: 0,
  peers: Object.freeze([]) as readonly PeerId[],
})

/**
 * Tracks `SyncProgress` for one replica: the anti-entropy sessions and handoff report into it,
 * `status()` reads its snapshot, listeners hear every change.
 */
export class SyncProgressTracker {
  #current: SyncProgress = IDLE_PROGRESS
  readonly #listeners: Listeners<SyncProgress>

  constructor(logger: Logger) {
    this.#listeners = new Listeners(logger)
  }

  /** The progress now. */
  snapshot(): SyncProgress {
    return this.#current
  }

  /** Calls `listener` on every change of the progress; returns the function that unsubscribes. */
  on(listener: (progress: SyncProgress) => void): () => void {
    return this.#listeners.add(listener)
  }

  /** Replaces the progress and tells the listeners (the sessions call it). */
  publish(next: SyncProgress): void {
    this.#current = next
    this.#listeners.emit(next)
  }
}
