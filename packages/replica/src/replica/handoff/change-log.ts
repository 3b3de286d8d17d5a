import { MendsyncError, type ReplicaId } from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import { scanAll } from '../../storage/scan-all.js'
import type { Mutation, Storage } from '../../storage/types.js'

const LOG_PREFIX = 'log/'
const ACK_PREFIX = 'ack/'
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** One change recorded for hinted handoff. */
export interface LogEntry {
  readonly seq: number
  readonly key: string
  /** The replica the change came from (not sent back to it); `''` for a local write. */
  readonly origin: ReplicaId
  readonly at: number
}

/** Records reserved for one batch: publish them once the batch has committed. */
export interface Reservation {
  readonly entries: readonly LogEntry[]
  readonly mutations: Mutation[]
}

/** What one peer still has to receive. */
export interface PendingChanges {
  /** Distinct keys changed since the peer's acknowledgement, oldest change first. */
  readonly keys: string[]
  /** The sequence number to acknowledge once `keys` are delivered. */
  readonly upTo: number
  /** The peer's current acknowledgement: `upTo` equal to it means nothing committed is owed. */
  readonly acknowledged: number
  /**
   * True when changes the peer never acknowledged were already dropped from the bounded log
   * (count or age): only a reconciliation can bring the peer up to date.
   */
  readonly overflowed: boolean
}

function logKey(seq: number): string {
  return LOG_PREFIX + seq.toString(16).padStart(13, '0')
}

function encodeEntry(entry: LogEntry): Uint8Array {
  const origin = encoder.encode(entry.origin)
  const key = encoder.encode(entry.key)
  const out = new Uint8Array(8 + 2 + origin.length + key.length)
  const view = new DataView(out.buffer)
  view.setFloat64(0, entry.at)
  view.setUint16(8, origin.length)
  out.set(origin, 10)
  out.set(key, 10 + origin.length)
  return out
}

function decodeEntry(seqKey: string, bytes: Uint8Array): LogEntry {
  const seq = Number.parseInt(seqKey.slice(LOG_PREFIX.length), 16)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!Number.isSafeInteger(seq) || bytes.length < 10) throw corrupt(seqKey)
  const originLength = view.getUint16(8)
  if (10 + originLength > bytes.length) throw corrupt(seqKey)
  return {
    seq,
    at: view.getFloat64(0),
    origin: decoder.decode(bytes.subarray(10, 10 + originLength)),
    key: decoder.decode(bytes.subarray(10 + originLength)),
  }
}

function corrupt(key: string): MendsyncError {
  return new MendsyncError('STORAGE_CORRUPT', `the handoff log record ${key} is malformed`)
}

function encodeSeq(seq: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setFloat64(0, seq)
  return out
}

/**
 * Hinted handoff as one bounded change log plus one acknowledgement cursor per known peer
 * (rather than one outbox per peer): a change costs one log record however many peers there
 * are, and a peer's outbox is the log past its cursor. The log keeps at most `maxEntries`
 * records no older than `maxAgeMs`; a peer whose cursor falls behind what was dropped must
 * reconcile instead. Mutations are returned to the caller, who writes them in the same atomic
 * batch as the change they describe.
 */
export class ChangeLog {
  private readonly entries: LogEntry[] = []
  /** One cursor per known peer; past `maxPeers` the stalest is forgotten (see {@link track}). */
  private readonly acks: BoundedMap<ReplicaId, number>
  /** Reserved records whose batch has not committed yet. */
  private readonly inFlight = new Set<number>()
  /** Records a reserved batch removes once it commits. */
  private readonly evicting = new Set<number>()
  /** Highest sequence number ever assigned (survives truncation of the log). */
  private head = 0
  private readonly maxEntries: number
  private readonly maxAgeMs: number

  constructor(options: { maxEntries: number; maxAgeMs: number; maxPeers: number }) {
    this.maxEntries = options.maxEntries
    this.maxAgeMs = options.maxAgeMs
    this.acks = new BoundedMap(options.maxPeers)
  }

  /** Loads the log and the cursors persisted in `storage`'s meta keyspace. */
  async load(storage: Storage): Promise<void> {
    for await (const entry of scanAll(storage, { namespace: 'meta', prefix: LOG_PREFIX })) {
      this.entries.push(decodeEntry(entry.key, entry.value))
    }
    for await (const entry of scanAll(storage, { namespace: 'meta', prefix: ACK_PREFIX })) {
      this.acks.set(entry.key.slice(ACK_PREFIX.length), readSeq(entry.key, entry.value))
    }
    const last = this.entries.at(-1)
    this.head = Math.max(last?.seq ?? 0, ...this.acks.values())
  }

  /**
   * Reserves log records for changes to `keys` and returns the meta mutations to write with them
   * (the new records, and the removal of records that fell out of the bounds). The records stay
   * invisible to handoff until {@link publish}: a peer must never be sent, and acknowledge, a
   * change whose batch has not committed yet.
   */
  reserve(keys: readonly string[], origin: ReplicaId, now: number): Reservation {
    const mutations: Mutation[] = []
    const entries: LogEntry[] = []
    for (const key of keys) {
      this.head += 1
      const entry: LogEntry = { seq: this.head, key, origin, at: now }
      entries.push(entry)
      this.inFlight.add(entry.seq)
      mutations.push({ key: logKey(entry.seq), value: encodeEntry(entry) })
    }
    let kept = this.entries.length + this.inFlight.size
    for (const oldest of this.entries) {
      if (kept <= this.maxEntries && now - oldest.at <= this.maxAgeMs) break
      this.evicting.add(oldest.seq)
      mutations.push({ key: logKey(oldest.seq), value: null })
      kept -= 1
    }
    return { entries, mutations }
  }

