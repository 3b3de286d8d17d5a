// The write journal: a Storage wrapper that records, in the same atomic batch as the value, that
// a tab's write was applied. A leader that dies after persisting a write but before answering
// leaves the record behind, so the next leader acknowledges the follower's retry instead of
// applying the write a second time.
import { contextMax, decodeValue, type ReplicaId } from '@mendsync/core'
import { defaultLogger, type Logger } from '@mendsync/core/toolbox'
import type { Mutation, Storage, WriteBatch } from '@mendsync/replica/adapter'

/** Meta keys of the journal's records (the engine's own meta keys never start with it). */
export const JOURNAL_PREFIX = 'tabs/write/'
/** Expired records deleted per batch at most, so pruning never makes one batch large. */
const PRUNE_PER_BATCH = 64

interface Armed {
  readonly key: string
  readonly replica: ReplicaId
  /** The highest counter of `replica` on `key` before the write. */
  readonly before: number
}

interface Record {
  readonly key: string
  readonly at: number
}

function timeBytes(ms: number): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setFloat64(0, ms)
  return bytes
}

function readTime(bytes: Uint8Array): number {
  if (bytes.byteLength !== 8) return 0
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0)
}

/** Options of {@link WriteJournal}. */
export interface WriteJournalOptions {
  /** How long a record is kept (retries stop once a call times out). */
  readonly retentionMs: number
  /** The clock, ms. Default `Date.now`. */
  readonly now?: () => number
  /** Where batches it cannot read are reported. Default `defaultLogger('mendsync:tabs:journal')`. */
  readonly logger?: Logger
}

/**
 * Wraps the leader's storage. `arm(id, key, replica)` before a write that creates a dot of
 * `replica` on `key`: the first batch that persists `key` with a higher counter of `replica` than
 * it had is that write's batch (joins never add this replica's own dots), and it gets a record
 * `tabs/write/<id>`. Records expire after `retentionMs` (retries stop once a call times out).
 */
export class WriteJournal {
  readonly storage: Storage
  readonly #inner: Storage
  readonly #armed = new Map<string, Armed>()
  /** Records this journal knows of, oldest first (for expiry). */
  readonly #records: Record[] = []
  readonly #retentionMs: number
  readonly #now: () => number
  readonly #logger: Logger

  constructor(inner: Storage, options: WriteJournalOptions) {
    this.#inner = inner
    this.#retentionMs = options.retentionMs
    this.#now = options.now ?? Date.now
    this.#logger = options.logger ?? defaultLogger('mendsync:tabs:journal')
    this.storage = {
      get: (namespace, keys) => inner.get(namespace, keys),
      scan: (scanOptions) => inner.scan(scanOptions),
      write: (batch) => this.#write(batch),
      close: () => inner.close(),
    }
  }

  /** Finds the records earlier leaders left, so that they expire too. */
  async load(): Promise<void> {
    const found: Record[] = []
    let after: string | undefined
    for (;;) {
      const page = await this.#inner.scan({
        namespace: 'meta',
        prefix: JOURNAL_PREFIX,
        ...(after === undefined ? {} : { after }),
      })
      for (const entry of page.entries) found.push({ key: entry.key, at: readTime(entry.value) })
      if (page.cursor === undefined) break
      after = page.cursor
    }
    const known = new Set(this.#records.map((record) => record.key))
    this.#records.push(...found.filter((record) => !known.has(record.key)))
    this.#records.sort((a, b) => a.at - b.at)
  }

  /** True when the write `id` was applied (by this leader or an earlier one). */
  async has(id: string): Promise<boolean> {
    const [record] = await this.#inner.get('meta', [JOURNAL_PREFIX + id])
    return record !== undefined
  }

  /** Watches for the batch of write `id` (see the class comment). Writes on one key must not overlap. */
  async arm(id: string, key: string, replica: ReplicaId): Promise<void> {
    const [bytes] = await this.#inner.get('values', [key])
    const before = bytes === undefined ? 0 : contextMax(decodeValue(bytes).context, replica)
    this.#armed.set(id, { key, replica, before })
  }

  disarm(id: string): void {
    this.#armed.delete(id)
  }

  #write(batch: WriteBatch): Promise<void> {
    const extra: Mutation[] = []
    const now = this.#now()
    if (this.#armed.size > 0 && batch.values !== undefined && batch.values.length > 0) {
      for (const [id, armed] of this.#armed) {
        const mutation = batch.values.findLast((candidate) => candidate.key === armed.key)
        if (mutation === undefined || mutation.value === null) continue
        let after: number
        try {
          after = contextMax(decodeValue(mutation.value).context, armed.replica)
        } catch (error) {
          // Not a value this journal understands: the storage judges the batch.
          this.#logger.debug('a written value the journal cannot decode', {
            key: armed.key,
            error,
          })
          continue
        }
        if (after <= armed.before) continue
        this.#armed.delete(id)
        const key = JOURNAL_PREFIX + id
        extra.push({ key, value: timeBytes(now) })
        this.#records.push({ key, at: now })
      }
    }
    if (extra.length > 0 || this.#records.length > 0) {
      let pruned = 0
      while (pruned < PRUNE_PER_BATCH) {
        const oldest = this.#records[0]
        if (oldest === undefined || oldest.at > now - this.#retentionMs) break
        this.#records.shift()
        extra.push({ key: oldest.key, value: null })
        pruned += 1
      }
    }
    if (extra.length === 0) return this.#inner.write(batch)
    return this.#inner.write({ ...batch, meta: [...(batch.meta ?? []), ...extra] })
  }
}
