import {
  type CausalValue,
  contextMax,
  encodeValue,
  hashBytes,
  isTombstone,
  type ReplicaId,
  rejoinPart,
  summariesEqual,
  type VersionVector,
} from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { GossipMessage } from '../../network/types.js'
import type { Mutation } from '../../storage/types.js'
import type { ReplicaComponents } from '../components.js'
import type { ChangeWriter } from '../state/change-writer.js'
import type { StateHooks } from '../state/state-hooks.js'
import { actorId, epochOf } from './actor-epoch.js'
import { AwayWrites } from './away-writes.js'
import type { GcOptions } from './gc-options.js'
import { decodeNumber, encodeNumber, META_ACTOR_EPOCH, META_AGREED_AT } from './gc-records.js'
import { Membership } from './membership.js'
import { TombstoneIndex } from './tombstone-index.js'

/** What `Replica.status().gc` reports. */
export interface GcStatus {
  readonly enabled: boolean
  /** Tombstones held (deleted keys whose context is still kept). */
  readonly tombstones: number
  /** Tombstones collected since the replica opened. */
  readonly collected: number
  readonly horizonMs: number
  /** Replicas heard from within the horizon (besides this one): collection waits for them. */
  readonly members: number
  /**
   * Tombstones queued at or before this time are collected at the next pass (ms; -Infinity:
   * none; +Infinity: every one, the replica never heard another).
   */
  readonly stablePoint: number
  /** True while the rejoin rule hides this replica's old copies from its peers. */
  readonly rejoining: boolean
  /** The actor id of this replica's new writes (`<replica>.<epoch>` after a collection). */
  readonly actor: ReplicaId
}

/** What one collection pass did. */
export interface GcPassResult {
  readonly collected: number
  readonly retired: readonly ReplicaId[]
  readonly foldedActors: readonly ReplicaId[]
}

const EMPTY_VECTOR: VersionVector = new Map()

const NOTHING: GcPassResult = Object.freeze({ collected: 0, retired: [], foldedActors: [] })

/**
 * Tombstone collection, retirement of replicas and stale handoff cursors, and the rejoin rule
 * (docs/DESIGN.md, "Metadata that does not grow forever"). It is the write path's
 * {@link StateHooks}: its records go in the batches of the changes they describe.
 */
export class GarbageCollector implements StateHooks {
  private readonly components: ReplicaComponents
  private readonly options: GcOptions
  private readonly logger: Logger
  private readonly tombstones = new TombstoneIndex()
  private readonly away = new AwayWrites()
  private readonly membership: Membership
  /**
   * Per replica, from its last gossip: the events of others than this replica it holds, or
   * `undefined` when it gossiped an empty vector (a new replica, or a rejoining one).
   */
  private readonly heardEvents = new Map<ReplicaId, number | undefined>()
  private writer: ChangeWriter | undefined
  private epoch = 0
  private agreedAt: number | undefined
  private persistedAgreedAt: number | undefined
  private rejoining = false
  private collectedTotal = 0
  /** When the last pass ran (a long gap means the process slept: it was away, not alone). */
  private lastPassAt: number | undefined
  private running: Promise<GcPassResult> | undefined