  /** Makes committed records visible to handoff and drops the records their batch evicted. */
  publish(reservation: Reservation): void {
    for (const entry of reservation.entries) {
      this.inFlight.delete(entry.seq)
      let at = this.entries.length
      while (at > 0 && (this.entries[at - 1] as LogEntry).seq > entry.seq) at -= 1
      this.entries.splice(at, 0, entry)
    }
    for (const mutation of reservation.mutations) {
      if (mutation.value !== null) continue
      const seq = Number.parseInt(mutation.key.slice(LOG_PREFIX.length), 16)
      if (!this.evicting.delete(seq)) continue
      const index = this.entries.findIndex((entry) => entry.seq === seq)
      if (index >= 0) this.entries.splice(index, 1)
    }
  }

  /** Every record up to this sequence number has committed (the safe point to acknowledge). */
  get committedSeq(): number {
    let lowest = Number.POSITIVE_INFINITY
    for (const seq of this.inFlight) lowest = Math.min(lowest, seq)
    return lowest === Number.POSITIVE_INFINITY ? this.head : lowest - 1
  }

  /** Starts tracking `replica`: it is owed changes from now on (older ones come by reconciling). */
  track(replica: ReplicaId): Mutation[] {
    if (this.acks.has(replica)) return []
    const mutations: Mutation[] = []
    if (this.acks.capacity > 0 && this.acks.size >= this.acks.capacity) {
      // The cursor the map is about to evict: its record goes in the same batch.
      const evicted = this.acks.keys().next().value as ReplicaId
      this.acks.delete(evicted)
      mutations.push({ key: ACK_PREFIX + evicted, value: null })
    }
    const from = this.committedSeq
    this.acks.set(replica, from)
    mutations.push({ key: ACK_PREFIX + replica, value: encodeSeq(from) })
    return mutations
  }

  /**
   * Stops tracking `replica` (gone for longer than the horizon): its cursor and what it was owed
   * are dropped; it reconciles if it comes back. Returns the mutation that erases the cursor.
   */
  forget(replica: ReplicaId): Mutation[] {
    if (!this.acks.delete(replica)) return []
    return [{ key: ACK_PREFIX + replica, value: null }]
  }

  /**
   * Drops the records no tracked peer still needs (every cursor is past them) and those older
   * than `maxAgeMs`, without waiting for the next change to do it. Returns the deletions to
   * write (the records leave the log at once: a record nobody is owed is never sent again).
   */
  prune(now: number): Mutation[] {
    let floor = this.committedSeq
    for (const ack of this.acks.values()) floor = Math.min(floor, ack)
    const mutations: Mutation[] = []
    while (this.entries.length > 0) {
      const oldest = this.entries[0] as LogEntry
      if (oldest.seq > floor && now - oldest.at <= this.maxAgeMs) break
      if (this.evicting.has(oldest.seq)) break
      this.entries.shift()
      mutations.push({ key: logKey(oldest.seq), value: null })
    }
    return mutations
  }

  isTracked(replica: ReplicaId): boolean {
    return this.acks.has(replica)
  }

  /** What `replica` has not acknowledged yet (its changes excluded), at most `limit` keys. */
  pending(replica: ReplicaId, limit: number): PendingChanges {
    const ack = this.acks.peek(replica) ?? this.head
    const first = this.entries[0]
    const overflowed = first !== undefined ? ack < first.seq - 1 : ack < this.committedSeq
    const keys = new Set<string>()
    const committed = this.committedSeq
    let upTo = ack
    for (const entry of this.entries) {
      if (entry.seq <= ack) continue
      if (entry.seq > committed) break
      if (entry.origin !== replica) {
        if (keys.size >= limit && !keys.has(entry.key)) break
        keys.add(entry.key)
      }
      upTo = entry.seq
    }
    return { keys: [...keys], upTo, acknowledged: ack, overflowed }
  }

  /** Moves `replica`'s cursor forward to `seq`; returns the mutation to persist it. */
  acknowledge(replica: ReplicaId, seq: number): Mutation[] {
    const current = this.acks.peek(replica)
    if (current === undefined || seq <= current) return []
    this.acks.set(replica, seq)
    return [{ key: ACK_PREFIX + replica, value: encodeSeq(seq) }]
  }

  /** Changes `replica` has not acknowledged (an upper bound: repeated keys count once each). */
  outboxSize(replica: ReplicaId): number {
    const ack = this.acks.peek(replica)
    return ack === undefined ? 0 : this.head - ack
  }

  /** Sum of {@link outboxSize} over every tracked peer. */
  totalOutbox(): number {
    let total = 0
    for (const ack of this.acks.values()) total += this.head - ack
    return total
  }

  trackedPeers(): ReplicaId[] {
    return [...this.acks.keys()]
  }
}

function readSeq(key: string, bytes: Uint8Array): number {
  if (bytes.length !== 8) throw corrupt(key)
  const seq = new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0)
  if (!Number.isSafeInteger(seq) || seq < 0) throw corrupt(key)
  return seq
}
