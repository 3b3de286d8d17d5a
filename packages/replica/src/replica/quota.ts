// Per-space quotas: the most keys and bytes a replica stores for its space. A relay that serves
// any space whose grants verify sets them so that one space cannot fill its disk. Every batch the
// replica stores (a local write, a push, a reconciliation, a repair) is checked before it is
// written; one that would pass a limit is refused whole with QUOTA_EXCEEDED, which reaches the
// pusher as itself (the network passes the code through), and nothing of it is stored.
import { type CausalValue, encodeValue, isEmptyContext, MendsyncError } from '@mendsync/core'
import { scanPages } from '../storage/scan-all.js'
import type { Storage } from '../storage/types.js'

/** Limits of what one replica stores for its space; an absent limit does not apply. */
export interface SpaceQuota {
  /**
   * Most keys. A deleted key still counts: its tombstone (the causal state of the delete) stays
   * so that peers converge, so a space at this limit accepts changes to its keys, not new ones.
   */
  readonly maxKeys?: number
  /** Most bytes of stored key states (their canonical encoding, what the storage holds). */
  readonly maxBytes?: number
}

/** What a space holds now, as the quota counts it. */
export interface QuotaUsage {
  readonly keys: number
  readonly bytes: number
}

/** One key of a batch about to be stored: its state before (the empty state if never stored). */
export interface QuotaChange {
  readonly before: CausalValue
}

/** The same key's encoded state after the batch, as the storage will hold it. */
export interface QuotaStoredValue {
  readonly value: Uint8Array | null
}

/** What a batch adds to the usage; handed back to {@link QuotaMeter.release} if it fails. */
export interface QuotaReservation {
  readonly keys: number
  readonly bytes: number
}

/** Entries read per page when the usage is counted on open. */
const COUNT_PAGE = 512

/** Counts a space's usage and refuses the batches that would pass its {@link SpaceQuota}. */
export class QuotaMeter {
  private readonly space: string
  private readonly quota: SpaceQuota
  private keys = 0
  private bytes = 0

  constructor(space: string, quota: SpaceQuota) {
    for (const [name, limit] of Object.entries(quota)) {
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
        throw new MendsyncError(
          'INVALID_ARGUMENT',
          `quota.${name} must be a non-negative integer, got ${String(limit)}`,
        )
      }
    }
    this.space = space
    this.quota = quota
  }

  /** Counts what `storage` holds (on open, before any change). */
  async load(storage: Storage): Promise<void> {
    let keys = 0
    let bytes = 0
    for await (const page of scanPages(storage, { namespace: 'values', limit: COUNT_PAGE })) {
      keys += page.entries.length
      for (const entry of page.entries) bytes += entry.value.byteLength
    }
    this.keys = keys
    this.bytes = bytes
  }

  /** The usage, counting every batch reserved and not released. */
  usage(): QuotaUsage {
    return { keys: this.keys, bytes: this.bytes }
  }

  /**
   * Adds a batch (`changes[i]` becomes `after[i]`) to the usage, or throws `QUOTA_EXCEEDED` (and adds nothing) when it would pass
   * a limit. A batch that shrinks the space is always accepted.
   */
  reserve(changes: readonly QuotaChange[], after: readonly QuotaStoredValue[]): QuotaReservation {
    let keys = 0
    let bytes = 0
    for (const [i, { before }] of changes.entries()) {
      // A stored state always carries a causal context; a key never stored has none.
      const stored = !isEmptyContext(before.context)
      if (!stored) keys += 1
      bytes += after[i]?.value?.byteLength ?? 0
      if (stored) bytes -= encodeValue(before).byteLength
    }
    const { maxKeys, maxBytes } = this.quota
    if (maxKeys !== undefined && keys > 0 && this.keys + keys > maxKeys) {
      throw this.exceeded(`it holds ${this.keys} of its ${maxKeys} keys and this adds ${keys}`)
    }
    if (maxBytes !== undefined && bytes > 0 && this.bytes + bytes > maxBytes) {
      throw this.exceeded(
        `it holds ${this.bytes} of its ${maxBytes} bytes and this adds ${bytes} bytes`,
      )
    }
    this.keys += keys
    this.bytes += bytes
    return { keys, bytes }
  }

  /** Takes a batch that was not stored back out of the usage. */
  release(reservation: QuotaReservation): void {
    this.keys -= reservation.keys
    this.bytes -= reservation.bytes
  }

  private exceeded(detail: string): MendsyncError {
    return new MendsyncError(
      'QUOTA_EXCEEDED',
      `space ${this.space} is over its quota on this peer: ${detail}. Nothing of this change ` +
        'was stored here (the writer keeps it); deleting keys frees no key slots (tombstones ' +
        "stay), so ask the peer's operator for a larger quota.",
    )
  }
}
