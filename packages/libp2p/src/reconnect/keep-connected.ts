// Keeps a node connected to the peers it should be connected to: its bootstrap peers (always)
// and the peers it dialled itself (a bounded set, least recently connected forgotten first).
// Whenever one is not connected it is dialled again after a full-jitter exponential backoff
// (see backoff.ts), forever: a relay that is down for an hour is found again when it comes back.
// Independent of libp2p (a dialer and a clock are passed in) so the schedule is testable with a
// fake clock; `service.ts` wires it into a libp2p node.
import { BoundedMap, defaultLogger, describeError, type Logger } from '@mendsync/core/toolbox'
import { type BackoffSchedule, fullJitterDelay } from './backoff.js'

/** Most peers dialled by the node itself that are kept connected (besides bootstrap peers). */
export const DEFAULT_MAX_KNOWN_PEERS = 64

/**
 * A connection that lasted this long, ms, counts as a success: the next redial starts the
 * schedule again from the base. A shorter one (accepted, then dropped by a full peer) does not:
 * the backoff keeps growing, so a peer that flaps is not redialled in a tight loop.
 */
export const RECONNECT_STABLE_MS = 10_000

/** Deadline of one redial, ms (libp2p's own dial timeout is the same). */
export const RECONNECT_DIAL_TIMEOUT_MS = 10_000

/**
 * Every how often, ms, the peers believed connected are checked against the node's connections:
 * a connection that closed without a `peer:disconnect` (one that closed while it was being
 * registered) must not leave a peer believed connected, and so never redialled, for ever.
 */
export const RECONNECT_AUDIT_MS = 5_000

/** Every how many consecutive failures an unreachable bootstrap peer is logged at info. */
const LOG_EVERY_FAILURES = 10

/** How {@link KeepConnected} reaches the network. */
export interface ReconnectDialer {
  /** Opens a connection to `peer`; resolves once connected, rejects when that failed. */
  dial(peer: string, signal: AbortSignal): Promise<void>
  /** Whether `peer` has an open connection now. */
  isConnected(peer: string): boolean
}

/** The timers {@link KeepConnected} uses (tests pass a fake clock). */
export interface ReconnectClock {
  now(): number
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Options of {@link KeepConnected}; every one has a default. */
export interface KeepConnectedOptions extends BackoffSchedule {
  /** Most peers dialled by the node itself kept connected. Default {@link DEFAULT_MAX_KNOWN_PEERS}. */
  readonly maxKnownPeers?: number
  /** How long a connection must last to reset the backoff, ms. Default {@link RECONNECT_STABLE_MS}. */
  readonly stableMs?: number
  /** Deadline of one redial, ms. Default {@link RECONNECT_DIAL_TIMEOUT_MS}. */
  readonly dialTimeoutMs?: number
  /**
   * How often peers believed connected are checked against the dialer, ms; `0` turns the check
   * off. Default {@link RECONNECT_AUDIT_MS}.
   */
  readonly auditMs?: number
  /** Randomness of the jitter, in `[0, 1)`. Default `Math.random`. */
  readonly random?: () => number
  /** The clock. Default: the real one (`Date.now`, `setTimeout`; timers do not hold the process). */
  readonly clock?: ReconnectClock
  /** Default `defaultLogger('mendsync:libp2p:reconnect')`. */
  readonly logger?: Logger
}

/** What {@link KeepConnected.peers} reports about one kept peer. */
export interface KeptPeer {
  readonly peer: string
  /** A bootstrap peer (kept for ever) rather than one the node dialled (may be forgotten). */
  readonly bootstrap: boolean
  readonly connected: boolean
  /** Failed or short-lived attempts since the last lasting connection (the backoff exponent). */
  readonly failures: number
  /** When the next redial is due (clock ms), or `undefined` when none is scheduled. */
  readonly nextDialAt: number | undefined
}

interface Dialing {
  readonly controller: AbortController
  /** The dial's deadline timer. */
  readonly deadline: unknown
  readonly done: Promise<void>
}

interface PeerState {
  readonly peer: string
  readonly bootstrap: boolean
  connected: boolean
  connectedAt: number
  failures: number
  timer: unknown
  nextDialAt: number | undefined
  dialing: Dialing | undefined
}

const REAL_CLOCK: ReconnectClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms)
    // A redial never keeps a process alive by itself (the node's sockets do, while it runs).
    ;(timer as { unref?: () => void }).unref?.()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * Redials, with full-jitter exponential backoff and without ever giving up, every bootstrap
 * peer and every known peer (one the node dialled) that is not connected. Feed it the node's
 * connection events ({@link connected}, {@link disconnected}); {@link stop} cancels every timer
 * and aborts every dial in flight.
 */
