import {
  type CausalValue,
  decodeSummary,
  isEmptyContext,
  isTombstone,
  ReconcileTree,
} from '@mendsync/core'
import { BoundedMap, toHex } from '@mendsync/core/toolbox'
import { scanAll } from '../../storage/scan-all.js'
import type { Mutation, Storage } from '../../storage/types.js'
import { MAX_COLLECTED_MEMORY } from './gc-options.js'
import { decodeNumber, encodeNumber, TOMB_PREFIX } from './gc-records.js'

/**
 * The tombstones this replica holds: when each was seen (persisted in `gc/tomb/<key>`), which
 * are *queued* (older than the grace; kept in a reconciliation tree of their own so that "our
 * summary minus the queued tombstones" costs O(1)), and the tombstones just collected (their
 * state hashes, so an identical copy a peer sends back is not stored again).
 */
export class TombstoneIndex {
  private readonly seen = new Map<string, number>()
  private readonly queued = new Map<string, { readonly since: number; readonly hash: Uint8Array }>()
  private queuedTree = new ReconcileTree()
  private readonly collected = new BoundedMap<string, string>(MAX_COLLECTED_MEMORY)

  async load(storage: Storage): Promise<void> {
    for await (const entry of scanAll(storage, { namespace: 'meta', prefix: TOMB_PREFIX })) {
      this.seen.set(entry.key.slice(TOMB_PREFIX.length), decodeNumber(entry.value, entry.key))
    }
  }

  /** The record changes a change of `key` from `before` to `after` needs (in its batch). */
  changed(key: string, before: CausalValue, after: CausalValue, now: number): Mutation[] {
    if (isTombstone(after) && !isEmptyContext(after.context)) {
      // A new tombstone, or one whose context grew (a delete of something new): seen now.
      return [{ key: TOMB_PREFIX + key, value: encodeNumber(now) }]
    }
    const wasTombstone = isTombstone(before) && !isEmptyContext(before.context)
    return this.seen.has(key) || wasTombstone ? [{ key: TOMB_PREFIX + key, value: null }] : []
  }

  /** The change of `key` to `after` committed (hash: its state hash). */
  committed(key: string, after: CausalValue, now: number): void {
    this.unqueue(key)
    this.collected.delete(key)
    if (isTombstone(after)) this.seen.set(key, now)
    else this.seen.delete(key)
  }

  /** Keys seen as tombstones at or before `cutoff` and not queued yet. */
  dueForQueue(cutoff: number): string[] {
    const out: string[] = []
    for (const [key, at] of this.seen) if (at <= cutoff && !this.queued.has(key)) out.push(key)
    return out
  }

  /** Queues `key` (state hash `hash`) for collection at `now`. */
  queue(key: string, hash: Uint8Array, now: number): void {
    this.queued.set(key, { since: now, hash })
    this.queuedTree.set(key, hash)
  }

  /** Queued keys whose queueing is at or before `point`. */
  collectable(point: number): string[] {
    const out: string[] = []
    for (const [key, { since }] of this.queued) if (since <= point) out.push(key)
    return out
  }

  /**
   * True when `summary` (a peer's) equals `ours` minus the queued tombstones: that peer holds
   * our states for every other key and none of the queued keys. Fingerprints are additive
   * (docs/reconcile.md): four 32-bit little-endian lanes, summed per item.
   */
  matchesWithoutQueued(summary: Uint8Array, ours: Uint8Array): boolean {
    if (this.queuedTree.size === 0) return false
    let theirs: ReturnType<typeof decodeSummary>
    try {
      theirs = decodeSummary(summary)
    } catch {
      // A malformed summary from a peer proves nothing; gossip validation logs such peers.
      return false
    }
    const mine = decodeSummary(ours)
    const queued = decodeSummary(this.queuedTree.summary())
    if (theirs.count !== mine.count - queued.count) return false
    const lane = (bytes: Uint8Array, i: number) =>
      new DataView(bytes.buffer, bytes.byteOffset + 4 * i, 4).getInt32(0, true)
    for (let i = 0; i < 4; i++) {
      const expected = (lane(mine.fingerprint, i) - lane(queued.fingerprint, i)) | 0
      if (lane(theirs.fingerprint, i) !== expected) return false
    }
    return true
  }

  /** Queued `key` was collected: drop it from the index, remember its hash. */
  forgotten(key: string): void {
    const queued = this.queued.get(key)
    if (queued !== undefined) this.collected.set(key, toHex(queued.hash))
    this.unqueue(key)
    this.seen.delete(key)
  }

  /** `key` is no longer a tombstone here (erased by the rejoin rule, or found live). */
  dropped(key: string): void {
    this.unqueue(key)
    this.seen.delete(key)
  }

  /** True when a state with `hash` for `key` is the tombstone this replica just collected. */
  isCollected(key: string, hash: Uint8Array): boolean {
    return this.collected.peek(key) === toHex(hash)
  }

  /** True when `key` is queued for collection. */
  isQueued(key: string): boolean {
    return this.queued.has(key)
  }

  /** Tombstones held. */
  get size(): number {
    return this.seen.size
  }

  private unqueue(key: string): void {
    if (this.queued.delete(key)) this.queuedTree.delete(key)
  }
}
