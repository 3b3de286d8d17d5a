import { existsSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import * as zlib from 'node:zlib'
import { MendsyncError } from '@mendsync/core'
import { defaultLogger, type Logger } from '@mendsync/core/toolbox'
import {
  assertNamespace,
  corruptRecord,
  crc32,
  type Durability,
  decodeKey,
  type Entry,
  encodeKey,
  entryBytes,
  invalidArgument,
  MIN_SCAN_PAGE_BYTES,
  type Namespace,
  type PreparedBatch,
  prepareBatch,
  prepareKeys,
  prepareScan,
  type ScanOptions,
  type ScanPage,
  type Storage,
  storageClosed,
  type WriteBatch,
} from '@mendsync/replica/adapter'
import {
  checkHeader,
  configure,
  createDatabase,
  ensureDirectory,
  fileSize,
  restrictPermissions,
  structuralCheck,
} from './database.js'
import { corruptFile, storageError } from './errors.js'
import { FULL_CHECK_MAX_BYTES, type OpenCheck, QUICK_CHECK_MAX_BYTES, TABLES } from './format.js'
import { fileStoragePath } from './paths.js'
import { DatabaseSync, type StatementSync } from './sqlite.js'
import { checkWal } from './wal-check.js'

/** Options of {@link openFileStorage}. */
export interface FileStorageOptions {
  /** Directory of the spaces' files; created (mode 0700) when missing. */
  readonly directory: string
  /** The space to open: its records live in `<directory>/<space>.sqlite` (see `fileStoragePath`). */
  readonly space: string
  /**
   * How much of the file to check when opening it (the header, identity and schema are always
   * checked):
   * - `'auto'` (default): `PRAGMA integrity_check` (pages, and every index against its table)
   *   when the file and its WAL are at most {@link FULL_CHECK_MAX_BYTES}, `PRAGMA quick_check`
   *   (pages only) up to {@link QUICK_CHECK_MAX_BYTES}; larger files rely on the header and WAL
   *   checks, SQLite's checks while reading, every record's checksum when it is read, and the
   *   key index check of every miss and scan page.
   * - `'quick'`: always `PRAGMA quick_check` (reads the whole file).
   * - `'full'`: `PRAGMA integrity_check` plus every record's checksum (as {@link FileStorage.verify}).
   * - `'minimal'`: header, identity and schema only (not even the WAL check).
   */
  readonly check?: OpenCheck
  /** How long to wait for another connection's lock, in ms; default 5,000. */
  readonly busyTimeoutMs?: number
  /**
   * Test hook: called for each mutation while a batch is applied, after the ones before it. If it
   * throws, that batch fails with `STORAGE_FAILURE` and none of it is stored; other batches of the
   * same group commit are not affected.
   */
  readonly onMutation?: (namespace: Namespace, key: string) => void
  /** Where the storage logs what it handles itself. Default `defaultLogger('mendsync:storage-file')`. */
  readonly logger?: Logger
}

/** Records erased after which the storage checks whether to give free pages back. */
const VACUUM_AFTER_ERASED = 256

/** See {@link FileStorage.stats}. */
export interface FileStorageStats {
  readonly commits: number
  /** Of `commits`, those of relaxed batches only: handed to the OS without an fsync. */
  readonly relaxedCommits: number
  readonly batches: number
}

/** What {@link FileStorage.verify} checked. */
export interface VerifyReport {
  readonly records: number
}

/** A scan page ends early past this many bytes of keys and values (bounded memory). */
const PAGE_BYTES = 8 * MIN_SCAN_PAGE_BYTES
const NAMESPACES = ['values', 'meta'] as const

/** Sorts after every encoded key (no encoded key has a 0xff byte): the end of the index. */
const AFTER_EVERY_KEY = new Uint8Array([0xff])

/** Files open in this process: a second FileStorage on the same file would deadlock its writer. */
const openFiles = new Set<string>()

const nativeCrc32 = typeof zlib.crc32 === 'function' ? zlib.crc32 : undefined

/**
 * The record checksum, `recordChecksum(key, value)`, from the encoded key: the JavaScript CRC for
 * the key and small values (cheaper than a native call), zlib's for larger values.
 */
function checksum(k: Uint8Array, v: Uint8Array): number {
  const key = crc32(k)
  return nativeCrc32 === undefined || v.length < 256 ? crc32(v, key) : nativeCrc32(v, key)
}

/**
 * What `check: 'auto'` runs for a file (and WAL) of `bytes`: `integrity_check` where it is
 * affordable, `quick_check` up to {@link QUICK_CHECK_MAX_BYTES}, the cheap checks above.
 */
function autoCheck(bytes: number): 'structure' | 'quick' | 'minimal' {
  if (bytes <= FULL_CHECK_MAX_BYTES) return 'structure'
  return bytes <= QUICK_CHECK_MAX_BYTES ? 'quick' : 'minimal'
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

// Point reads return rows as arrays where node:sqlite can (no object per row), else as objects.
type ArrayRow = [Uint8Array, number]
interface ObjectRow {
  readonly v: Uint8Array
  readonly c: number
}
type PointRow = ArrayRow | ObjectRow

function returnArrays(statement: StatementSync): boolean {
  const set = (statement as { setReturnArrays?: (enabled: boolean) => void }).setReturnArrays
  if (typeof set !== 'function') return false
  set.call(statement, true)
  return true
}

interface Row {
  readonly k: Uint8Array
  readonly v: Uint8Array
  readonly c: number
}

/**
 * Opens (creating it if missing) the file storage of one space. Rejects with `STORAGE_CORRUPT`
 * naming the file when it is empty, truncated, not a mendsync store or fails its open-time check,
 * and leaves such a file untouched.
 */
export async function openFileStorage(options: FileStorageOptions): Promise<FileStorage> {
  return FileStorage.open(options)
}

/**
 * A {@link Storage} on one SQLite file per space (node:sqlite, WAL, synchronous=FULL).
 *
 * - Order: keys are stored as `encodeKey` BLOBs, whose byte order is the contract's UTF-16 code
 *   unit order.
 * - Integrity: every record carries a CRC-32 of its key and value, checked on each read.
 * - Durability and group commit: `write` applies its batch at once in a transaction that stays
 *   open until the event loop's next check phase; then one COMMIT (one fsync) makes every batch
 *   written meanwhile durable and resolves their promises. Every batch after a transaction's
 *   first runs in a savepoint, so a batch that fails rolls back alone. Reads go through a second
 *   connection, which only ever sees committed data.
 * - Relaxed batches (`durability: 'relaxed'`) commit with `synchronous=NORMAL`: written to the
 *   WAL, no fsync. The WAL is sequential and the next strict commit fsyncs it whole, so a relaxed
 *   batch is never lost while a later strict one survives. SQLite fixes the sync level when a
 *   transaction begins, so a strict batch arriving in an open relaxed transaction first commits
 *   that one (no fsync) and opens its own; a relaxed batch joins a strict transaction as is.
 *
 * node:sqlite is synchronous: writes, commits and reads run on the calling thread, so a commit
 * blocks the event loop for its fsync (about a millisecond on an SSD). One FileStorage per file
 * per process.
 */
export class FileStorage implements Storage {
  /** The database file. */
  readonly path: string
  private readonly writer: DatabaseSync
  private readonly reader: DatabaseSync
  private readonly put: Record<Namespace, StatementSync>
  private readonly erase: Record<Namespace, StatementSync>
  private readonly getters: Record<Namespace, StatementSync>
  /**
   * A row when the key index entries just before and just after a key disagree with the keys
   * their table rows hold, or lie on the wrong side of the key.
   */
  private readonly indexDisagrees: Record<Namespace, StatementSync>
  private readonly arrays: boolean
  private readonly scans = new Map<string, StatementSync>()
  private readonly onMutation: ((namespace: Namespace, key: string) => void) | undefined
  /** Batches applied in the open transaction, waiting for its COMMIT. */
  private waiting: Waiter[] = []
  private commitScheduled = false
  private closed = false
  private closing: Promise<void> | undefined
  private commits = 0
  private relaxedCommits = 0
  private erasedSinceVacuum = 0
  private readonly logger: Logger
  /** The sync level of the open transaction (and of the writer connection). */
  private level: Durability = 'strict'
  private batches = 0

  private constructor(
    writer: DatabaseSync,
    reader: DatabaseSync,
    path: string,
    options: FileStorageOptions,
  ) {
    this.writer = writer
    this.reader = reader
    this.path = path
    this.onMutation = options.onMutation
    this.logger = options.logger ?? defaultLogger('mendsync:storage-file')
    const each = (make: (table: string) => string, db: DatabaseSync) => ({
      values: db.prepare(make(TABLES.values)),
      meta: db.prepare(make(TABLES.meta)),
    })
    this.put = each(
      (t) =>
        `INSERT INTO ${t} (k, v, c) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, c = excluded.c`,
      writer,
    )
    this.erase = each((t) => `DELETE FROM ${t} WHERE k = ?`, writer)
    this.getters = each((t) => `SELECT v, c FROM ${t} WHERE k = ?`, reader)
    this.arrays = returnArrays(this.getters.values) && returnArrays(this.getters.meta)
    // `i.k` is the key index's copy (the index covers it); the subquery reads the table's copy
    // of the same row through its rowid, without the index. The side of each neighbour is
    // checked again outside the subqueries: SQLite does not re-test the bound it seeked to.
    const neighbour = (t: string, operator: '<' | '>', side: number) =>
      `SELECT * FROM (SELECT i.k AS indexed, (SELECT r.k FROM ${t} AS r WHERE r.rowid = i.rowid) AS stored, ` +
      `${side} AS side FROM ${t} AS i WHERE i.k ${operator} ?1 ORDER BY i.k ${side < 0 ? 'DESC' : 'ASC'} LIMIT 1)`
    const disagreement = (t: string) =>
      reader.prepare(
        `SELECT 1 FROM (${neighbour(t, '<', -1)} UNION ALL ${neighbour(t, '>', 1)}) ` +
          `WHERE typeof(indexed) != 'blob' OR stored IS NOT indexed ` +
          'OR (side < 0 AND indexed >= ?1) OR (side > 0 AND indexed <= ?1)',
      )
    this.indexDisagrees = { values: disagreement(TABLES.values), meta: disagreement(TABLES.meta) }
  }

  /** See {@link openFileStorage}. */
  static async open(options: FileStorageOptions): Promise<FileStorage> {
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('openFileStorage: options must be a { directory, space } object')
    }
    const { directory, check = 'auto', busyTimeoutMs = 5000 } = options
    if (typeof directory !== 'string' || directory.length === 0) {
      throw invalidArgument('openFileStorage: directory must be a non-empty path')
    }
    if (!['auto', 'quick', 'full', 'minimal'].includes(check)) {
      throw invalidArgument(`openFileStorage: check must be 'auto', 'quick', 'full' or 'minimal'`)
    }
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw invalidArgument('openFileStorage: busyTimeoutMs must be a non-negative integer')
    }
    const path = fileStoragePath(directory, options.space)
    const id = resolvePath(path)
    if (openFiles.has(id)) {
      throw new MendsyncError(
        'STORAGE_FAILURE',
        `${path} is already open in this process; close that storage first (one per file)`,
      )
    }
    const wal = `${path}-wal`
    try {
      ensureDirectory(directory)
      if (!existsSync(path)) {
        if (fileSize(wal) > 0) {
          throw corruptFile(path, `the database file is missing but its journal ${wal} exists`)
        }
        createDatabase(path)
      }
      checkHeader(path, fileSize(wal) > 0)
      if (check !== 'minimal') checkWal(path)
    } catch (error) {
      throw storageError(error, path, 'opening the storage')
    }

    let writer: DatabaseSync | undefined
    let reader: DatabaseSync | undefined
    try {
      writer = new DatabaseSync(path, { timeout: busyTimeoutMs })
      configure(writer, path)
      restrictPermissions(path)
      reader = new DatabaseSync(path, { timeout: busyTimeoutMs })
      reader.exec(
        'PRAGMA cell_size_check = ON; PRAGMA trusted_schema = OFF; PRAGMA query_only = ON;',
      )
      const mode = check === 'auto' ? autoCheck(fileSize(path) + Math.max(0, fileSize(wal))) : check
      if (mode === 'quick') structuralCheck(reader, path, 'quick_check')
      if (mode === 'structure') structuralCheck(reader, path, 'integrity_check')
      const storage = new FileStorage(writer, reader, path, options)
      openFiles.add(id)
      if (mode === 'full') {
        try {
          await storage.verify()
        } catch (error) {
          await storage.close()
          throw error
        }
      }
      return storage
    } catch (error) {
      if (reader?.isOpen) reader.close()
      if (writer?.isOpen) writer.close()
      throw storageError(error, path, 'opening the storage')
    }
  }

  /**
   * Counters since open: `commits` (transactions, one fsync each unless relaxed) and the
   * `batches` they made durable; `batches / commits` is the group commit factor.
   */
  get stats(): FileStorageStats {
    return { commits: this.commits, relaxedCommits: this.relaxedCommits, batches: this.batches }
  }

  async get(namespace: Namespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.ensureOpen('get')
    assertNamespace(namespace, 'get')
    const checked = prepareKeys(keys)
    const statement = this.getters[namespace]
    try {
      const values: (Uint8Array | undefined)[] = []
      for (const key of checked) {
        const k = encodeKey(key)
        const row = statement.get(k) as PointRow | undefined
        if (row === undefined) {
          this.confirmIndex(namespace, k)
          values.push(undefined)
        } else if (this.arrays) {
          values.push(this.verified(namespace, key, k, (row as ArrayRow)[0], (row as ArrayRow)[1]))
        } else {
          values.push(this.verified(namespace, key, k, (row as ObjectRow).v, (row as ObjectRow).c))
        }
      }
      return values
    } catch (error) {
      throw storageError(error, this.path, 'get')
    }
  }

  async write(batch: WriteBatch): Promise<void> {
    this.ensureOpen('write')
    // SQLite copies bound values, and they are bound right here: no copy of our own is needed.
    const prepared = prepareBatch(batch, { copyValues: false })
    if (prepared.size === 0) return
    this.apply(prepared)
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      if (!this.commitScheduled) {
        this.commitScheduled = true
        // After the current I/O phase, so batches written meanwhile share the commit.
        setImmediate(() => this.commit())
      }
    })
  }

  async scan(options: ScanOptions): Promise<ScanPage> {
    this.ensureOpen('scan')
    const scan = prepareScan(options)
    if (scan.empty) return { entries: [] }
    const lower = scan.lower === undefined ? undefined : encodeKey(scan.lower)
    const upper = scan.upper === undefined ? undefined : encodeKey(scan.upper)
    const from = lower === undefined ? '' : scan.lowerOpen ? 'k > ?' : 'k >= ?'
    const params: (Uint8Array | number)[] = []
    if (lower !== undefined) params.push(lower)
    if (upper !== undefined) params.push(upper)
    const entries: Entry[] = []
    try {
      const select = this.scanStatement(scan.namespace, 'k, v, c', from, upper !== undefined)
      let bytes = 0
      let firstK: Uint8Array | undefined
      let lastK: Uint8Array | undefined
      for (const row of select.iterate(...params, scan.limit) as Iterable<Row>) {
        const key = this.decoded(scan.namespace, row.k)
        const value = this.verified(scan.namespace, key, row.k, row.v, row.c)
        entries.push({ key, value })
        firstK ??= row.k
        lastK = row.k
        bytes += entryBytes(key, value)
        if (bytes >= PAGE_BYTES) break
      }
      // Reading on in key order visits every index entry, damaged ones included (their records
      // then fail the checksum); a seek may step over one. Check where this page's seek landed.
      if (lower !== undefined) this.confirmIndex(scan.namespace, firstK ?? lower)
      let more = lastK !== undefined && (entries.length >= scan.limit || bytes >= PAGE_BYTES)
      if (more) {
        // The page is full (or at its byte budget): does anything follow it?
        const probe = this.scanStatement(scan.namespace, '1', 'k > ?', upper !== undefined)
        more = probe.get(lastK!, ...(upper === undefined ? [] : [upper]), 1) !== undefined
      }
      if (more) return { entries, cursor: entries[entries.length - 1]!.key }
      // The last page: no damaged entry may hide before the end of the range.
      this.confirmIndex(scan.namespace, upper ?? AFTER_EVERY_KEY)
      return { entries }
    } catch (error) {
      throw storageError(error, this.path, 'scan')
    }
  }

  /**
   * Checks the whole file: SQLite's `PRAGMA integrity_check`, then every record's checksum, a page
   * at a time (yielding to the event loop between pages). Throws `STORAGE_CORRUPT` naming the file
   * and the first damaged keys; resolves with the number of records checked.
   */
  async verify(): Promise<VerifyReport> {
    this.ensureOpen('verify')
    try {
      structuralCheck(this.reader, this.path, 'integrity_check')
    } catch (error) {
      throw storageError(error, this.path, 'verify')
    }
    const PAGE = 256
    let records = 0
    let damagedCount = 0
    const damaged: string[] = [] // the first 10, for the message
    for (const namespace of NAMESPACES) {
      let after: Uint8Array | undefined
      for (;;) {
        this.ensureOpen('verify')
        const select = this.scanStatement(
          namespace,
          'k, v, c',
          after === undefined ? '' : 'k > ?',
          false,
        )
        let count = 0
        try {
          for (const row of select.iterate(
            ...(after === undefined ? [] : [after]),
            PAGE,
          ) as Iterable<Row>) {
            count++
            after = row.k
            if (checksum(row.k, row.v) !== row.c && damagedCount++ < 10) {
              damaged.push(`${namespace}:${describeKey(row.k)}`)
            }
          }
        } catch (error) {
          throw storageError(error, this.path, 'verify')
        }
        records += count
        if (count < PAGE) break
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    if (damagedCount > 0) {
      throw corruptFile(
        this.path,
        `${damagedCount} record(s) fail their checksum: ${damaged.join(', ')}` +
          (damagedCount > damaged.length ? ', ...' : ''),
      )
    }
    return { records }
  }

  /**
   * Commits the batches written so far, then closes the file (checkpointing its WAL). Idempotent;
   * calls made after it fail with `STORAGE_CLOSED`.
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closed = true
      this.closing = new Promise<void>((resolve, reject) => {
        this.commit()
        openFiles.delete(resolvePath(this.path))
        try {
          this.reader.close()
          this.writer.close()
          resolve()
        } catch (error) {
          if (this.writer.isOpen) this.writer.close()
          reject(storageError(error, this.path, 'close'))
        }
      })
    }
    return this.closing
  }

  private ensureOpen(operation: string): void {
    if (this.closed) throw storageClosed(operation, this.path)
  }

  /**
   * Applies a batch in the open transaction (opening one if needed). The first batch of a
   * transaction rolls back with it; later ones get a savepoint, so each can fail alone.
   */
  private apply(batch: PreparedBatch): void {
    const db = this.writer
    if (db.isTransaction && batch.durability === 'strict' && this.level === 'relaxed') this.commit()
    const first = this.waiting.length === 0
    try {
      if (!db.isTransaction) this.begin(batch.durability)
      if (!first) db.exec('SAVEPOINT batch')
    } catch (error) {
      throw storageError(error, this.path, 'write')
    }
    try {
      for (const namespace of NAMESPACES) {
        const put = this.put[namespace]
        const erase = this.erase[namespace]
        for (const { key, value } of batch[namespace]) {
          if (this.onMutation !== undefined) this.injected(namespace, key)
          const k = encodeKey(key)
          if (value === null) {
            erase.run(k)
            this.erasedSinceVacuum++
          } else put.run(k, value, checksum(k, value))
        }
      }
      if (!first) db.exec('RELEASE batch')
    } catch (error) {
      const failure = storageError(error, this.path, 'write')
      if (!db.isTransaction) {
        // SQLite rolled the whole transaction back (I/O error, disk full): the batches written
        // before this one in it are lost too.
        this.failWaiting(failure)
        throw failure
      }
      try {
        db.exec(first ? 'ROLLBACK' : 'ROLLBACK TO batch; RELEASE batch')
      } catch (rollbackError) {
        this.rollback()
        this.failWaiting(storageError(rollbackError, this.path, 'write'))
      }
      throw failure
    }
  }

  private injected(namespace: Namespace, key: string): void {
    try {
      this.onMutation!(namespace, key)
    } catch (cause) {
      throw new MendsyncError(
        'STORAGE_FAILURE',
        `write on ${this.path} failed while applying a batch (${String(cause)}); nothing of it was stored`,
        { cause },
      )
    }
  }

  /** Opens a transaction whose commit syncs as `durability` asks. */
  private begin(durability: Durability): void {
    if (durability !== this.level) {
      this.writer.exec(`PRAGMA synchronous = ${durability === 'strict' ? 'FULL' : 'NORMAL'}`)
      this.level = durability
    }
    this.writer.exec('BEGIN IMMEDIATE')
  }

  /**
   * Makes the batches of the open transaction durable (one fsync, none if relaxed) and resolves
   * their writes.
   */
  private commit(): void {
    this.commitScheduled = false
    const waiting = this.waiting
    if (waiting.length === 0) return
    this.waiting = []
    try {
      this.writer.exec('COMMIT')
    } catch (error) {
      this.rollback()
      const failure = storageError(error, this.path, 'commit')
      for (const waiter of waiting) waiter.reject(failure)
      return
    }
    this.commits++
    if (this.level === 'relaxed') this.relaxedCommits++
    this.batches += waiting.length
    for (const waiter of waiting) waiter.resolve()
    if (this.erasedSinceVacuum >= VACUUM_AFTER_ERASED) this.vacuum()
  }

  /**
   * Gives free pages back to the file system once they are more than an eighth of the file
   * (after many erased records, e.g. collected tombstones). Files created before incremental
   * auto-vacuum keep their size (`PRAGMA incremental_vacuum` does nothing there). A failure
   * only leaves the file larger: the data is untouched.
   */
  private vacuum(): void {
    this.erasedSinceVacuum = 0
    try {
      const pages = this.writer.prepare('PRAGMA page_count').get() as { page_count: number }
      const free = this.writer.prepare('PRAGMA freelist_count').get() as {
        freelist_count: number
      }
      if (free.freelist_count * 8 > pages.page_count) this.writer.exec('PRAGMA incremental_vacuum')
    } catch (error) {
      this.logger.debug('incremental vacuum failed; the file stays larger', {
        error,
        path: this.path,
      })
    }
  }

  private failWaiting(error: unknown): void {
    const waiting = this.waiting
    this.waiting = []
    for (const waiter of waiting) waiter.reject(error)
  }

  private rollback(): void {
    try {
      if (this.writer.isTransaction) this.writer.exec('ROLLBACK')
    } catch {
      // The connection is unusable; the next operation reports it.
    }
  }

  private scanStatement(
    namespace: Namespace,
    columns: string,
    from: string,
    bounded: boolean,
  ): StatementSync {
    const id = `${namespace}|${columns}|${from}|${bounded}`
    let statement = this.scans.get(id)
    if (statement === undefined) {
      const where = [from, bounded ? 'k < ?' : ''].filter((clause) => clause !== '')
      statement = this.reader.prepare(
        `SELECT ${columns} FROM ${TABLES[namespace]}` +
          `${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY k LIMIT ?`,
      )
      this.scans.set(id, statement)
    }
    return statement
  }

  /**
   * Confirms the key index around `k` (a key a `get` did not find, or where a scan's seek landed
   * or its range ended): a damaged index entry (one whose key bytes changed) still sits where its
   * key belongs, so a seek that misses or steps over it lands next to it. Both neighbours of `k`
   * in the index must hold, in their table rows, the keys the index names, and lie on either
   * side of `k`. One statement (two index seeks, two rowid lookups); a disagreement is
   * `STORAGE_CORRUPT`, never a silent miss.
   */
  private confirmIndex(namespace: Namespace, k: Uint8Array): void {
    if (this.indexDisagrees[namespace].get(k) === undefined) return
    throw corruptFile(
      this.path,
      `the key index of '${namespace}' disagrees with its table next to ` +
        `${k === AFTER_EVERY_KEY ? 'its end' : `key ${describeKey(k)}`}, so which keys exist there cannot be told`,
    )
  }

  private decoded(namespace: Namespace, k: Uint8Array): string {
    if (!(k instanceof Uint8Array)) {
      throw corruptRecord(this.path, namespace, String(k), 'its key is not bytes')
    }
    try {
      return decodeKey(k)
    } catch {
      throw corruptRecord(this.path, namespace, describeKey(k), 'its key bytes are malformed')
    }
  }

  private verified(
    namespace: Namespace,
    key: string,
    k: Uint8Array,
    v: Uint8Array,
    c: number,
  ): Uint8Array {
    if (!(v instanceof Uint8Array) || checksum(k, v) !== c)
      throw corruptRecord(this.path, namespace, key)
    return v
  }
}

function describeKey(k: Uint8Array): string {
  try {
    return JSON.stringify(decodeKey(k))
  } catch {
    return `<malformed ${k.length}-byte key ${Buffer.from(k.subarray(0, 16)).toString('hex')}>`
  }
}