export class KeepConnected {
  readonly #dialer: ReconnectDialer
  readonly #schedule: BackoffSchedule
  readonly #stableMs: number
  readonly #dialTimeoutMs: number
  readonly #auditMs: number
  readonly #random: () => number
  readonly #clock: ReconnectClock
  readonly #log: Logger
  readonly #bootstrap = new Map<string, PeerState>()
  readonly #known: BoundedMap<string, PeerState>
  #running = false
  #audit: unknown

  constructor(dialer: ReconnectDialer, options: KeepConnectedOptions = {}) {
    this.#dialer = dialer
    this.#schedule = {
      ...(options.baseMs === undefined ? {} : { baseMs: options.baseMs }),
      ...(options.capMs === undefined ? {} : { capMs: options.capMs }),
    }
    this.#stableMs = options.stableMs ?? RECONNECT_STABLE_MS
    this.#dialTimeoutMs = options.dialTimeoutMs ?? RECONNECT_DIAL_TIMEOUT_MS
    this.#auditMs = options.auditMs ?? RECONNECT_AUDIT_MS
    this.#random = options.random ?? Math.random
    this.#clock = options.clock ?? REAL_CLOCK
    this.#log = options.logger ?? defaultLogger('mendsync:libp2p:reconnect')
    this.#known = new BoundedMap(options.maxKnownPeers ?? DEFAULT_MAX_KNOWN_PEERS, (_, state) =>
      this.#cancel(state),
    )
  }

  /** Keeps `peer` connected for as long as this runs (a bootstrap peer is never forgotten). */
  addBootstrap(peer: string): void {
    if (this.#bootstrap.has(peer)) return
    const state = this.#newState(peer, true)
    this.#bootstrap.set(peer, state)
    this.#known.delete(peer)
    this.#ensure(state)
  }

  /**
   * A connection to `peer` opened. `dialledByUs`: this node dialled it, so `peer` becomes a
   * known peer (kept connected from now on) if it is not one already.
   */
  connected(peer: string, dialledByUs: boolean): void {
    let state = this.#stateOf(peer)
    if (state === undefined) {
      if (!dialledByUs) return
      state = this.#newState(peer, false)
      this.#known.set(peer, state)
    } else if (!state.bootstrap) {
      this.#known.get(peer) // refresh: the most recently connected peers are kept longest
    }
    this.#markConnected(state)
  }

  /** The last connection to `peer` closed: a kept peer is redialled after its backoff. */
  disconnected(peer: string): void {
    const state = this.#stateOf(peer)
    if (state === undefined || !state.connected) return
    state.connected = false
    const lasted = this.#clock.now() - state.connectedAt
    if (lasted >= this.#stableMs) state.failures = 0
    else state.failures += 1
    this.#log.debug('disconnected from a kept peer; will redial', {
      peer,
      bootstrap: state.bootstrap,
      lastedMs: lasted,
      failures: state.failures,
    })
    this.#ensure(state)
  }

  /** Stops keeping `peer` connected (a known peer; a bootstrap peer stays). */
  forget(peer: string): void {
    const state = this.#known.peek(peer)
    if (state === undefined) return
    this.#cancel(state)
    this.#known.delete(peer)
  }

  /** Starts redialling (every kept peer that is not connected gets a redial scheduled). */
  start(): void {
    if (this.#running) return
    this.#running = true
    for (const state of this.#states()) this.#ensure(state)
    this.#scheduleAudit()
  }

  #scheduleAudit(): void {
    if (this.#auditMs === 0) return
    this.#audit = this.#clock.setTimeout(() => {
      this.#audit = undefined
      if (!this.#running) return
      for (const state of [...this.#states()]) {
        if (state.connected && !this.#dialer.isConnected(state.peer)) {
          this.#log.debug('a kept peer lost its connection unannounced; will redial', {
            peer: state.peer,
          })
          this.disconnected(state.peer)
        }
      }
      this.#scheduleAudit()
    }, this.#auditMs)
  }

  /** Cancels every scheduled redial and aborts every dial in flight. Idempotent. */
  stop(): void {
    this.#running = false
    if (this.#audit !== undefined) this.#clock.clearTimeout(this.#audit)
    this.#audit = undefined
    for (const state of this.#states()) this.#cancel(state)
  }

  /**
   * Dials every kept peer that is not connected now, its backoff started again from the base
   * (e.g. when the app knows the network just came back). Resolves when those dials settled.
   */
  async redialNow(): Promise<void> {
    if (!this.#running) return
    const dials: Promise<void>[] = []
    for (const state of this.#states()) {
      if (state.connected) continue
      state.failures = 0
      if (state.dialing !== undefined) {
        // A dial begun before (maybe doomed: the network was down) is followed by a fresh one.
        dials.push(
          state.dialing.done.then(() => {
            if (!this.#running || state.connected || state.dialing !== undefined) return
            this.#clearTimer(state)
            state.failures = 0
            return this.#dial(state)
          }),
        )
        continue
      }
      this.#clearTimer(state)
      dials.push(this.#dial(state))
    }
    await Promise.all(dials)
  }

  /** Every kept peer: bootstrap peers first, then known peers from the stalest. */
  peers(): KeptPeer[] {
    return [...this.#states()].map((state) => ({
      peer: state.peer,
      bootstrap: state.bootstrap,
      connected: state.connected,
      failures: state.failures,
      nextDialAt: state.nextDialAt,
    }))
  }

  *#states(): IterableIterator<PeerState> {
    yield* this.#bootstrap.values()
    yield* this.#known.values()
  }

  #stateOf(peer: string): PeerState | undefined {
    return this.#bootstrap.get(peer) ?? this.#known.peek(peer)
  }

  #newState(peer: string, bootstrap: boolean): PeerState {
    return {
      peer,
      bootstrap,
      connected: false,
      connectedAt: 0,
      failures: 0,
      timer: undefined,
      nextDialAt: undefined,
      dialing: undefined,
    }
  }

  #markConnected(state: PeerState): void {
    this.#clearTimer(state)
    if (state.connected) return
    if (state.failures > 0) {
      this.#log.debug('reconnected to a kept peer', {
        peer: state.peer,
        bootstrap: state.bootstrap,
        failures: state.failures,
      })
    }
    state.connected = true
    state.connectedAt = this.#clock.now()
  }

  /** Schedules the next redial of `state` unless it is connected, due or being dialled. */
  #ensure(state: PeerState): void {
    if (!this.#running || state.connected || state.timer !== undefined) return
    if (state.dialing !== undefined) return
    const delay = fullJitterDelay(state.failures, this.#schedule, this.#random)
    state.nextDialAt = this.#clock.now() + delay
    state.timer = this.#clock.setTimeout(() => {
      state.timer = undefined
      state.nextDialAt = undefined
      void this.#dial(state)
    }, delay)
  }

  #dial(state: PeerState): Promise<void> {
    if (!this.#running || state.connected) return Promise.resolve()
    if (this.#dialer.isConnected(state.peer)) {
      this.#markConnected(state)
      return Promise.resolve()
    }
    const controller = new AbortController()
    const deadline = this.#clock.setTimeout(
      () => controller.abort(new Error(`no connection within ${this.#dialTimeoutMs} ms`)),
      this.#dialTimeoutMs,
    )
    // A dial that ignores its signal must not hold the peer's schedule for ever: the deadline
    // settles this dial whatever the dialer does.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
        once: true,
      })
    })
    const done = (async () => {
      try {
        await Promise.race([this.#dialer.dial(state.peer, controller.signal), aborted])
        if (state.dialing?.controller !== controller) return
        state.dialing = undefined
        // The connection may have closed again before this continuation ran.
        if (this.#dialer.isConnected(state.peer)) {
          this.#markConnected(state)
          return
        }
        state.failures += 1
      } catch (error) {
        if (state.dialing?.controller !== controller) return
        state.dialing = undefined
        state.failures += 1
        this.#logFailure(state, error)
      } finally {
        this.#clock.clearTimeout(deadline)
      }
      this.#ensure(state)
    })()
    state.dialing = { controller, deadline, done }
    return done
  }

  #logFailure(state: PeerState, error: unknown): void {
    const context = {
      peer: state.peer,
      bootstrap: state.bootstrap,
      failures: state.failures,
      error: describeError(error),
    }
    // Expected churn (the peer is restarting, offline, full): debug, but a bootstrap peer that
    // stays unreachable shows up at info now and then.
    if (state.bootstrap && state.failures % LOG_EVERY_FAILURES === 0) {
      this.#log.info('a bootstrap peer is still unreachable; redialling with backoff', context)
    } else {
      this.#log.debug('redialling a kept peer failed', context)
    }
  }

  #clearTimer(state: PeerState): void {
    if (state.timer === undefined) return
    this.#clock.clearTimeout(state.timer)
    state.timer = undefined
    state.nextDialAt = undefined
  }

  #cancel(state: PeerState): void {
    this.#clearTimer(state)
    const dialing = state.dialing
    state.dialing = undefined
    if (dialing === undefined) return
    this.#clock.clearTimeout(dialing.deadline)
    dialing.controller.abort(new Error('no longer kept connected'))
  }
}
