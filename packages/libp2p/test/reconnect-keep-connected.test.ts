// KeepConnected on a fake clock and a fake dialer: the backoff schedule, its jitter bounds, the
// reset after a lasting connection, known peers (bounded, forgotten), and a stop that leaves
// no timer and aborts the dial in flight.
import { silentLogger } from '@mendsync/core/toolbox'
import { describe, expect, it } from 'vitest'
import {
  backoffCeiling,
  fullJitterDelay,
  KeepConnected,
  type KeepConnectedOptions,
  RECONNECT_AUDIT_MS,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
  RECONNECT_STABLE_MS,
  type ReconnectClock,
  type ReconnectDialer,
} from '../src/index.js'

/** Timers that fire only when the test advances the time. */
class FakeClock implements ReconnectClock {
  time = 0
  #next = 1
  readonly timers = new Map<number, { at: number; callback: () => void }>()

  now(): number {
    return this.time
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++
    this.timers.set(id, { at: this.time + ms, callback })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  /** Runs timers in due order until `until`, letting promise continuations run in between. */
  async advanceTo(until: number): Promise<void> {
    for (let guard = 0; guard < 10_000; guard++) {
      await settle()
      const due = [...this.timers].filter(([, timer]) => timer.at <= until)
      if (due.length === 0) break
      due.sort(([, a], [, b]) => a.at - b.at)
      const [id, timer] = due[0] as [number, { at: number; callback: () => void }]
      this.timers.delete(id)
      this.time = timer.at
      timer.callback()
    }
    this.time = Math.max(this.time, until)
    await settle()
  }

  /** Advances to the earliest timer and runs it alone. */
  async runNext(): Promise<void> {
    await settle()
    const first = [...this.timers].sort(([, a], [, b]) => a.at - b.at)[0]
    if (first === undefined) throw new Error('no timer pending')
    const [id, timer] = first
    this.timers.delete(id)
    this.time = timer.at
    timer.callback()
    await settle()
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

interface Dial {
  readonly peer: string
  readonly at: number
  readonly signal: AbortSignal
  succeed(): void
  fail(): void
}

/** A dialer whose dials the test settles; `connected` is what `isConnected` reports. */
class FakeDialer implements ReconnectDialer {
  readonly dials: Dial[] = []
  readonly connected = new Set<string>()
  /** Settle every new dial at once with this outcome (undefined: leave it pending). */
  auto: 'fail' | 'succeed' | undefined = 'fail'

  readonly #clock: FakeClock

  constructor(clock: FakeClock) {
    this.#clock = clock
  }

  dial(peer: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const dial: Dial = {
        peer,
        at: this.#clock.now(),
        signal,
        succeed: () => {
          this.connected.add(peer)
          resolve()
        },
        fail: () => reject(new Error('connection refused')),
      }
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      this.dials.push(dial)
      if (this.auto === 'fail') dial.fail()
      if (this.auto === 'succeed') dial.succeed()
    })
  }

  isConnected(peer: string): boolean {
    return this.connected.has(peer)
  }
}

function setup(options: KeepConnectedOptions = {}) {
  const clock = new FakeClock()
  const dialer = new FakeDialer(clock)
  const keeper = new KeepConnected(dialer, {
    clock,
    logger: silentLogger('test'),
    // The top of the jitter range: every delay is its ceiling (minus the rounding).
    random: () => 0.999_999,
    // The schedule tests count timers; the audit has tests of its own.
    auditMs: 0,
    ...options,
  })
  return { clock, dialer, keeper }
}

/** The gaps between successive dials' times. */
function gaps(dials: readonly Dial[]): number[] {
  return dials.slice(1).map((dial, i) => dial.at - (dials[i] as Dial).at)
}

describe('reconnect backoff', () => {
  it('doubles the ceiling from the 500 ms base per attempt and holds it at the 30 s cap', () => {
    expect(RECONNECT_BASE_MS).toBe(500)
    expect(RECONNECT_CAP_MS).toBe(30_000)
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeiling(attempt))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ])
    expect(backoffCeiling(10_000)).toBe(30_000)
    expect(backoffCeiling(3, { baseMs: 100, capMs: 700 })).toBe(700)
  })

  it('draws full-jitter delays anywhere in [0, ceiling) and never past the cap', () => {
    expect(fullJitterDelay(4, {}, () => 0)).toBe(0)
    expect(fullJitterDelay(4, {}, () => 0.5)).toBe(4000)
    expect(fullJitterDelay(4, {}, () => 0.999_999)).toBe(7999)
    let seed = 42
    const random = (): number => {
      seed = (seed * 16_807) % 2_147_483_647
      return (seed - 1) / 2_147_483_646
    }
    let below = 0
    for (let attempt = 0; attempt < 2000; attempt++) {
      const delay = fullJitterDelay(attempt % 40, {}, random)
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThan(backoffCeiling(attempt % 40))
      if (delay < backoffCeiling(attempt % 40) / 2) below += 1
    }
    // Full jitter: about half the draws fall in the lower half of the range.
    expect(below).toBeGreaterThan(800)
    expect(below).toBeLessThan(1200)
  })
})

