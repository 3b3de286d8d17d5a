import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareTimestamps,
  type DriftEvent,
  HybridClock,
  isMendsyncError,
  LIMITS,
  type Timestamp,
} from '../../src/index.js'

function clockOver(
  readings: number[],
  options: { maxDriftMs?: number; onDrift?: (e: DriftEvent) => void } = {},
) {
  let i = 0
  return new HybridClock({
    ...options,
    now: () => readings[Math.min(i++, readings.length - 1)] as number,
  })
}

describe('hybrid logical clock', () => {
  it('issues strictly increasing timestamps even when the physical clock steps back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 100 }),
        (readings) => {
          const clock = clockOver(readings)
          let previous: Timestamp | undefined
          for (let k = 0; k < readings.length; k++) {
            const t = clock.now()
            if (previous !== undefined) expect(compareTimestamps(t, previous)).toBeGreaterThan(0)
            expect(t.wall).toBeGreaterThanOrEqual(readings[k] as number)
            previous = t
          }
        },
      ),
    )
  })

  it('receive returns a timestamp above both the remote one and everything issued before', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 5_000 }),
            fc.integer({ min: 0, max: 5_000 }),
            fc.nat({ max: 5 }),
          ),
          { minLength: 1, maxLength: 50 },
        ),
        (events) => {
          let physical = 0
          const clock = new HybridClock({ now: () => physical, maxDriftMs: 10_000 })
          let previous = clock.now()
          for (const [p, wall, logical] of events) {
            physical = p
            const remote = { wall, logical }
            const t = clock.receive(remote)
            expect(compareTimestamps(t, remote)).toBeGreaterThan(0)
            expect(compareTimestamps(t, previous)).toBeGreaterThan(0)
            previous = t
          }
        },
      ),
    )
  })

  it('bounds drift: a remote clock an hour ahead pulls the clock at most maxDriftMs ahead and is reported', () => {
    const drifts: DriftEvent[] = []
    const physical = 1_700_000_000_000
    const clock = new HybridClock({
      now: () => physical,
      maxDriftMs: 60_000,
      onDrift: (e) => drifts.push(e),
    })
    const t = clock.receive({ wall: physical + 3_600_000, logical: 7 })
    expect(t.wall).toBe(physical + 60_000)
    expect(drifts).toHaveLength(1)
    expect(drifts[0]?.driftMs).toBe(3_600_000)
    // Within the bound, remote time is adopted as usual.
    const near = clock.receive({ wall: physical + 60_000, logical: 9 })
    expect(near).toEqual({ wall: physical + 60_000, logical: 10 })
    expect(drifts).toHaveLength(1)
  })

  it('rolls the logical counter over into the next millisecond, restores from `last`, and refuses bad input', () => {
    const clock = new HybridClock({ now: () => 5, last: { wall: 10, logical: LIMITS.maxLogical } })
    expect(clock.now()).toEqual({ wall: 11, logical: 0 })
    expect(clock.last).toEqual({ wall: 11, logical: 0 })
    expect(clock.send()).toEqual({ wall: 11, logical: 1 })
    const broken = new HybridClock({ now: () => Number.NaN })
    for (const attempt of [
      () => broken.now(),
      () => clock.receive({ wall: -1, logical: 0 }),
      () => clock.receive({ wall: 1, logical: 0.5 }),
      () => new HybridClock({ maxDriftMs: -1 }),
      () => new HybridClock({ last: { wall: 1, logical: -1 } }),
    ]) {
      try {
        attempt()
        expect.unreachable()
      } catch (error) {
        expect(isMendsyncError(error, 'INVALID_ARGUMENT')).toBe(true)
      }
    }
  })
})
