import {
  type CausalValue,
  decodeSummary,
  encodeValue,
  hashBytes,
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
 * are past the grace (*queued*), and for a queued one the evidence sequence at which every
 * member was first seen to hold it (*ready*): it is collected at a later pass once every member
 * showed it again, so that the members, which collect on the same signal, have seen this
 * replica hold it too before it goes.
 */
export class TombstoneIndex {
  private readonly seen = new Map<string, number>()
  private readonly queued = new Map<string, { ready: number | undefined }>()
  /** The ready tombstones and their state hashes: "our summary minus them" costs O(1). */
  private readyTree = new ReconcileTree()
  /**
   * The tombstones just collected (state hash, when first seen): a peer still behind may send
   * one back, and it is stored again, but as seen when it was first seen (its grace is over).
   */
  private readonly collected = new BoundedMap<string, { hash: string; seen: number }>(
    MAX_COLLECTED_MEMORY,
  )

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

  /** The change of `key` to `after` committed. */
  committed(key: string, after: CausalValue, now: number): void {
    this.unqueue(key)
    const echo = this.collected.peek(key)
    this.collected.delete(key)
    if (!isTombstone(after) || isEmptyContext(after.context)) {
      this.seen.delete(key)
      return
    }
    const same = echo !== undefined && echo.hash === toHex(hashBytes(encodeValue(after)))
    this.seen.set(key, same ? echo.seen : now)
  }

  /** Queued `key` (state hash `hash`) was collected: remembered for a while (see above). */
  collectedKey(key: string, hash: Uint8Array): void {
    const seen = this.seen.get(key)
    this.dropped(key)
    if (seen !== undefined) this.collected.set(key, { hash: toHex(hash), seen })
  }

  /** Queues the tombstones seen at or before `cutoff` (past the grace). */
  queueSeenBefore(cutoff: number): void {
    for (const [key, at] of this.seen) {
      if (at <= cutoff && !this.queued.has(key)) this.queued.set(key, { ready: undefined })
    }
  }

  /** Every queued key with when it was seen and the sequence it became ready at. */
  *queuedKeys(): IterableIterator<{ key: string; seen: number; ready: number | undefined }> {
    for (const [key, { ready }] of this.queued) {
      yield { key, seen: this.seen.get(key) as number, ready }
    }
  }

  /** Queued `key` (state hash `hash`) is ready since evidence sequence `seq`. */
  ready(key: string, seq: number, hash: Uint8Array): void {
    const entry = this.queued.get(key)
    if (entry === undefined || entry.ready !== undefined) return
    entry.ready = seq
    this.readyTree.set(key, hash)
  }

  /**
   * True when `summary` (a peer's) equals `ours` minus the ready tombstones: that peer holds our
   * states for every other key and none of the ready ones. Fingerprints are additive
   * (docs/reconcile.md): four 32-bit little-endian lanes, summed per item.
   */
  matchesWithoutReady(summary: Uint8Array, ours: Uint8Array): boolean {
    if (this.readyTree.size === 0) return false
    let theirs: ReturnType<typeof decodeSummary>
    try {
      theirs = decodeSummary(summary)
    } catch {
      // A summary that does not decode matches nothing (the gossip validator bounds its size).
      return false
    }
    const mine = decodeSummary(ours)
    const ready = decodeSummary(this.readyTree.summary())
    if (theirs.count !== mine.count - ready.count) return false
    const lane = (bytes: Uint8Array, i: number) =>
      new DataView(bytes.buffer, bytes.byteOffset + 4 * i, 4).getInt32(0, true)
    for (let i = 0; i < 4; i++) {
      const expected = (lane(mine.fingerprint, i) - lane(ready.fingerprint, i)) | 0
      if (lane(theirs.fingerprint, i) !== expected) return false
    }
    return true
  }

  /** True when `key` is queued for collection. */
  isQueued(key: string): boolean {
    return this.queued.has(key)
  }

  /** `key` is gone (collected, or erased by the rejoin rule). */
  dropped(key: string): void {
    this.unqueue(key)
    this.seen.delete(key)
  }

  private unqueue(key: string): void {
    if (this.queued.get(key)?.ready !== undefined) this.readyTree.delete(key)
    this.queued.delete(key)
  }

  /** Tombstones held. */
  get size(): number {
    return this.seen.size
  }
}
