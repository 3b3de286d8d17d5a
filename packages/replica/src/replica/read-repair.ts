import { isMendsyncError, MendsyncError } from '@mendsync/core'
import type { PeerId, PullMode, SpaceChannel } from '../network/types.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import type { ReplicaMetrics } from './metrics.js'
import type { ReplicaTunables } from './options.js'
import { Semaphore } from './semaphore.js'
import { TokenBucket } from './token-bucket.js'

/** Most keys one pull request carries; a larger repair is split into several requests. */
export const MAX_KEYS_PER_PULL = 512
/** Repair requests that may wait for one peer before more fail with `OVERLOADED`. */
const MAX_QUEUED_PER_PEER = 256
/** Peers whose breaker, bucket and semaphore are remembered; the stalest is forgotten first. */
const MAX_PEER_GATES = 1024

/** What the engine gives the repairer: local digests, and where pulled states go. */
export interface RepairTarget {
  /** The digest of an encoded state, as peers compute it. */
  digestOf(state: Uint8Array): Uint8Array
  /** The local state hashes of `keys` (`null` for a key never written). */
  localDigests(keys: readonly string[]): Promise<(Uint8Array | null)[]>
  /** Joins pulled states; returns the keys whose local state changed. */
  joinPulled(peer: PeerId, states: readonly { key: string; state: Uint8Array }[]): Promise<string[]>
  /** The local encoded states of `keys`, to write back to peers that are behind. */
  localStates(keys: readonly string[]): Promise<(Uint8Array | null)[]>
  /** Runs work the repair does not wait for (tracked so that close() waits for it). */
  background(work: Promise<unknown>): void
  /** `key`'s divergence with `peer` is repaired (the hint is settled). */
  settled(peer: PeerId, keys: readonly string[]): void
  /** Waits `ms` before a retry; cut short when the replica closes. */
  sleep(ms: number): Promise<void>
}

/**
 * Failures worth a second request: the connection dropped or the peer's handler failed, both
 * transient. A timeout has used the read's deadline; a bad answer or a refusal would repeat.
 */
const RETRYABLE = ['NETWORK_CLOSED', 'REMOTE_ERROR', 'PEER_UNAVAILABLE'] as const

function isRetryable(error: unknown): boolean {
  return RETRYABLE.some((code) => isMendsyncError(error, code))
}

/** Outcome of one repair of some keys with some peers. */
export interface RepairOutcome {
  /** Peers that answered. */
  readonly answered: PeerId[]
  /** Peers that did not answer in time, failed, or were skipped (breaker open, overloaded). */
  readonly unanswered: PeerId[]
  /** Keys whose local state changed. */
  readonly repaired: string[]
}

interface PeerGate {
  readonly breaker: CircuitBreaker
  readonly bucket: TokenBucket
  readonly semaphore: Semaphore
}

/** Keys to repair with one peer: `true` when gossip says the peer is ahead for the key. */
export type RepairKeys = ReadonlyMap<string, boolean>

interface PendingBatch {
  readonly keys: Map<string, boolean>
  readonly waiters: { resolve: (repaired: string[]) => void; reject: (error: unknown) => void }[]
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Read repair with bounds: requests to one peer are batched (every key asked of a peer in the
 * same tick goes in one request), limited in concurrency and rate per peer, and guarded by a
 * circuit breaker per peer. Keys gossip marked as behind are pulled as states at once (one round
 * trip); keys checked speculatively (sampled reads, extra quorum peers) go digest-first, so full
 * states travel only where digests differ.
 */
export class ReadRepairer {
  private readonly gates = new Map<PeerId, PeerGate>()
  private readonly pending = new Map<PeerId, PendingBatch>()
  private readonly options: ReplicaTunables
  private readonly metrics: ReplicaMetrics
  private readonly target: RepairTarget
  private readonly now: () => number
  private readonly onBreaker: (peer: PeerId, state: BreakerState) => void
  private channel: SpaceChannel | undefined

  constructor(
    options: ReplicaTunables,
    metrics: ReplicaMetrics,
    target: RepairTarget,
    now: () => number,
    onBreaker: (peer: PeerId, state: BreakerState) => void,
  ) {
    this.options = options
    this.metrics = metrics
    this.target = target
    this.now = now
    this.onBreaker = onBreaker
  }

  attach(channel: SpaceChannel | undefined): void {
    this.channel = channel
  }

  /** The breaker state of every peer this replica has asked. */
  breakerStates(): Map<PeerId, BreakerState> {
    return new Map([...this.gates].map(([peer, gate]) => [peer, gate.breaker.state]))
  }

