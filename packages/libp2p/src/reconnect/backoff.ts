// The redial schedule of a peer that should be connected: exponential backoff with full jitter
// (each delay uniform between 0 and the exponential ceiling), so that a whole deployment losing
// its relay at the same moment spreads its redials over time instead of dialling in waves.

/** Ceiling of the first redial delay, ms: a dropped connection is retried within half a second. */
export const RECONNECT_BASE_MS = 500

/**
 * Largest ceiling of a redial delay, ms: a peer that has been unreachable for a long time is
 * still tried about every 15 s on average (uniform in [0, 30 s)), and never given up.
 */
export const RECONNECT_CAP_MS = 30_000

/** Settings of {@link fullJitterDelay}. */
export interface BackoffSchedule {
  /** Ceiling of attempt 0, ms (doubles per attempt). Default {@link RECONNECT_BASE_MS}. */
  readonly baseMs?: number
  /** Largest ceiling, ms. Default {@link RECONNECT_CAP_MS}. */
  readonly capMs?: number
}

// 2^31 * base is far past any cap; stopping the exponent there keeps the arithmetic finite.
const MAX_EXPONENT = 31

/** The ceiling of the delay before attempt `attempt` (0-based): `min(cap, base * 2^attempt)`. */
export function backoffCeiling(attempt: number, schedule: BackoffSchedule = {}): number {
  const base = schedule.baseMs ?? RECONNECT_BASE_MS
  const cap = schedule.capMs ?? RECONNECT_CAP_MS
  return Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt), MAX_EXPONENT))
}

/**
 * The delay before attempt `attempt` (0-based) with full jitter: `random() * ceiling`, so in
 * `[0, backoffCeiling(attempt))`. `random` returns a number in `[0, 1)` (default `Math.random`).
 */
export function fullJitterDelay(
  attempt: number,
  schedule: BackoffSchedule = {},
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, schedule))
}
