import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { BoundedMap, type Logger, Semaphore, TokenBucket } from '@mendsync/core/toolbox'
import type { PeerId, PullMode, SpaceChannel } from '../../network/types.js'
import {
  MAX_KEYS_PER_PULL,
  MAX_PEER_GATES,
  MAX_QUEUED_REPAIRS_PER_PEER,
} from '../constants.defaults.js'
import type { ReplicaMetrics } from '../metrics.js'
import type { ReplicaTunables } from '../options.js'
import { logFailure } from '../tasks/log-failure.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import { Joiner } from './joiner.js'
import type { DecodedState, RepairKeys, RepairOutcome, RepairTarget } from './repair-types.js'

/**
 * Failures worth a second request: the connection dropped or the peer's handler failed, both
 * transient. A timeout has used the read's deadline; a bad answer or a refusal would repeat.
 */
const RETRYABLE = ['NETWORK_CLOSED', 'REMOTE_ERROR', 'PEER_UNAVAILABLE'] as const

function isRetryable(error: unknown): boolean {
  return RETRYABLE.some((code) => isMendsyncError(error, code))
}

/** What one peer answered for a batch of keys. */
interface PeerAnswer {
  /** The keys asked. */
  readonly keys: readonly string[]
  /** The states to join: those that differ from the local state, decoded. */
  readonly states: readonly DecodedState[]
  /** Keys whose digest differed from the local one when the peer answered. */
  readonly differing: readonly string[]
  /** The peer's digest of each key asked (`null`: the peer does not hold it). */
  readonly remote: ReadonlyMap<string, Uint8Array | null>
}

interface PeerGate {
  readonly breaker: CircuitBreaker
  readonly bucket: TokenBucket
  readonly semaphore: Semaphore
}

interface PendingBatch {
  readonly keys: Map<string, boolean>
  readonly waiters: { resolve: (answer: PeerAnswer) => void; reject: (error: unknown) => void }[]
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
  private readonly gates = new BoundedMap<PeerId, PeerGate>(MAX_PEER_GATES)
  private readonly pending = new Map<PeerId, PendingBatch>()
  private readonly options: ReplicaTunables
  private readonly metrics: ReplicaMetrics
  private readonly target: RepairTarget
  private readonly now: () => number
  private readonly onBreaker: (peer: PeerId, state: BreakerState) => void
  private readonly logger: Logger
  private channel: SpaceChannel | undefined

  /** @param logger where failed repairs are reported (the replica's `:repair` child). */
  constructor(
    options: ReplicaTunables,
    metrics: ReplicaMetrics,
    target: RepairTarget,
    now: () => number,
    onBreaker: (peer: PeerId, state: BreakerState) => void,
    logger: Logger,
  ) {
    this.logger = logger
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
    return new Map(
      [...this.gates.entriesOldestFirst()].map(([peer, gate]) => [peer, gate.breaker.state]),
    )
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
    const answers = new Map<PeerId, PeerAnswer>()
    const unanswered: PeerId[] = []
    const joins = new Joiner(this.target, this.logger, plan.size, this.now, deadline)
    await Promise.all(
      [...plan].map(async ([peer, keys]) => {
        let answer: PeerAnswer
        try {
          answer = await this.withRetry(peer, keys, deadline)
        } catch (error) {
          logFailure(this.logger, 'a repair request failed', error, {
            peer,
            keys: [...keys.keys()],
          })
          unanswered.push(peer)
          this.metrics.add('repairs_failed')
          joins.failedToAnswer()
          return
        }
        answers.set(peer, answer)
        // A batch shared with other reads may carry their keys too; each read joins its own.
        joins.answered(
          peer,
          answer.states.filter((state) => keys.has(state.key)),
        )
      }),
    )
    const { repaired, failed } = await joins.done()
    this.metrics.add('keys_repaired', repaired.length)
    const channel = this.channel
    for (const [peer, answer] of answers) {
      if (failed.has(peer)) {
        // Its states were not stored (the replica is closing or its storage failed): the peer
        // answered, but the repair did not take effect, and the peer is not to blame.
        unanswered.push(peer)
        this.metrics.add('repairs_failed')
        continue
      }
      this.metrics.add('repairs_completed')
      // The write-back helps the peer, not this read: it runs after the read has its answer.
      if (channel !== undefined) {
        this.target.background(
          this.writeBack(
            channel,
            peer,
            answer.differing,
            answer.remote,
            this.options.timeoutMs,
          ).catch((error: unknown) => {
            logFailure(this.logger, 'writing a repaired state back failed', error, { peer })
            this.gate(peer).breaker.failure()
          }),
        )
      }
      this.target.settled(peer, answer.keys)
    }
    this.metrics.observe('repair_latency_ms', this.now() - started)
    return {
      answered: [...answers.keys()].filter((peer) => !failed.has(peer)),
      unanswered,
      repaired,
    }
  }

