// Creating, identifying and checking the SQLite file of a space. Everything here runs before a
// FileStorage exists; anything wrong with the file is reported with a typed error naming it, and
// the file is never modified, recreated or deleted on the way (no silent loss of intact data).
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { MendsyncError } from '@mendsync/core'
import { corruptFile, storageError } from './errors.js'
import { APPLICATION_ID, FORMAT_VERSION, TABLES } from './format.js'
import { DatabaseSync } from './sqlite.js'

const SCHEMA = Object.values(TABLES)
  .map(
    (table) =>
      // A rowid table with a unique key index: values up to ~4 KB stay on the table's page,
      // where a WITHOUT ROWID table would spill anything past ~1 KB to an overflow page.
      `CREATE TABLE ${table} (k BLOB PRIMARY KEY NOT NULL, c INTEGER NOT NULL, v BLOB NOT NULL) STRICT;`,
  )
  .join('\n')

const HEADER_MAGIC = 'SQLite format 3\u0000'
const HEADER_BYTES = 100

export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1
    throw error
  }
}

/** Creates `directory` (and parents) with mode 0700 when missing. */
export function ensureDirectory(directory: string): void {
  const created = mkdirSync(directory, { recursive: true, mode: 0o700 })
  if (created !== undefined && process.platform !== 'win32') chmodSync(directory, 0o700)
}

/** Restricts the database and its -wal/-shm files to the owner (0600). */
export function restrictPermissions(path: string): void {
  if (process.platform === 'win32') return
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}

function fsyncPath(path: string, directory: boolean): void {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    // Windows cannot open a directory to sync it; its metadata journaling covers the rename.
    if (directory) return
    throw error
  }
  try {
    fsyncSync(fd)
  } catch (error) {
    if (!directory) throw error
  } finally {
    closeSync(fd)
  }
}

/**
 * Creates the database of a new space at `path`: built and synced under a temporary name, then
 * linked into place, so that a file at `path` is always a complete, initialised store. (A crash
 * halfway leaves only a temporary file, removed by a later creation.) If another process creates
 * the same space at the same time, the first file wins and this one is discarded.
 */
export function createDatabase(path: string): void {
  const directory = dirname(path)
  const temporaryPrefix = `${basename(path)}.creating-`
  removeStaleTemporaries(directory, temporaryPrefix)
  const temporary = join(
    directory,
    `${temporaryPrefix}${process.pid}-${randomBytes(4).toString('hex')}`,
  )
  let db: DatabaseSync | undefined
  try {
    // Created by us with 0600 before SQLite opens it; SQLite gives -wal/-shm the same mode.
    closeSync(openSync(temporary, 'wx', 0o600))
    db = new DatabaseSync(temporary)
    // Incremental auto-vacuum, set before the first page is written (WAL mode writes it): pages
    // freed by erased records (collected tombstones) go back to the file system (see
    // FileStorage.vacuum).
    db.exec('PRAGMA auto_vacuum = INCREMENTAL')
    const mode = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: unknown }
    if (mode.journal_mode !== 'wal')
      throw new Error(`journal_mode WAL was refused (${String(mode.journal_mode)})`)
    db.exec(
      `PRAGMA synchronous = FULL;
       PRAGMA application_id = ${APPLICATION_ID};
       PRAGMA user_version = ${FORMAT_VERSION};
       BEGIN IMMEDIATE;
       ${SCHEMA}
       COMMIT;`,
    )
    db.close() // checkpoints the WAL into the file and removes it
    db = undefined
    fsyncPath(temporary, false)
    try {
      linkSync(temporary, path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'EEXIST') {
        // A file system without hard links: fall back to rename (same directory, atomic).
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV')
          throw error
        renameSync(temporary, path)
      }
    }
    fsyncPath(directory, true)
  } catch (error) {
    throw storageError(error, path, 'creating the database')
  } finally {
    if (db?.isOpen) db.close()
    removeTemporary(temporary)
  }
}