describe('reconnect KeepConnected', () => {
  it('redials an unreachable bootstrap peer on the doubling schedule, for ever, at the cap', async () => {
    const { clock, dialer, keeper } = setup()
    keeper.addBootstrap('relay')
    keeper.start()
    for (let i = 0; i < 60; i++) await clock.runNext()
    expect(dialer.dials).toHaveLength(60)
    expect(dialer.dials[0]?.at).toBe(499)
    expect(gaps(dialer.dials).slice(0, 7)).toEqual([999, 1999, 3999, 7999, 15_999, 29_999, 29_999])
    expect(new Set(gaps(dialer.dials).slice(6))).toEqual(new Set([29_999]))
    const [relay] = keeper.peers()
    expect(relay).toMatchObject({ peer: 'relay', bootstrap: true, connected: false, failures: 60 })
    expect(relay?.nextDialAt).toBe(clock.now() + 29_999)
  })

  it('keeps every scheduled delay inside the jitter bounds of its attempt', async () => {
    const draws = [0.1, 0.9, 0, 0.5, 0.75, 0.3, 0.999, 0.2, 0.6, 0.4]
    let i = 0
    const { clock, keeper } = setup({ random: () => draws[i++ % draws.length] as number })
    keeper.addBootstrap('relay')
    keeper.start()
    for (let attempt = 0; attempt < 20; attempt++) {
      const [relay] = keeper.peers()
      const delay = (relay?.nextDialAt as number) - clock.now()
      expect(relay?.failures).toBe(attempt)
      expect(delay).toBe(
        Math.floor((draws[attempt % draws.length] as number) * backoffCeiling(attempt)),
      )
      await clock.runNext()
    }
  })

  it('starts the schedule again from the base after a connection that lasted', async () => {
    const { clock, dialer, keeper } = setup()
    keeper.addBootstrap('relay')
    keeper.start()
    for (let i = 0; i < 5; i++) await clock.runNext()
    expect(keeper.peers()[0]?.failures).toBe(5)

    dialer.auto = 'succeed'
    await clock.runNext()
    expect(keeper.peers()[0]).toMatchObject({ connected: true, nextDialAt: undefined })
    expect(clock.timers.size).toBe(0)

    await clock.advanceTo(clock.now() + RECONNECT_STABLE_MS)
    dialer.connected.delete('relay')
    keeper.disconnected('relay')
    expect(keeper.peers()[0]).toMatchObject({ failures: 0, nextDialAt: clock.now() + 499 })
  })

  it('keeps growing the backoff when connections drop before they last', async () => {
    const { clock, dialer, keeper } = setup()
    dialer.auto = 'succeed'
    keeper.addBootstrap('relay')
    keeper.start()
    for (let flap = 1; flap <= 4; flap++) {
      await clock.runNext()
      expect(keeper.peers()[0]?.connected).toBe(true)
      await clock.advanceTo(clock.now() + 100)
      dialer.connected.delete('relay')
      keeper.disconnected('relay')
      expect(keeper.peers()[0]?.failures).toBe(flap)
    }
    expect(keeper.peers()[0]?.nextDialAt).toBe(clock.now() + backoffCeiling(4) - 1)
  })

  it('keeps peers it dialled connected, not peers that dialled it, and forgets the stalest past the bound', async () => {
    const { clock, dialer, keeper } = setup({ maxKnownPeers: 2 })
    keeper.start()
    keeper.connected('inbound', false)
    keeper.connected('a', true)
    keeper.connected('b', true)
    keeper.connected('c', true)
    expect(keeper.peers().map((peer) => peer.peer)).toEqual(['b', 'c'])
    keeper.disconnected('inbound')
    keeper.disconnected('a')
    keeper.disconnected('b')
    keeper.forget('b')
    keeper.disconnected('c')
    await clock.runNext()
    expect(dialer.dials.map((dial) => dial.peer)).toEqual(['c'])
  })

  it('redials at once with the backoff reset when asked to', async () => {
    const { clock, dialer, keeper } = setup()
    keeper.addBootstrap('relay')
    keeper.start()
    for (let i = 0; i < 8; i++) await clock.runNext()
    const before = clock.now()
    dialer.auto = 'succeed'
    await keeper.redialNow()
    expect(dialer.dials.at(-1)?.at).toBe(before)
    expect(keeper.peers()[0]).toMatchObject({ connected: true, failures: 0 })
  })

  it('follows a dial in flight with a fresh one when asked to redial now', async () => {
    const { clock, dialer, keeper } = setup()
    dialer.auto = undefined
    keeper.addBootstrap('relay')
    keeper.start()
    await clock.runNext()
    expect(dialer.dials).toHaveLength(1)
    const redialled = keeper.redialNow()
    dialer.auto = 'succeed'
    dialer.dials[0]?.fail()
    await redialled
    expect(dialer.dials).toHaveLength(2)
    expect(dialer.dials[1]?.at).toBe(dialer.dials[0]?.at)
    expect(keeper.peers()[0]).toMatchObject({ connected: true, failures: 0 })
  })

  it('stops with no timer left and the dial in flight aborted, and dials nothing after', async () => {
    const { clock, dialer, keeper } = setup()
    keeper.addBootstrap('relay')
    keeper.addBootstrap('other')
    keeper.start()
    for (let i = 0; i < 3; i++) await clock.runNext()
    dialer.auto = undefined
    await clock.runNext()
    const inFlight = dialer.dials.filter((dial) => !dial.signal.aborted).at(-1) as Dial
    expect(clock.timers.size).toBeGreaterThan(0)
    keeper.stop()
    expect(clock.timers.size).toBe(0)
    expect(inFlight.signal.aborted).toBe(true)
    expect(keeper.peers().every((peer) => peer.nextDialAt === undefined)).toBe(true)
    const count = dialer.dials.length
    await clock.advanceTo(clock.now() + 10 * RECONNECT_CAP_MS)
    keeper.disconnected('relay')
    expect(clock.timers.size).toBe(0)
    expect(dialer.dials).toHaveLength(count)
  })

  it('aborts a dial that outlives its deadline and schedules the next', async () => {
    const { clock, dialer, keeper } = setup({ dialTimeoutMs: 2000 })
    dialer.auto = undefined
    keeper.addBootstrap('relay')
    keeper.start()
    await clock.runNext()
    const first = dialer.dials[0] as Dial
    expect(first.signal.aborted).toBe(false)
    await clock.advanceTo(first.at + 2000)
    expect(first.signal.aborted).toBe(true)
    expect(keeper.peers()[0]).toMatchObject({ failures: 1, nextDialAt: first.at + 2000 + 999 })
  })
})

