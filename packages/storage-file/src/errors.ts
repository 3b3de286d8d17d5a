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
  const hint =
    code === SQLITE_FULL || (error as NodeJS.ErrnoException | null)?.code === 'ENOSPC'
      ? ' The disk is full; free space and retry.'
      : ''
  return new MendsyncError('STORAGE_FAILURE', `${operation} on ${path} failed: ${reason}.${hint}`, {
    cause: error,
  })
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
