import { invalid } from './guards.js'
import { LIMITS } from './limits.js'

/**
 * A hybrid logical clock timestamp (Kulkarni et al., *Logical Physical Clocks*): `wall` is
 * milliseconds since the epoch as the clock believes it, `logical` orders events within the same
 * millisecond. Timestamps order register siblings under `lww`; causality itself is always
 * decided by dots, never by timestamps.
 */
export interface Timestamp {
  readonly wall: number
  readonly logical: number
}

/** The timestamp before every other one (used when a write carries no clock reading). */
export const ZERO_TIMESTAMP: Timestamp = Object.freeze({ wall: 0, logical: 0 })

/** True when `value` is a timestamp: `wall` a non-negative safe integer, `logical` in range. */
export function isTimestamp(value: unknown): value is Timestamp {
  if (typeof value !== 'object' || value === null) return false
  const { wall, logical } = value as { wall?: unknown; logical?: unknown }
  return (
    typeof wall === 'number' &&
    Number.isSafeInteger(wall) &&
    wall >= 0 &&
    typeof logical === 'number' &&
    Number.isSafeInteger(logical) &&
    logical >= 0 &&
    logical <= LIMITS.maxLogical
  )
}

/** Orders timestamps by `wall`, then `logical`: negative, zero or positive. */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical
}

/** Reported by {@link HybridClock.receive} when a remote clock is further ahead than allowed. */
export interface DriftEvent {
  /** The timestamp that arrived. */
  readonly remote: Timestamp
  /** The local physical time when it arrived. */
  readonly physical: number
  /** How far ahead of the local physical clock the remote wall time was, in ms. */
  readonly driftMs: number
}

/** Options of {@link HybridClock}. */
export interface HybridClockOptions {
  /** The physical clock, in ms since the epoch. Default: `Date.now`. Inject one in tests. */
  readonly now?: () => number
  /**
   * How far ahead of the local physical clock a remote timestamp may pull this clock, in ms.
   * Default 60 000 (one minute). See {@link HybridClock.receive}.
   */
  readonly maxDriftMs?: number
  /** Called when a received timestamp exceeds `maxDriftMs` (for metrics and logs). */
  readonly onDrift?: (event: DriftEvent) => void
  /** The last timestamp issued before a restart (persist it to stay monotonic across restarts). */
  readonly last?: Timestamp
}

/**
 * A hybrid logical clock. Every timestamp it issues is strictly greater than every timestamp it
 * issued or received before (monotonic even when the physical clock steps back), and its wall
 * part stays within `maxDriftMs` of the physical clock.
 *
 * Bounded drift: a remote timestamp more than `maxDriftMs` ahead of the local physical clock is
 * not adopted as is. The clock advances only to `physical + maxDriftMs`, `onDrift` is called,
 * and the data that came with it is still accepted (timestamps never decide causality, so nothing
 * is lost; a remote clock far ahead only wins `lww` ties among concurrent writes, as `lww` does).
 * One peer with a broken clock therefore cannot drag every replica hours into the future.
 * When `logical` would exceed `LIMITS.maxLogical`, `wall` advances by one millisecond instead.
 */
export class HybridClock {
  readonly #now: () => number
  readonly #maxDriftMs: number
  readonly #onDrift: ((event: DriftEvent) => void) | undefined
  #last: Timestamp

  constructor(options: HybridClockOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#maxDriftMs = options.maxDriftMs ?? 60_000
    if (!Number.isFinite(this.#maxDriftMs) || this.#maxDriftMs < 0) {
      invalid('maxDriftMs must be a non-negative finite number')
    }
    this.#onDrift = options.onDrift
    if (options.last !== undefined && !isTimestamp(options.last))
      invalid('last must be a timestamp')
    this.#last = options.last ?? ZERO_TIMESTAMP
  }

  /** The last timestamp issued (persist it to restore the clock after a restart). */
  get last(): Timestamp {
    return this.#last
  }

  #physical(): number {
    const value = this.#now()
    if (!Number.isFinite(value) || value < 0) invalid(`physical clock returned ${value}`)
    return Math.floor(value)
  }

  #issue(wall: number, logical: number): Timestamp {
    const next = logical > LIMITS.maxLogical ? { wall: wall + 1, logical: 0 } : { wall, logical }
    this.#last = next
    return next
  }

  /** A timestamp for a local event (a write), greater than everything seen so far. */
  now(): Timestamp {
    const physical = this.#physical()
    const last = this.#last
    if (physical > last.wall) return this.#issue(physical, 0)
    return this.#issue(last.wall, last.logical + 1)
  }

  /** A timestamp to attach to an outgoing message (the same as {@link now}). */
  send(): Timestamp {
    return this.now()
  }

  /**
   * Merges a timestamp that arrived with remote data and returns a timestamp greater than both
   * it and everything seen before (unless it was clamped, see the class description). Throws
   * `INVALID_ARGUMENT` when `remote` is not a timestamp.
   */
  receive(remote: Timestamp): Timestamp {
    if (!isTimestamp(remote)) invalid('remote timestamp is malformed')
    const physical = this.#physical()
    let incoming = remote
    const limit = physical + this.#maxDriftMs
    if (remote.wall > limit) {
      this.#onDrift?.({ remote, physical, driftMs: remote.wall - physical })
      incoming = { wall: Math.floor(limit), logical: 0 }
    }
    const last = this.#last
    const wall = Math.max(last.wall, incoming.wall, physical)
    let logical: number
    if (wall === last.wall && wall === incoming.wall) {
      logical = Math.max(last.logical, incoming.logical) + 1
    } else if (wall === last.wall) {
      logical = last.logical + 1
    } else if (wall === incoming.wall) {
      logical = incoming.logical + 1
    } else {
      logical = 0
    }
    return this.#issue(wall, logical)
  }
}