  /** Whether `peer`'s breaker lets requests through now. */
  available(peer: PeerId): boolean {
    return this.gate(peer).breaker.state !== 'open'
  }

  /**
   * Repairs `plan` (keys per peer). Resolves when every peer answered or failed; never rejects.
   * `deadline` bounds every request (ms since the epoch of `now`).
   */
  async repair(plan: ReadonlyMap<PeerId, RepairKeys>, deadline: number): Promise<RepairOutcome> {
    const started = this.now()
    this.metrics.add('repairs_initiated', plan.size)
    const answered: PeerId[] = []
    const unanswered: PeerId[] = []
    const repaired = new Set<string>()
    await Promise.all(
      [...plan].map(async ([peer, keys]) => {
        try {
          for (const key of await this.withRetry(peer, keys, deadline)) repaired.add(key)
          answered.push(peer)
          this.metrics.add('repairs_completed')
        } catch {
          unanswered.push(peer)
          this.metrics.add('repairs_failed')
        }
      }),
    )
    this.metrics.observe('repair_latency_ms', this.now() - started)
    return { answered, unanswered, repaired: [...repaired] }
  }

  /**
   * Repairs `keys` with `peer`, retrying a transient failure after `retryBaseMs` (doubling) up to
   * `retryAttempts` requests in all, and only while the retry can still finish before `deadline`:
   * a retry never holds a read past its timeout.
   */
  private async withRetry(peer: PeerId, keys: RepairKeys, deadline: number): Promise<string[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.enqueue(peer, keys, deadline)
      } catch (error) {
        const delay = this.options.retryBaseMs * 2 ** (attempt - 1)
        const retry =
          attempt < this.options.retryAttempts &&
          isRetryable(error) &&
          this.available(peer) &&
          this.now() + delay < deadline
        if (!retry) throw error
        this.metrics.add('repair_retries')
        await this.target.sleep(delay)
      }
    }
  }

  /** Adds keys to `peer`'s batch of this tick; resolves with the keys repaired by that batch. */
  private enqueue(peer: PeerId, keys: RepairKeys, deadline: number): Promise<string[]> {
    let batch = this.pending.get(peer)
    if (batch === undefined) {
      const created: PendingBatch = { keys: new Map(), waiters: [] }
      batch = created
      this.pending.set(peer, created)
      queueMicrotask(() => {
        this.pending.delete(peer)
        this.run(peer, created.keys, deadline).then(
          (repairedKeys) => {
            for (const waiter of created.waiters) waiter.resolve(repairedKeys)
          },
          (error: unknown) => {
            for (const waiter of created.waiters) waiter.reject(error)
          },
        )
      })
    }
    for (const [key, ahead] of keys) batch.keys.set(key, ahead || batch.keys.get(key) === true)
    const target = batch
    return new Promise((resolve, reject) => target.waiters.push({ resolve, reject }))
  }

  private async run(
    peer: PeerId,
    keys: ReadonlyMap<string, boolean>,
    deadline: number,
  ): Promise<string[]> {
    const all = [...keys]
    const repaired: string[] = []
    for (let i = 0; i < all.length; i += MAX_KEYS_PER_PULL) {
      const chunk = all.slice(i, i + MAX_KEYS_PER_PULL)
      const ahead = chunk.filter(([, known]) => known).map(([key]) => key)
      const speculative = chunk.filter(([, known]) => !known).map(([key]) => key)
      repaired.push(...(await this.runChunk(peer, ahead, speculative, deadline)))
    }
    return repaired
  }

  private async runChunk(
    peer: PeerId,
    ahead: readonly string[],
    speculative: readonly string[],
    deadline: number,
  ): Promise<string[]> {
    const channel = this.channel
    if (channel === undefined) throw new MendsyncError('CLOSED', 'the replica has no network')
    const gate = this.gate(peer)
    if (!gate.breaker.tryAcquire()) {
      throw new MendsyncError('PEER_UNAVAILABLE', `the circuit breaker of peer ${peer} is open`)
    }
    let release: (() => void) | undefined
    try {
      const wait = gate.bucket.waitMs()
      if (this.now() + wait > deadline) {
        throw new MendsyncError('OVERLOADED', `the repair rate limit of peer ${peer} is reached`)
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      gate.bucket.tryTake()
      release = await gate.semaphore.acquire()
      const timeoutMs = () => Math.max(1, deadline - this.now())
      const keys = [...ahead, ...speculative]
      const [local, aheadStates, digests] = await Promise.all([
        this.target.localDigests(keys),
        this.pullChecked(channel, peer, ahead, 'state', timeoutMs()),
        this.pullChecked(channel, peer, speculative, 'digest', timeoutMs()),
      ])
      const remote = new Map<string, Uint8Array | null>()
      ahead.forEach((key, i) => {
        const state = aheadStates[i] ?? null
        remote.set(key, state === null ? null : this.target.digestOf(state))
      })
      speculative.forEach((key, i) => {
        remote.set(key, digests[i] ?? null)
      })
      const localByKey = new Map(keys.map((key, i) => [key, local[i] ?? null]))
      const differing = keys.filter(
        (key) => !bytesEqual(localByKey.get(key) ?? null, remote.get(key) ?? null),
      )
      this.metrics.add('inconsistencies_found', differing.length)
      const toPull = speculative.filter(
        (key) => differing.includes(key) && remote.get(key) !== null,
      )
      const pulled = await this.pullChecked(channel, peer, toPull, 'state', timeoutMs())
      const states = [
        ...ahead.flatMap((key, i) => {
          const state = aheadStates[i]
          return state === null || state === undefined || !differing.includes(key)
            ? []
            : [{ key, state }]
        }),
        ...toPull.flatMap((key, i) => {
          const state = pulled[i]
          return state === null || state === undefined ? [] : [{ key, state }]
        }),
      ]
      const repaired = states.length === 0 ? [] : await this.target.joinPulled(peer, states)
      this.metrics.add('keys_repaired', repaired.length)
      gate.breaker.success()
      // The write-back helps the peer, not this read: it runs after the read has its answer.
      this.target.background(
        this.writeBack(channel, peer, differing, remote, this.options.timeoutMs).catch(() =>
          gate.breaker.failure(),
        ),
      )
      this.target.settled(peer, keys)
      return repaired
    } catch (error) {
      // A caller's own mistake is not the peer's failure; everything else counts against it.
      if (!isMendsyncError(error, 'INVALID_ARGUMENT')) gate.breaker.failure()
      throw error
    } finally {
      release?.()
    }
  }

  /** Pushes the joined state to the peer for every differing key where it is now behind. */
  private async writeBack(
    channel: SpaceChannel,
    peer: PeerId,
    differing: readonly string[],
    remoteByKey: ReadonlyMap<string, Uint8Array | null>,
    timeoutMs: number,
  ): Promise<void> {
    if (differing.length === 0) return
    const after = await this.target.localDigests(differing)
    const behind = differing.filter(
      (key, i) => !bytesEqual(after[i] ?? null, remoteByKey.get(key) ?? null),
    )
    if (behind.length === 0) return
    const states = await this.target.localStates(behind)
    const payload = behind.flatMap((key, i) => {
      const state = states[i]
      return state === null || state === undefined ? [] : [{ key, state }]
    })
    if (payload.length > 0) await channel.push(peer, payload, { timeoutMs })
  }

  /** Pulls `keys` from `peer` in `mode`, checking the answer has one slot per key. */
  private async pullChecked(
    channel: SpaceChannel,
    peer: PeerId,
    keys: readonly string[],
    mode: PullMode,
    timeoutMs: number,
  ): Promise<readonly (Uint8Array | null)[]> {
    if (keys.length === 0) return []
    const result = await channel.pull(peer, keys, mode, { timeoutMs })
    const slots = result.mode === 'state' ? result.states : result.digests
    if (result.mode !== mode || slots.length !== keys.length) {
      throw new MendsyncError(
        'PROTOCOL_ERROR',
        `peer ${peer} answered a ${mode} pull with the wrong shape`,
      )
    }
    return slots
  }

  private gate(peer: PeerId): PeerGate {
    let gate = this.gates.get(peer)
    if (gate === undefined) {
      const o = this.options
      gate = {
        breaker: new CircuitBreaker(
          o.breakerFailureThreshold,
          o.breakerResetMs,
          this.now,
          (state) => this.onBreaker(peer, state),
        ),
        bucket: new TokenBucket(o.repairRatePerSecond, this.now),
        semaphore: new Semaphore(o.maxConcurrentRepairsPerPeer, MAX_QUEUED_PER_PEER),
      }
      this.gates.set(peer, gate)
      if (this.gates.size > MAX_PEER_GATES)
        this.gates.delete(this.gates.keys().next().value as PeerId)
    }
    return gate
  }
}
