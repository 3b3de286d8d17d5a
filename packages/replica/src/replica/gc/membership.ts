import type { ReplicaId } from '@mendsync/core'
import { scanAll } from '../../storage/scan-all.js'
import type { Mutation, Storage } from '../../storage/types.js'
import { MAX_MEMBERS } from './gc-options.js'
import { decodeNumber, encodeNumber, HEARD_PREFIX, META_HEARD_ANY } from './gc-records.js'

/**
 * The replicas this replica heard gossip from within the horizon (its *members*), and for each
 * the *evidence*: the last time that member provably held none of this replica's deleted
 * entries (see docs/DESIGN.md). When each member was last heard is persisted (at most once per
 * sixteenth of the horizon per member), so a restart forgets nobody; evidence lives in memory
 * only (losing it delays collection, never makes it unsafe).
 */
export class Membership {
  private readonly horizonMs: number
  /** The slack on a persisted time: it may lag the real one by this much (and clocks may skew). */
  private readonly slackMs: number
  private readonly heard = new Map<ReplicaId, number>()
  private readonly persisted = new Map<ReplicaId, number>()
  /** Per member: when it was last seen holding all our states, and the sequence of that sight. */
  private readonly evidence = new Map<ReplicaId, { at: number; seq: number }>()
  /** Counts every piece of evidence taken in, so passes can ask "seen again since?". */
  private sequence = 0
  /** Set when more replicas were heard than {@link MAX_MEMBERS}: collection pauses. */
  private full = false
  /** True once any replica was heard (persisted: a replica alone since is not alone by choice). */
  private heardAny = false

  constructor(horizonMs: number) {
    this.horizonMs = horizonMs
    this.slackMs = horizonMs / 16
  }

  /** Loads the persisted times. */
  async load(storage: Storage): Promise<void> {
    for await (const entry of scanAll(storage, { namespace: 'meta', prefix: HEARD_PREFIX })) {
      const at = decodeNumber(entry.value, entry.key)
      const replica = entry.key.slice(HEARD_PREFIX.length)
      this.heard.set(replica, at)
      this.persisted.set(replica, at)
    }
    this.heardAny = (await storage.get('meta', [META_HEARD_ANY]))[0] !== undefined
  }

  /** Gossip of `replica` arrived at `now`; returns the record to persist, if it is due. */
  heardFrom(replica: ReplicaId, now: number): Mutation[] {
    if (!this.heard.has(replica) && this.heard.size >= MAX_MEMBERS) {
      this.full = true
      return []
    }
    this.heard.set(replica, Math.max(now, this.heard.get(replica) ?? now))
    const stored = this.persisted.get(replica)
    if (stored !== undefined && now - stored < this.slackMs) return []
    this.persisted.set(replica, now)
    const records: Mutation[] = [{ key: HEARD_PREFIX + replica, value: encodeNumber(now) }]
    if (!this.heardAny) records.push({ key: META_HEARD_ANY, value: encodeNumber(now) })
    this.heardAny = true
    return records
  }

  /**
   * This replica has a network: it is never alone by design again (a peer may hold its states
   * without having been heard yet). Returns the record to persist, if new.
   */
  networked(now: number): Mutation[] {
    if (this.heardAny) return []
    this.heardAny = true
    return [{ key: META_HEARD_ANY, value: encodeNumber(now) }]
  }

  /** `replica` provably held all our states of time `at` or later ones (it may collect them later). */
  prove(replica: ReplicaId, at: number): void {
    this.sequence += 1
    const known = this.evidence.get(replica)
    this.evidence.set(replica, { at: Math.max(at, known?.at ?? at), seq: this.sequence })
  }

  /**
   * `replica` was seen again without new evidence of time (it lacks exactly the tombstones we
   * are about to collect: it collected them, having held them at its last evidence).
   */
  refresh(replica: ReplicaId): void {
    const known = this.evidence.get(replica)
    if (known === undefined) return
    this.sequence += 1
    this.evidence.set(replica, { at: known.at, seq: this.sequence })
  }

  /** The sequence number of the latest evidence. */
  get seq(): number {
    return this.sequence
  }

  /** Every member at `now` except `self`. */
  members(now: number, self: ReplicaId): ReplicaId[] {
    const out: ReplicaId[] = []
    for (const [replica, at] of this.heard) {
      if (replica !== self && now - at <= this.horizonMs + this.slackMs) out.push(replica)
    }
    return out
  }

  /** True when `replica` was heard within the horizon (with the slack). */
  isMember(replica: ReplicaId, now: number): boolean {
    const at = this.heard.get(replica)
    return at !== undefined && now - at <= this.horizonMs + this.slackMs
  }

  /**
   * The latest time at which every member held all our states (so every tombstone we held then):
   * `now` for a replica
   * that never heard anyone (alone by design); `-Infinity` when a member has no evidence yet, the
   * membership overflowed, or every replica it heard went silent (they may come back: collecting
   * alone now would let each side undo the other's deletes, see docs/DESIGN.md).
   */
  /** True for a replica that never heard anyone: alone by design, every tombstone is stable. */
  alone(now: number, self: ReplicaId): boolean {
    return !this.full && !this.heardAny && this.members(now, self).length === 0
  }

  stablePoint(now: number, self: ReplicaId): number {
    if (this.full) return Number.NEGATIVE_INFINITY
    const members = this.members(now, self)
    if (members.length === 0 && this.heardAny) return Number.NEGATIVE_INFINITY
    let point = now
    for (const replica of members) {
      point = Math.min(point, this.evidence.get(replica)?.at ?? Number.NEGATIVE_INFINITY)
    }
    return point
  }

  /** True when every member's latest evidence came after sequence `seq` (none: true). */
  allSeenSince(seq: number, now: number, self: ReplicaId): boolean {
    return this.members(now, self).every(
      (replica) => (this.evidence.get(replica)?.seq ?? Number.NEGATIVE_INFINITY) > seq,
    )
  }

  /** Forgets the replicas not heard within the horizon; returns their records' deletions. */
  retire(now: number, self: ReplicaId): { retired: ReplicaId[]; mutations: Mutation[] } {
    const retired: ReplicaId[] = []
    const mutations: Mutation[] = []
    for (const replica of [...this.heard.keys()]) {
      if (replica === self || this.isMember(replica, now)) continue
      retired.push(replica)
      this.heard.delete(replica)
      this.evidence.delete(replica)
      if (this.persisted.delete(replica))
        mutations.push({ key: HEARD_PREFIX + replica, value: null })
    }
    if (this.heard.size < MAX_MEMBERS) this.full = false
    return { retired, mutations }
  }

  /** How many replicas are members at `now` (besides `self`). */
  count(now: number, self: ReplicaId): number {
    return this.members(now, self).length
  }
}
