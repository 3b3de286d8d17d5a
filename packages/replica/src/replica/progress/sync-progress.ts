import { Listeners, type Logger } from '@mendsync/core/toolbox'
import type { KeyState, PeerId } from '../../network/types.js'
import { PROGRESS_INTERVAL_MS } from '../constants.defaults.js'

/**
 * How far the exchanges in flight have got: what `Replica.status().progress` reports and
 * `Replica.onProgress` delivers. Counts cover the current round: the round starts when an
 * exchange begins while none runs, and ends (`active` false) when the last one ends. Once a round
 * ended its counts stay readable (with `active` false and no peers) until the next round starts.
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
 * One exchange with a peer (a reconciliation, a handoff delivery, a `sync()` with it), as it
 * reports into its {@link SyncProgressTracker}. Every method is a no-op once {@link end} ran.
 */
export interface ProgressExchange {
  /** This exchange expects `keys` keys in all (replaces its earlier expectation). */
  expect(keys: number): void
  /** Encoded state bytes arrived that are not joined yet (a network that streams states). */
  arrived(bytes: number): void
  /** `states` were joined: counts their keys, and their bytes not reported by {@link arrived}. */
  joined(states: readonly KeyState[]): void
  /** The exchange is over (success or failure); the round ends with the last exchange. */
  end(): void
}

/** Options of a {@link SyncProgressTracker}. */
export interface SyncProgressTrackerOptions {
  /** Least time between two events of a round, ms; the round's start and end are always sent. Default {@link PROGRESS_INTERVAL_MS}. */
  readonly intervalMs?: number
  /** The clock. Default `Date.now`. */
  readonly now?: () => number
}

/** The encoded bytes of `states`. */
export function stateBytes(states: readonly KeyState[]): number {
  let bytes = 0
  for (const entry of states) bytes += entry.state.byteLength
  return bytes
}

/**
 * Tracks `SyncProgress` for one replica: the anti-entropy sessions and handoff report into it
 * through {@link begin}, `status()` reads its snapshot (always current), listeners hear its
 * changes at most once per `intervalMs` within a round (the latest state, on a trailing timer),
 * and always at once when a round starts and when it ends.
 */
export class SyncProgressTracker {
  #current: SyncProgress = IDLE_PROGRESS
  readonly #listeners: Listeners<SyncProgress>
  readonly #intervalMs: number
  readonly #now: () => number
  /** Exchanges running per peer (a peer may have a delivery and a reconciliation at once). */
  readonly #running = new Map<PeerId, number>()
  #keysToReceive = 0
  #keysReceived = 0
  #bytesReceived = 0
  #lastEmit = Number.NEGATIVE_INFINITY
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(logger: Logger, options: SyncProgressTrackerOptions = {}) {
    this.#listeners = new Listeners(logger)
    this.#intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS
    this.#now = options.now ?? Date.now
  }

  /** The progress now. */
  snapshot(): SyncProgress {
    return this.#current
  }

  /** Calls `listener` on every change of the progress; returns the function that unsubscribes. */
  on(listener: (progress: SyncProgress) => void): () => void {
    return this.#listeners.add(listener)
  }

  /** Replaces the progress and tells the listeners at once (unthrottled). */
  publish(next: SyncProgress): void {
    this.#cancelTimer()
    this.#current = next
    this.#lastEmit = this.#now()
    this.#listeners.emit(next)
  }

  /** Starts an exchange with `peer`; a round starts with it when none runs. */
  begin(peer: PeerId): ProgressExchange {
    const starts = this.#running.size === 0
    if (starts) {
      this.#keysToReceive = 0
      this.#keysReceived = 0
      this.#bytesReceived = 0
    }
    this.#running.set(peer, (this.#running.get(peer) ?? 0) + 1)
    this.#changed(starts)
    let expected = 0
    let joined = 0
    let arrived = 0
    let ended = false
    return {
      expect: (keys) => {
        if (ended) return
        this.#keysToReceive += keys - expected
        expected = keys
        this.#changed(false)
      },
      arrived: (bytes) => {
        if (ended) return
        arrived += bytes
        this.#bytesReceived += bytes
        this.#changed(false)
      },
      joined: (states) => {
        if (ended) return
        const bytes = stateBytes(states)
        const unreported = Math.min(bytes, arrived)
        arrived -= unreported
        joined += states.length
        this.#keysReceived += states.length
        this.#bytesReceived += bytes - unreported
        // Received beyond what was expected: the expectation was an underestimate.
        if (joined > expected) {
          this.#keysToReceive += joined - expected
          expected = joined
        }
        this.#changed(false)
      },
      end: () => {
        if (ended) return
        ended = true
        const left = (this.#running.get(peer) ?? 1) - 1
        if (left === 0) this.#running.delete(peer)
        else this.#running.set(peer, left)
        // Keys expected but never received (a failed exchange) are no longer to receive.
        this.#keysToReceive -= expected - joined
        this.#changed(this.#running.size === 0)
      },
    }
  }

  /**
   * Joins `states` that `peer` sent unasked (a push of its handoff, the states of a
   * reconciliation it started) as one exchange: expected, joined, ended, whatever `join` does.
   */
  async receive(
    peer: PeerId,
    states: readonly KeyState[],
    join: () => Promise<unknown>,
  ): Promise<void> {
    const exchange = this.begin(peer)
    try {
      exchange.expect(states.length)
      await join()
      exchange.joined(states)
    } finally {
      exchange.end()
    }
  }

  /** Recomputes the snapshot; tells listeners now (`urgent`, or the interval passed) or later. */
  #changed(urgent: boolean): void {
    const active = this.#running.size > 0
    const next: SyncProgress = Object.freeze({
      active,
      keysToReceive: Math.max(this.#keysToReceive, this.#keysReceived),
      keysReceived: this.#keysReceived,
      bytesReceived: this.#bytesReceived,
      peers: Object.freeze([...this.#running.keys()]),
    })
    const wait = this.#lastEmit + this.#intervalMs - this.#now()
    if (urgent || wait <= 0) {
      this.publish(next)
      return
    }
    this.#current = next
    if (this.#timer !== undefined) return
    const timer = setTimeout(() => {
      this.#timer = undefined
      this.publish(this.#current)
    }, wait)
    // A pending event must not keep a Node process alive (a closed replica ends its rounds).
    ;(timer as unknown as { unref?: () => void }).unref?.()
    this.#timer = timer
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