function removeTemporary(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`])
    rmSync(file, { force: true })
}

function removeStaleTemporaries(directory: string, prefix: string): void {
  const staleBefore = Date.now() - 60_000
  for (const name of readdirSync(directory)) {
    if (!name.startsWith(prefix)) continue
    const file = join(directory, name)
    try {
      if (statSync(file).mtimeMs < staleBefore) rmSync(file, { force: true })
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
}

/**
 * Cheap checks of the file's first bytes, before SQLite sees it: an empty, truncated or foreign
 * file is reported as corrupt instead of being opened (SQLite would treat an empty file as a
 * new, empty database, silently "losing" the space). The page count in the header is compared
 * with the file size only when no WAL is pending (a checkpoint in progress may legitimately
 * leave the file shorter than its header says until the WAL is replayed).
 */
export function checkHeader(path: string, walPending: boolean): void {
  const size = fileSize(path)
  if (size === 0) throw corruptFile(path, 'the file is empty (truncated to 0 bytes?)')
  if (size < HEADER_BYTES) {
    throw corruptFile(
      path,
      `the file is only ${size} bytes, shorter than a database header (truncated)`,
    )
  }
  const header = Buffer.alloc(HEADER_BYTES)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, header, 0, HEADER_BYTES, 0)
  } finally {
    closeSync(fd)
  }
  if (header.toString('latin1', 0, 16) !== HEADER_MAGIC) {
    throw corruptFile(
      path,
      'it does not start with a SQLite header (overwritten, or not a database)',
    )
  }
  const rawPageSize = header.readUInt16BE(16)
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw corruptFile(path, `its header has an invalid page size (${rawPageSize})`)
  }
  if (walPending) return
  const pages = header.readUInt32BE(28)
  const headerSizeValid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92)
  if (headerSizeValid && size < pages * pageSize) {
    throw corruptFile(
      path,
      `its header counts ${pages} pages of ${pageSize} bytes (${pages * pageSize} bytes) but the ` +
        `file has ${size} bytes: it was truncated`,
    )
  }
}

/**
 * Checks the file is a mendsync store of a layout this version knows (reading only), then sets
 * the connection up: WAL, synchronous=FULL, corruption checks while reading.
 */
export function configure(db: DatabaseSync, path: string): void {
  const read = (pragma: string): unknown => {
    const row = db.prepare(`PRAGMA ${pragma}`).get() as Record<string, unknown> | undefined
    return row === undefined ? undefined : Object.values(row)[0]
  }
  // Connection settings only (nothing is written): detect damaged cells while reading, and never
  // run SQL found in the file's schema.
  db.exec('PRAGMA cell_size_check = ON; PRAGMA trusted_schema = OFF;')
  const applicationId = read('application_id')
  if (applicationId !== APPLICATION_ID) {
    throw corruptFile(
      path,
      `it is a SQLite database but not a mendsync store (application_id ${String(applicationId)})`,
    )
  }
  const version = read('user_version')
  if (typeof version !== 'number' || version > FORMAT_VERSION) {
    throw new MendsyncError(
      'STORAGE_FAILURE',
      `${path} was written by a newer mendsync (format ${String(version)}; this version reads ` +
        `format ${FORMAT_VERSION}); upgrade @mendsync/storage-file to open it`,
    )
  }
  const tables = new Set(
    (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]
    ).map((row) => row.name),
  )
  for (const table of Object.values(TABLES)) {
    if (!tables.has(table)) throw corruptFile(path, `its table ${table} is missing`)
  }
  // Only now that the file is known to be ours, change its settings.
  if (read('journal_mode') !== 'wal' && read('journal_mode = WAL') !== 'wal') {
    throw new MendsyncError('STORAGE_FAILURE', `${path}: SQLite refused WAL journal mode`)
  }
  db.exec(
    `PRAGMA synchronous = FULL;
     PRAGMA temp_store = MEMORY;
     PRAGMA foreign_keys = OFF;
     PRAGMA journal_size_limit = ${64 * 1024 * 1024};`,
  )
}

/** Runs SQLite's structural check; throws STORAGE_CORRUPT listing the first problems. */
export function structuralCheck(
  db: DatabaseSync,
  path: string,
  pragma: 'quick_check' | 'integrity_check',
): void {
  const rows = db.prepare(`PRAGMA ${pragma}(20)`).all() as Record<string, unknown>[]
  const messages = rows.map((row) => String(Object.values(row)[0]))
  if (messages.length === 1 && messages[0] === 'ok') return
  throw corruptFile(path, `PRAGMA ${pragma} found: ${messages.slice(0, 5).join('; ')}`)
}
