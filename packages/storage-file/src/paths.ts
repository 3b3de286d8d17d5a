import { join } from 'node:path'
import { MendsyncError } from '@mendsync/core'
import { loneSurrogateIndex } from '@mendsync/replica/adapter'

/** File name extension of a space's database. */
export const FILE_EXTENSION = '.sqlite'

/** Longest file name a space may map to (file systems allow 255 bytes; room for `-wal`). */
const MAX_FILE_NAME = 200

/**
 * The file name of `space`: lowercase ASCII letters, digits, `-` and `_` as they are, every other
 * byte of its UTF-8 form as `%XX`. Distinct spaces get distinct names, also on case-insensitive
 * file systems (uppercase letters are escaped), and no name is hidden or special (`.` is escaped).
 */
export function spaceFileName(space: string): string {
  if (typeof space !== 'string' || space.length === 0) {
    throw new MendsyncError('INVALID_ARGUMENT', 'space must be a non-empty string')
  }
  if (loneSurrogateIndex(space) >= 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'space must be well-formed UTF-16 (no lone surrogate)',
    )
  }
  let name = ''
  for (const byte of new TextEncoder().encode(space)) {
    const char = String.fromCharCode(byte)
    name += /[a-z0-9_-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  name += FILE_EXTENSION
  if (name.length > MAX_FILE_NAME) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `space ${JSON.stringify(space.slice(0, 40))}... is too long: its file name would be ${name.length} ` +
        `bytes, at most ${MAX_FILE_NAME} are allowed (lowercase ASCII letters and digits count 1, other bytes 3)`,
    )
  }
  return name
}

/** The database file of `space` in `directory`. */
export function fileStoragePath(directory: string, space: string): string {
  return join(directory, spaceFileName(space))
}