  constructor(components: ReplicaComponents, options: GcOptions) {
    this.components = components
    this.options = options
    this.logger = components.logger.child('gc')
    this.membership = new Membership(options.horizonMs)
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Loads the records (before the tree is rebuilt); `writer` does the rewrites. */
  async load(writer: ChangeWriter): Promise<void> {
    this.writer = writer
    if (!this.options.enabled) return
    const { storage } = this.components
    await this.tombstones.load(storage)
    await this.away.load(storage)
    await this.membership.load(storage)
    const [epoch, agreed] = await storage.get('meta', [META_ACTOR_EPOCH, META_AGREED_AT])
    this.epoch = epoch === undefined ? 0 : decodeNumber(epoch, META_ACTOR_EPOCH)
    this.agreedAt = agreed === undefined ? undefined : decodeNumber(agreed, META_AGREED_AT)
    this.persistedAgreedAt = this.agreedAt
    // Cursors kept from before the membership was recorded start their horizon now.
    const now = this.components.now()
    const records = this.components.log
      .trackedPeers()
      .flatMap((replica) =>
        this.membership.isMember(replica, now) ? [] : this.membership.heardFrom(replica, now),
      )
    if (records.length > 0) await storage.write({ meta: records, durability: 'relaxed' })
    this.components.metrics.set('tombstones', this.tombstones.size)
    this.components.metrics.set('gc_horizon_ms', this.options.horizonMs)
  }

  /**
   * After the tree is rebuilt: enters the rejoin rule if this replica was away too long.
   * `networked`: it joins a network (then it never collects as a replica alone by design).
   */
  async started(networked: boolean): Promise<void> {
    if (this.options.enabled && networked) {
      const records = this.membership.networked(this.components.now())
      if (records.length > 0) await this.components.storage.write({ meta: records })
    }
    if (this.awayTooLong()) await this.enterRejoin()
    if (this.options.enabled) {
      this.components.tasks.every(this.options.intervalMs, () => {
        this.components.tasks.run('garbage collection', this.collect())
      })
    }
  }

  // ---- the write path's hooks --------------------------------------------------------------

  actor(): ReplicaId {
    return actorId(this.components.replicaId(), this.epoch)
  }

  recordsFor(key: string, before: CausalValue, after: CausalValue, local: boolean): Mutation[] {
    if (!this.options.enabled) return []
    const now = this.components.now()
    const records = this.tombstones.changed(key, before, after, now)
    if (local) records.push(...this.away.written(key, before, this.actor(), now))
    return records
  }

  committed(keys: readonly string[], states: readonly CausalValue[], local: boolean): void {
    if (!this.options.enabled) return
    const now = this.components.now()
    for (const [i, key] of keys.entries()) {
      this.tombstones.committed(key, states[i] as CausalValue, now)
    }
    if (local) this.away.committed(keys)
    this.components.metrics.set('tombstones', this.tombstones.size)
  }

  // ---- what peers show ---------------------------------------------------------------------

  /** A gossip message of another replica arrived: membership, evidence, agreement. */
  heard(message: GossipMessage): void {
    if (!this.options.enabled || this.components.tasks.isStopped) return
    const { components } = this
    const now = components.now()
    const replica = message.replicaId
    if (replica === components.replicaId()) return
    this.heardEvents.set(
      replica,
      message.versionVector.size === 0
        ? undefined
        : foreignEvents(message.versionVector, components.replicaId()),
    )
    const records = this.membership.heardFrom(replica, now)
    if (records.length > 0) {
      components.tasks.run(
        'recording a member',
        components.storage.write({ meta: records, durability: 'relaxed' }),
        { replica },
      )
    }
    const ours = components.local.tree.summary()
    if (summariesEqual(message.summary, ours)) {
      this.membership.prove(replica, now)
      this.agreed(replica, now)
    } else if (this.tombstones.matchesWithoutReady(message.summary, ours)) {
      this.membership.refresh(replica)
    }
  }

  /** A reconciliation with `replica` that started at `startedAt` finished. */
  reconciled(replica: ReplicaId, startedAt: number): void {
    if (!this.options.enabled || this.components.tasks.isStopped) return
    // The session covered what was committed before it started: a change of the same
    // millisecond may have come after, so it proves the millisecond before.
    this.membership.prove(replica, startedAt - 1)
    this.agreed(replica, startedAt - 1)
  }

  /** `replica` holds every state this replica had at `at`: a confirmation, or the rejoin's end. */
  private agreed(replica: ReplicaId, at: number): void {
    const { components } = this
    if (this.rejoining) {
      if (this.trusted(replica)) components.tasks.run('finishing the rejoin', this.finishRejoin(at))
      return
    }
    this.agreedAt = Math.max(this.agreedAt ?? at, at)
    const records = this.away.confirm(at)
    const stale =
      this.persistedAgreedAt === undefined ||
      this.agreedAt - this.persistedAgreedAt >= this.options.horizonMs / 16
    if (stale) {
      this.persistedAgreedAt = this.agreedAt
      records.push({ key: META_AGREED_AT, value: encodeNumber(this.agreedAt) })
    }
    if (records.length > 0) {
      components.tasks.run(
        'recording an agreement',
        components.storage.write({ meta: records, durability: 'relaxed' }),
        { replica },
      )
    }
  }

  // ---- the collection pass -----------------------------------------------------------------

  /**
   * One collection pass (the periodic task; also `Replica.collectGarbage()`): retires replicas
   * not heard within the horizon with their handoff cursors and version-vector entries, queues
   * tombstones older than the grace and collects the queued ones every member has caught up with.
   */
  collect(): Promise<GcPassResult> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async pass(): Promise<GcPassResult> {
    const { components, options } = this
    const writer = this.writer
    if (!options.enabled || writer === undefined || components.tasks.isStopped) return NOTHING
    if (this.rejoining) return NOTHING
    const now = components.now()
    const self = components.replicaId()
    // Nobody heard within the horizon while running: nobody to be away from (a relay nobody
    // visited is not stale), and nothing is collected until someone is heard again (see
    // Membership.stablePoint), so whoever comes back finds every tombstone still here.
    const awake =
      this.lastPassAt !== undefined && now - this.lastPassAt <= this.options.horizonMs / 16
    this.lastPassAt = now
    if (awake && this.membership.count(now, self) === 0 && this.agreedAt !== undefined) {
      this.agreedAt = now
    }
    if (this.awayTooLong()) {
      await this.enterRejoin()
      return NOTHING
    }
    const { retired, mutations } = this.membership.retire(now, self)
    for (const replica of components.log.trackedPeers()) {
      if (!this.membership.isMember(replica, now)) mutations.push(...components.log.forget(replica))
    }
    mutations.push(...components.log.prune(now))
    if (mutations.length > 0) {
      await components.storage.write({ meta: mutations, durability: 'relaxed' })
      components.metrics.set('outbox_size', components.log.totalOutbox())
    }
    for (const replica of retired) this.heardEvents.delete(replica)
    const foldedActors = await writer.foldVector((actor) => this.keepsActor(actor, now, retired))

    this.tombstones.queueSeenBefore(now - options.graceMs)
    const point = this.membership.stablePoint(now, self)
    const alone = this.membership.count(now, self) === 0
    const collectable: string[] = []
    const readied: string[] = []
    for (const { key, seen, ready } of this.tombstones.queuedKeys()) {
      if (seen > point) continue
      // Ready: every member held it. Collected once every member was seen again after that
      // (holding all our states, or all but the ready tombstones: it collected them), so that
      // they too saw this replica hold it before it goes (they collect on the same signal).
      if (alone || (ready !== undefined && this.membership.allSeenSince(ready, now, self))) {
        collectable.push(key)
      } else if (ready === undefined) readied.push(key)
    }
    const seq = this.membership.seq
    const hashes = await components.local.digests(readied)
    for (const [i, key] of readied.entries()) {
      const hash = hashes[i]
      if (hash !== null && hash !== undefined) this.tombstones.ready(key, seq, hash)
    }
    if (collectable.length === 0) return { collected: 0, retired, foldedActors }
    const actor = this.actor()
    let ownDots = false
    const collectedHashes = new Map<string, Uint8Array>()
    const { erased } = await writer.rewrite(
      collectable,
      (key, state) => {
        if (!isTombstone(state) || !this.tombstones.isQueued(key)) return undefined
        if (contextMax(state.context, actor) > 0) ownDots = true
        collectedHashes.set(key, hashBytes(encodeValue(state)))
        return null
      },
      // A collected tombstone held this actor's dots: later writes take a new actor id.
      () => (ownDots ? [{ key: META_ACTOR_EPOCH, value: encodeNumber(this.epoch + 1) }] : []),
    )
    if (ownDots) this.epoch += 1
    for (const key of erased)
      this.tombstones.collectedKey(key, collectedHashes.get(key) as Uint8Array)
    this.collectedTotal += erased.length
    components.metrics.add('tombstones_collected', erased.length)
    components.metrics.set('tombstones', this.tombstones.size)
    this.logger.debug('collected tombstones', { count: erased.length, space: components.space })
    return { collected: erased.length, retired, foldedActors }
  }

  /**
   * Whether the version vector keeps `actor`'s entry: not when it is an actor of a replica that
   * just retired, or an older epoch of this replica or of a member. (A replica never heard from,
   * whose events came through others, keeps its entry.)
   */
  private keepsActor(actor: ReplicaId, now: number, retired: readonly ReplicaId[]): boolean {
    const self = this.components.replicaId()
    if (actor === this.actor()) return true
    if (epochOf(self, actor) !== undefined) return false
    if (retired.some((replica) => epochOf(replica, actor) !== undefined)) return false
    const owner = this.ownerOf(actor, now)
    if (owner === undefined) return true
    const epoch = epochOf(owner, actor) as number
    for (const other of this.components.versionVector().keys()) {
      if ((epochOf(owner, other) ?? -1) > epoch) return false
    }
    return true
  }

  private ownerOf(actor: ReplicaId, now: number): ReplicaId | undefined {
    for (const member of this.membership.members(now, this.components.replicaId())) {
      if (epochOf(member, actor) !== undefined) return member
    }
    return undefined
  }

  // ---- the rejoin rule ---------------------------------------------------------------------

  private awayTooLong(): boolean {
    return (
      this.options.enabled &&
      !this.rejoining &&
      this.agreedAt !== undefined &&
      this.components.now() - this.agreedAt > this.options.horizonMs
    )
  }

  /**
   * Hides every stored key from peers behind what may be offered of it (its away writes only),
   * and moves to a new actor epoch so that no later write reuses a counter of the old one.
   */
  private async enterRejoin(): Promise<void> {
    const { components } = this
    this.rejoining = true
    components.metrics.add('rejoins')
    this.epoch += 1
    await components.storage.write({
      meta: [{ key: META_ACTOR_EPOCH, value: encodeNumber(this.epoch) }],
    })
    const replica = components.replicaId()
    await components.local.hide((key, state) =>
      this.away.has(key) ? rejoinPart(state, this.away.isAway(key, replica)) : null,
    )
    this.logger.info('away for longer than the horizon: rejoining', {
      space: components.space,
      agreedAt: this.agreedAt,
      hidden: components.local.hiddenKeys().length,
    })
  }

  /**
   * A trusted peer agreed with what this replica offers: the keys still hidden are ones that
   * peer does not hold, so only their away writes stay (or nothing); the rejoin is over.
   */
  private async finishRejoin(at: number): Promise<void> {
    const { components } = this
    const writer = this.writer
    if (!this.rejoining || writer === undefined) return
    const hidden = components.local.hiddenKeys()
    const { erased } = await writer.rewrite(hidden, (key) => components.local.offered(key))
    for (const key of erased) this.tombstones.dropped(key)
    if (!this.rejoining) return
    this.rejoining = false
    this.agreedAt = at
    this.persistedAgreedAt = at
    const records = this.away.confirm(at)
    records.push({ key: META_AGREED_AT, value: encodeNumber(at) })
    await components.storage.write({ meta: records, durability: 'relaxed' })
    this.components.metrics.set('tombstones', this.tombstones.size)
    this.logger.info('rejoined', { space: components.space, dropped: erased.length })
  }

  /**
   * A peer the rejoin may trust: its last gossip said it holds at least as many events written
   * by others than this replica as this replica does, and its vector was not empty (a new,
   * empty replica is not trusted, nor is another rejoining one: see {@link advertised}).
   */
  private trusted(replica: ReplicaId): boolean {
    const theirs = this.heardEvents.get(replica)
    const ours = foreignEvents(this.writer?.versionVector ?? new Map(), this.components.replicaId())
    return theirs !== undefined && theirs >= ours
  }

  /**
   * The version vector to gossip and report: empty while rejoining, so that another rejoining
   * replica never takes this one for a replica that kept up with the space.
   */
  advertised(vector: VersionVector): VersionVector {
    return this.rejoining ? EMPTY_VECTOR : vector
  }

  // ---- status ------------------------------------------------------------------------------

  status(): GcStatus {
    const now = this.components.now()
    const self = this.components.replicaId()
    return {
      enabled: this.options.enabled,
      tombstones: this.tombstones.size,
      collected: this.collectedTotal,
      horizonMs: this.options.horizonMs,
      members: this.membership.count(now, self),
      // Alone, the stable point is the clock itself: reported as +Infinity so that the status
      // of a quiet replica stays the same from one read to the next.
      stablePoint: this.membership.alone(now, self)
        ? Number.POSITIVE_INFINITY
        : this.membership.stablePoint(now, self),
      rejoining: this.rejoining,
      actor: this.actor(),
    }
  }
}

/** Events of actors other than `replica`'s own in a version vector. */
function foreignEvents(vector: VersionVector, replica: ReplicaId): number {
  let total = 0
  for (const [actor, count] of vector) if (epochOf(replica, actor) === undefined) total += count
  return total
}
