import {
  type CausalValue,
  contextMax,
  type Dot,
  MendsyncError,
  type ReplicaId,
} from '@mendsync/core'
import { scanAll } from '../../storage/scan-all.js'
import type { Mutation, Storage } from '../../storage/types.js'
import { epochOf } from './actor-epoch.js'
import { AWAY_PREFIX, decodeNumber, encodeNumber } from './gc-records.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** One key written locally since the last agreement. */
interface AwayRecord {
  /** The actor of the first such write. */
  readonly actor: ReplicaId
  /** That actor's highest counter on the key before the write: above it are away writes. */
  readonly counter: number
  /** When the key was last written locally (ms). */
  at: number
  /** False while the last write's batch has not committed. */
  committed: boolean
}

/**
 * The local writes no peer has confirmed yet: for each key written since this replica last
 * agreed with a peer, the writer's counter before the first such write. A rejoining replica
 * delivers exactly the entries above it (its *away writes*, see `rejoinPart`). Records are
 * written in the batch of the write and cleared at the next agreement.
 */
export class AwayWrites {
  private readonly records = new Map<string, AwayRecord>()

  async load(storage: Storage): Promise<void> {
    for await (const entry of scanAll(storage, { namespace: 'meta', prefix: AWAY_PREFIX })) {
      const counter = decodeNumber(entry.value, entry.key)
      let actor: string
      try {
        actor = decoder.decode(entry.value.subarray(8))
      } catch (error) {
        throw new MendsyncError('STORAGE_CORRUPT', `the ${entry.key} record is malformed`, {
          cause: error,
        })
      }
      this.records.set(entry.key.slice(AWAY_PREFIX.length), {
        actor,
        counter,
        at: Number.NEGATIVE_INFINITY,
        committed: true,
      })
    }
  }

  /** A local write of `key` by `actor` on `before` is being persisted; the record to write, if new. */
  written(key: string, before: CausalValue, actor: ReplicaId, now: number): Mutation[] {
    const existing = this.records.get(key)
    if (existing !== undefined) {
      existing.at = now
      existing.committed = false
      return []
    }
    const counter = contextMax(before.context, actor)
    this.records.set(key, { actor, counter, at: now, committed: false })
    const actorBytes = encoder.encode(actor)
    const value = new Uint8Array(8 + actorBytes.length)
    value.set(encodeNumber(counter))
    value.set(actorBytes, 8)
    return [{ key: AWAY_PREFIX + key, value }]
  }

  /** The batch holding the local writes of `keys` committed. */
  committed(keys: readonly string[]): void {
    for (const key of keys) {
      const record = this.records.get(key)
      if (record !== undefined) record.committed = true
    }
  }

  /** A peer agreed with every committed write up to `at`: clears their records. */
  confirm(at: number): Mutation[] {
    const mutations: Mutation[] = []
    for (const [key, record] of this.records) {
      if (!record.committed || record.at > at) continue
      this.records.delete(key)
      mutations.push({ key: AWAY_PREFIX + key, value: null })
    }
    return mutations
  }

  /** True when `key` has a local write no peer confirmed. */
  has(key: string): boolean {
    return this.records.has(key)
  }

  /** Which dots of `key` are away writes of `replica` (none for a key without a record). */
  isAway(key: string, replica: ReplicaId): (dot: Dot) => boolean {
    const record = this.records.get(key)
    if (record === undefined) return () => false
    const base = epochOf(replica, record.actor) ?? 0
    return (dot) => {
      if (dot.replica === record.actor) return dot.counter > record.counter
      const epoch = epochOf(replica, dot.replica)
      return epoch !== undefined && epoch > base
    }
  }

  get size(): number {
    return this.records.size
  }
}
