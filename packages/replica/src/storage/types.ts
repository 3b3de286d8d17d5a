/**
 * What the engine needs from a place to keep a replica. Adapters (IndexedDB, file, memory)
 * implement it; the engine never knows which one it has.
 *
 * A storage holds two ordered keyspaces ({@link Namespace}): `values` (one encoded causal state
 * per application key) and `meta` (the replica's own records: version vector, counters, per-peer
 * outbox entries, reconciliation-tree state). Both change together in one atomic batch, so a
 * crash can never leave a value without the metadata that describes it.
 *
 * Contract every implementation honours (checked by `runStorageAdapterTests`):
 * - Keys are non-empty, well-formed strings (no lone surrogate) of at most {@link MAX_KEY_LENGTH}
 *   UTF-16 code units, ordered by UTF-16 code unit (JavaScript's `<`), the same order on every
 *   adapter.
 * - Values are `Uint8Array`s of at most {@link MAX_VALUE_BYTES} bytes (empty is allowed); a read
 *   returns a copy with exactly the bytes written, and the stored bytes are a copy taken when
 *   `write` is called.
 * - `write` is atomic (all of a batch or none of it) and durable when its promise resolves.
 *   A batch's mutations apply in order (a later mutation of the same key wins). Concurrent
 *   `write` calls are all applied, in the order they were called; each is atomic on its own.
 * - A record that fails its integrity check is reported with `STORAGE_CORRUPT`, never returned.
 * - Invalid input fails with `INVALID_ARGUMENT` before anything is stored; any call after
 *   `close()` fails with `STORAGE_CLOSED`.
 *
 * `@mendsync/replica` exports the checks (`prepareBatch`, `prepareScan`, ...) so that every
 * adapter accepts and rejects exactly the same input.
 */
export interface Storage {
  /**
   * Reads the records at `keys` in `namespace`. The result has one slot per key, in order:
   * the stored bytes, or `undefined` when the key is absent.
   */
  get(namespace: Namespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]>

  /**
   * Applies a batch atomically and durably (as durably as `batch.durability` asks). An empty
   * batch resolves without I/O.
   */
  write(batch: WriteBatch): Promise<void>

  /**
   * One page of records of `namespace` in key order, bounded by the range and prefix in
   * `options`. `cursor` is set when more records remain: pass it as `options.after` to continue.
   * A page holds at most `limit` entries; it may hold fewer and still have a cursor only once its
   * keys and values reach {@link MIN_SCAN_PAGE_BYTES} (an adapter bounding its memory). A page
   * with a cursor is never empty.
   */
  scan(options: ScanOptions): Promise<ScanPage>

  /** Releases the backend. Idempotent. Pending writes finish first. */
  close(): Promise<void>
}

/** The two keyspaces of a storage. */
export type Namespace = 'values' | 'meta'

/** Sets `key` to `value`, or erases it when `value` is `null`. */
export interface Mutation {
  readonly key: string
  readonly value: Uint8Array | null
}

/**
 * How durable a batch must be when its `write` resolves.
 * - `'strict'`: on stable storage (fsynced); survives a power failure.
 * - `'relaxed'`: handed to the OS; survives a crash of the process, but an OS crash or power
 *   failure may lose it. Never torn, and never lost while a later strict batch survives: batches
 *   become durable in the order they were written.
 */
export type Durability = 'strict' | 'relaxed'

/** Changes to apply together: all of them, or (on failure) none of them. */
export interface WriteBatch {
  readonly values?: readonly Mutation[]
  readonly meta?: readonly Mutation[]
  /**
   * Default `'strict'`. An adapter may make a relaxed batch strict (the memory storage has no
   * such distinction), and relaxes a strict one only when its owner opened it relaxed for every
   * write (as the IndexedDB storage's `durability` option allows).
   */
  readonly durability?: Durability
}

/** One stored record. */
export interface Entry {
  readonly key: string
  readonly value: Uint8Array
}

/** Bounds of a scan. All bounds combine (intersection); bounds may be any strings. */
export interface ScanOptions {
  readonly namespace: Namespace
  /** Only keys that start with this string (`''`: no constraint). */
  readonly prefix?: string
  /** Only keys `>= gte`. */
  readonly gte?: string
  /** Only keys `< lt`. */
  readonly lt?: string
  /** Only keys `> after` (the `cursor` of the previous page). */
  readonly after?: string
  /**
   * At most this many entries: an integer from 1 to {@link MAX_SCAN_LIMIT} (anything else is
   * `INVALID_ARGUMENT`); default {@link DEFAULT_SCAN_LIMIT}.
   */
  readonly limit?: number
}

/** A page of a scan. */
export interface ScanPage {
  readonly entries: readonly Entry[]
  /**
   * The last key of this page when more records may follow (possibly none do, when the page ended
   * exactly at the last record); absent on the last page.
   */
  readonly cursor?: string
}

/** Longest key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 4096
/** Largest value, in bytes. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024
/** Page size of a scan without `limit`. */
export const DEFAULT_SCAN_LIMIT = 1000
/** Largest page a scan returns. */
export const MAX_SCAN_LIMIT = 10_000
/**
 * Bytes of keys (2 per UTF-16 code unit) and values below which a scan page is never cut short of
 * its `limit`; past it an adapter may end the page early to bound its memory.
 */
export const MIN_SCAN_PAGE_BYTES = 1024 * 1024