  /**
   * Repairs `keys` with `peer`, retrying a transient failure after `retryBaseMs` (doubling) up to
   * `retryAttempts` requests in all, and only while the retry can still finish before `deadline`:
   * a retry never holds a read past its timeout.
   */
  private async withRetry(peer: PeerId, keys: RepairKeys, deadline: number): Promise<PeerAnswer> {
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

  /** Adds keys to `peer`'s batch of this tick; resolves with the peer's answer to that batch. */
  private enqueue(peer: PeerId, keys: RepairKeys, deadline: number): Promise<PeerAnswer> {
    let batch = this.pending.get(peer)
    if (batch === undefined) {
      const created: PendingBatch = { keys: new Map(), waiters: [] }
      batch = created
      this.pending.set(peer, created)
      queueMicrotask(() => {
        this.pending.delete(peer)
        this.run(peer, created.keys, deadline).then(
          (answer) => {
            for (const waiter of created.waiters) waiter.resolve(answer)
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
  ): Promise<PeerAnswer> {
    const all = [...keys]
    const answer = {
      keys: [] as string[],
      states: [] as DecodedState[],
      differing: [] as string[],
      remote: new Map<string, Uint8Array | null>(),
    }
    for (let i = 0; i < all.length; i += MAX_KEYS_PER_PULL) {
      const chunk = all.slice(i, i + MAX_KEYS_PER_PULL)
      const ahead = chunk.filter(([, known]) => known).map(([key]) => key)
      const speculative = chunk.filter(([, known]) => !known).map(([key]) => key)
      const part = await this.runChunk(peer, ahead, speculative, deadline)
      answer.keys.push(...part.keys)
      answer.states.push(...part.states)
      answer.differing.push(...part.differing)
      for (const [key, digest] of part.remote) answer.remote.set(key, digest)
    }
    return answer
  }

  private async runChunk(
    peer: PeerId,
    ahead: readonly string[],
    speculative: readonly string[],
    deadline: number,
  ): Promise<PeerAnswer> {
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
      // The requests go out first: reading the local digests (a storage read and hashing) waits
      // on nothing remote, so it overlaps the round trip instead of delaying it.
      const [aheadStates, digests, local] = await Promise.all([
        this.pullChecked(channel, peer, ahead, 'state', timeoutMs()),
        this.pullChecked(channel, peer, speculative, 'digest', timeoutMs()),
        this.target.localDigests(keys),
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
      // Decoded here, so that a peer sending a bad state fails alone (and its breaker counts it).
      const decoded = this.target.decode(states)
      gate.breaker.success()
      return { keys, states: decoded, differing, remote }
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
    let gate = this.gates.peek(peer)
    if (gate === undefined) {
      const o = this.options
      gate = {
        breaker: new CircuitBreaker(
          o.breakerFailureThreshold,
          o.breakerResetMs,
          this.now,
          (state) => this.onBreaker(peer, state),
        ),
        bucket: new TokenBucket({ perSecond: o.repairRatePerSecond, now: this.now }),
        semaphore: new Semaphore({
          limit: o.maxConcurrentRepairsPerPeer,
          maxQueued: MAX_QUEUED_REPAIRS_PER_PEER,
          overloadedMessage: `more than ${MAX_QUEUED_REPAIRS_PER_PEER} requests wait for peer ${peer}`,
        }),
      }
      this.gates.set(peer, gate)
    }
    return gate
  }
}
