import { MendsyncError } from '@mendsync/core'

// SQLite primary result codes that mean "the bytes on disk are not a valid database".
const SQLITE_CORRUPT = 11
const SQLITE_NOTADB = 26
const SQLITE_FULL = 13

interface SqliteError extends Error {
  readonly errcode?: number
  readonly errstr?: string
}

/** The SQLite result code of `error`, if it came from node:sqlite. */
export function sqliteCode(error: unknown): number | undefined {
  const code = (error as SqliteError | null)?.errcode
  return typeof code === 'number' ? code & 0xff : undefined
}

/**
 * Turns anything thrown while using the database at `path` into a MendsyncError: corruption
 * reported by SQLite becomes `STORAGE_CORRUPT`, any other failure `STORAGE_FAILURE`. The message
 * names the file and the operation.
 */
export function storageError(error: unknown, path: string, operation: string): MendsyncError {
  if (error instanceof MendsyncError) return error
  const code = sqliteCode(error)
  const reason = error instanceof Error ? error.message : String(error)
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return corruptFile(path, `SQLite reports: ${reason}`, error)
  }
  const hint = isDiskFull(error) ? ' The disk is full; free space and retry.' : ''
  return new MendsyncError('STORAGE_FAILURE', `${operation} on ${path} failed: ${reason}.${hint}`, {
    cause: error,
  })
}

// What the OS reports when a file cannot grow: no space, quota exceeded, file-size limit.
const DISK_FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EFBIG'])

/**
 * Whether `error`, or an error in its `cause` chain (a replica wraps the storage's error), says
 * the disk is full: SQLite's `SQLITE_FULL`, or `ENOSPC` / `EDQUOT` / `EFBIG` from the OS. Such a
 * failure is transient: the write can succeed once space is freed.
 */
export function isDiskFull(error: unknown): boolean {
  let current = error
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (sqliteCode(current) === SQLITE_FULL) return true
    if (DISK_FULL_ERRNOS.has(String((current as NodeJS.ErrnoException).code))) return true
    current = current.cause
  }
  return false
}

/** The error for a database file that cannot be trusted; nothing in it is touched. */
export function corruptFile(path: string, detail: string, cause?: unknown): MendsyncError {
  return new MendsyncError(
    'STORAGE_CORRUPT',
    `${path} is corrupt: ${detail}. The file was left as it is; restore it (with its -wal file) ` +
      'from a backup, or move it away to start this space empty and resync it from peers.',
    cause === undefined ? undefined : { cause },
  )
}
