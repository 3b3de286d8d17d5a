/** The states of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * A per-peer circuit breaker: after `threshold` consecutive failures it opens and refuses calls
 * for `resetMs`; then it lets one trial call through (half-open), which closes it on success or
 * opens it again on failure. Keeps a failing peer from slowing every read down to its timeout.
 */
export class CircuitBreaker {
  private failures = 0
  private openedAt = 0
  private trialInFlight = false
  private current: BreakerState = 'closed'
  private readonly threshold: number
  private readonly resetMs: number
  private readonly now: () => number
  private readonly onChange: (state: BreakerState) => void

  constructor(
    threshold: number,
    resetMs: number,
    now: () => number,
    onChange: (state: BreakerState) => void,
  ) {
    this.threshold = threshold
    this.resetMs = resetMs
    this.now = now
    this.onChange = onChange
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.resetMs) {
      this.transition('half-open')
    }
    return this.current
  }

  /** Whether a call may go out now; in half-open, only one trial call at a time may. */
  tryAcquire(): boolean {
    const state = this.state
    if (state === 'closed') return true
    if (state === 'open' || this.trialInFlight) return false
    this.trialInFlight = true
    return true
  }

  success(): void {
    this.failures = 0
    this.trialInFlight = false
    if (this.current !== 'closed') this.transition('closed')
  }

  failure(): void {
    this.failures += 1
    this.trialInFlight = false
    if (this.current === 'half-open' || this.failures >= this.threshold) {
      this.openedAt = this.now()
      if (this.current !== 'open') this.transition('open')
    }
  }

  private transition(state: BreakerState): void {
    this.current = state
    this.onChange(state)
  }
}