describe('reconnect KeepConnected when libp2p misses an event or a dial hangs', () => {
  it('redials a peer whose connection closed without a disconnect event, found by the audit', async () => {
    const { clock, dialer, keeper } = setup({ auditMs: RECONNECT_AUDIT_MS })
    dialer.auto = 'succeed'
    keeper.addBootstrap('relay')
    keeper.start()
    await clock.advanceTo(clock.now() + 1_000)
    expect(keeper.peers()[0]?.connected).toBe(true)
    const dialsBefore = dialer.dials.length
    // The connection is gone, and no disconnected() ever comes.
    dialer.connected.delete('relay')
    await clock.advanceTo(clock.now() + RECONNECT_AUDIT_MS + 1_000)
    expect(dialer.dials.length).toBeGreaterThan(dialsBefore)
    expect(keeper.peers()[0]?.connected).toBe(true)
    keeper.stop()
  })

  it('gives up a dial that ignores its abort at the deadline and dials again', async () => {
    const { clock, dialer, keeper } = setup({ dialTimeoutMs: 1_000 })
    dialer.auto = undefined
    const hanging = dialer.dial.bind(dialer)
    // A dialer that never settles, whatever its signal says.
    dialer.dial = (peer, signal) => {
      void hanging(peer, new AbortController().signal)
      void signal
      return new Promise<void>(() => {})
    }
    keeper.addBootstrap('relay')
    keeper.start()
    await clock.advanceTo(clock.now() + 2_000)
    expect(dialer.dials.length).toBe(1)
    await clock.advanceTo(clock.now() + 10_000)
    expect(dialer.dials.length).toBeGreaterThan(1)
    expect(keeper.peers()[0]?.failures).toBeGreaterThan(0)
    keeper.stop()
  })
})
