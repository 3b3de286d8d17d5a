// The store's format constants and the open-check setting: the part of the file layout that is
// public API. Kept apart from database.ts so that the package's public types do not import
// node:sqlite (a browser app type-checking against them would need Node's types).
/** `PRAGMA application_id` of a mendsync store ('mend'), to tell it from other SQLite files. */
export const APPLICATION_ID = 0x6d656e64
/** `PRAGMA user_version`: the layout of the tables below. */
export const FORMAT_VERSION = 1

/** The table of each namespace. Keys are UTF-16BE BLOBs (their byte order is the contract's). */
export const TABLES = { values: 'kv_values', meta: 'kv_meta' } as const

/** How much checking `open` does; see {@link FileStorageOptions.check}. */
export type OpenCheck = 'auto' | 'quick' | 'full' | 'minimal'

/**
 * Files up to this size (database + WAL) get `PRAGMA integrity_check` at open under `'auto'`: it
 * also compares every index with its table (a damaged key index would otherwise read as missing
 * keys). Measured ~150 ms for a 72 MB store (warm page cache), about 2 ms per MB.
 */
export const FULL_CHECK_MAX_BYTES = 64 * 1024 * 1024

/**
 * Files up to this size (database + WAL), and larger than {@link FULL_CHECK_MAX_BYTES}, get
 * `PRAGMA quick_check` at open under `'auto'` (page structure only; about half the cost).
 */
export const QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024
