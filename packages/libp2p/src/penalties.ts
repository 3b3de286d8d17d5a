// Misbehaviour accounting per peer. Every bad frame or rejected gossip message adds points; the
// points decay over time, lower the peer's gossipsub score (through `appSpecificScore`, wired by
// the node factories) and, past a threshold, get the peer disconnected and refused for a while
// (through the factories' connection gater). Bounded: the stalest peers are forgotten.
import { BoundedMap, defaultLogger, Listeners, type Logger } from '@mendsync/core/toolbox'
import { PENALTY_DEFAULTS } from './constants.defaults.js'

/** Options of {@link PeerPenalties}; defaults in {@link PENALTY_DEFAULTS}. */
export interface PeerPenaltyOptions {
  /** Points at which a peer is disconnected and banned. Default `100`. */
  readonly banThreshold?: number
  /** How long a ban lasts, ms. Default `300_000` (5 minutes). */
  readonly banMs?: number
  /** Points forgiven per second. Default `1`. */
  readonly decayPerSecond?: number
  /** Most peers tracked. Default `4096`. */
  readonly capacity?: number
  /** The clock, ms. Default `Date.now` (tests pass a fake one). */
  readonly now?: () => number
  /**
   * Where bans and throwing ban listeners are reported. Default
   * `defaultLogger('mendsync:libp2p:penalties')`.
   */
  readonly logger?: Logger
}

interface Entry {
  points: number
  at: number
  bannedUntil: number
  count: number
  reasons: Map<string, number>
}

/**
 * Misbehaviour points per peer, decaying at `decayPerSecond`; a peer reaching `banThreshold` is
 * banned for `banMs` and the {@link PeerPenalties.onBan} listeners are told.
 */
export class PeerPenalties {
  private readonly peers: BoundedMap<string, Entry>
  private readonly banThreshold: number
  private readonly banMs: number
  private readonly decayPerSecond: number
  private readonly now: () => number
  private readonly logger: Logger
  private readonly banListeners: Listeners<string>

  constructor(options: PeerPenaltyOptions = {}) {
    this.banThreshold = options.banThreshold ?? PENALTY_DEFAULTS.banThreshold
    this.banMs = options.banMs ?? PENALTY_DEFAULTS.banMs
    this.decayPerSecond = options.decayPerSecond ?? PENALTY_DEFAULTS.decayPerSecond
    this.peers = new BoundedMap(options.capacity ?? PENALTY_DEFAULTS.capacity)
    this.now = options.now ?? Date.now
    this.logger = options.logger ?? defaultLogger('mendsync:libp2p:penalties')
    // A listener's failure must not stop the accounting: the fan-out logs it and goes on.
    this.banListeners = new Listeners(this.logger)
  }

  /** Adds `points` for `reason`; returns true when this pushed the peer into a ban. */
  penalize(peer: string, points: number, reason: string): boolean {
    const entry = this.current(peer, true)!
    entry.points += points
    entry.count += 1
    if (entry.reasons.size < 32 || entry.reasons.has(reason)) {
      entry.reasons.set(reason, (entry.reasons.get(reason) ?? 0) + 1)
    }
    const now = this.now()
    if (entry.points >= this.banThreshold && entry.bannedUntil <= now) {
      entry.bannedUntil = now + this.banMs
      this.logger.info('banned a peer', {
        peer,
        points: entry.points,
        reason,
        untilMs: entry.bannedUntil,
      })
      this.banListeners.emit(peer)
      return true
    }
    return false
  }

  /** Current (decayed) points of `peer`; 0 when unknown. */
  points(peer: string): number {
    return this.current(peer, false)?.points ?? 0
  }

  /** How many penalties `peer` received (not decayed; 0 once forgotten). */
  count(peer: string): number {
    return this.peers.peek(peer)?.count ?? 0
  }

  /** Counts of penalties by reason, for the first 32 distinct reasons (diagnostics, tests). */
  reasons(peer: string): ReadonlyMap<string, number> {
    return new Map(this.peers.peek(peer)?.reasons ?? [])
  }

  /** Whether `peer` is banned now. */
  isBanned(peer: string): boolean {
    const entry = this.peers.peek(peer)
    return entry !== undefined && entry.bannedUntil > this.now()
  }

  /** The gossipsub application score of `peer`: minus its points. */
  score(peer: string): number {
    return -this.points(peer)
  }

  /** Called with the peer id whenever a peer crosses the ban threshold. */
  onBan(listener: (peer: string) => void): () => void {
    return this.banListeners.add(listener)
  }

  private current(peer: string, create: boolean): Entry | undefined {
    const now = this.now()
    let entry = this.peers.get(peer)
    if (!entry) {
      if (!create) return undefined
      entry = { points: 0, at: now, bannedUntil: 0, count: 0, reasons: new Map() }
      this.peers.set(peer, entry)
    }
    entry.points = Math.max(0, entry.points - ((now - entry.at) / 1000) * this.decayPerSecond)
    entry.at = now
    return entry
  }
}

const registry = new WeakMap<object, PeerPenalties>()

/**
 * The penalty book of a libp2p node: the one its factory wired into gossipsub scoring and the
 * connection gater, or a new one for a node built elsewhere.
 */
export function penaltiesOf(node: object): PeerPenalties {
  let penalties = registry.get(node)
  if (!penalties) {
    penalties = new PeerPenalties()
    registry.set(node, penalties)
  }
  return penalties
}

/** Associates `penalties` with `node` (done by the node factories). */
export function registerPenalties(node: object, penalties: PeerPenalties): void {
  registry.set(node, penalties)
}
