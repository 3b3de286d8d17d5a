// Checking a space's write-ahead log before SQLite replays it. SQLite replays the WAL's frames up
// to the first one whose checksum fails, and silently ignores the rest: one flipped bit in a
// frame of a committed transaction would drop that transaction and every later one, and the
// store would open holding an older state. This reads the `-wal` (and the `-shm` a crashed
// process leaves) without modifying them, and reports committed frames SQLite would drop.
//
// Formats: https://www.sqlite.org/fileformat2.html#walformat and #walindexformat.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { endianness } from 'node:os'
import { corruptFile } from './errors.js'

const WAL_HEADER_BYTES = 32
const FRAME_HEADER_BYTES = 24
const WAL_MAGIC = 0x377f0682 // low bit set: checksums over big-endian words
const WAL_VERSION = 3007000
/** The wal-index header: two 48-byte copies at the start of the `-shm` file. */
const SHM_HEADER_BYTES = 48

/** SQLite's WAL checksum over `bytes` (a multiple of 8 bytes), continuing from `seed`. */
function walChecksum(
  bytes: Buffer,
  bigEndian: boolean,
  seed: readonly [number, number],
): [number, number] {
  let s1 = seed[0]
  let s2 = seed[1]
  for (let i = 0; i + 8 <= bytes.length; i += 8) {
    const x0 = bigEndian ? bytes.readUInt32BE(i) : bytes.readUInt32LE(i)
    const x1 = bigEndian ? bytes.readUInt32BE(i + 4) : bytes.readUInt32LE(i + 4)
    s1 = (s1 + x0 + s2) >>> 0
    s2 = (s2 + x1 + s1) >>> 0
  }
  return [s1, s2]
}

function readAt(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length)
  let read = 0
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, position + read)
    if (n === 0) break
    read += n
  }
  return read === length ? buffer : buffer.subarray(0, read)
}

/** What the wal-index of a crashed process says was committed, if its header is intact. */
interface WalIndexHeader {
  readonly mxFrame: number
  /** The WAL header's salts (8 raw bytes) the index describes. */
  readonly salts: Buffer
}

/** A descriptor of `path` opened for reading, or undefined when there is no such file. */
function openIfPresent(path: string): number | undefined {
  try {
    return openSync(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

function readWalIndexHeader(shmPath: string): WalIndexHeader | undefined {
  const fd = openIfPresent(shmPath)
  if (fd === undefined) return undefined
  let bytes: Buffer
  try {
    bytes = readAt(fd, 2 * SHM_HEADER_BYTES, 0)
  } finally {
    closeSync(fd)
  }
  if (bytes.length < 2 * SHM_HEADER_BYTES) return undefined
  const first = bytes.subarray(0, SHM_HEADER_BYTES)
  // SQLite writes the two copies in turn and trusts the header only when they agree.
  if (!first.equals(bytes.subarray(SHM_HEADER_BYTES))) return undefined
  const littleEndian = endianness() === 'LE' // the wal-index is in native byte order
  const u32 = (offset: number) =>
    littleEndian ? first.readUInt32LE(offset) : first.readUInt32BE(offset)
  if (u32(0) !== WAL_VERSION || first[12] !== 1) return undefined
  const [c1, c2] = walChecksum(first.subarray(0, 40), !littleEndian, [0, 0])
  if (c1 !== u32(40) || c2 !== u32(44)) return undefined
  return { mxFrame: u32(16), salts: Buffer.from(first.subarray(32, 40)) }
}

/**
 * Throws `STORAGE_CORRUPT` naming `dbPath` when its WAL (`<dbPath>-wal`) holds committed frames
 * that SQLite would not replay:
 * - the `-shm` left by a crashed process is intact and counts more committed frames than the WAL
 *   still replays (a damaged frame, header or a truncated WAL dropped transactions), or
 * - after the first damaged frame, a frame of the same WAL generation that is intact on its own
 *   commits a later transaction (damage in the middle of the log, not a torn tail).
 * A torn tail (the last transaction cut short by a crash) is what a WAL legitimately ends with
 * and is accepted. Reads the files only. A writer in another process may be appending while this
 * reads, and a frame read half-written looks damaged: a problem counts only if a second reading
 * finds it too (a damaged file reads the same twice; a live WAL moves on).
 */
export function checkWal(dbPath: string): void {
  if (walProblem(dbPath) === undefined) return
  const again = walProblem(dbPath)
  if (again !== undefined) throw corruptFile(dbPath, again)
}

/** What {@link checkWal} reports about the WAL of `dbPath`, if anything. */
function walProblem(dbPath: string): string | undefined {
  const walPath = `${dbPath}-wal`
  const fd = openIfPresent(walPath)
  if (fd === undefined) return undefined
  // The wal-index first: a writer of another process updates it after the frames it describes.
  const index = readWalIndexHeader(`${dbPath}-shm`)
  try {
    const size = fstatSync(fd).size
    const header = readAt(fd, WAL_HEADER_BYTES, 0)
    const magic = header.length === WAL_HEADER_BYTES ? header.readUInt32BE(0) : 0
    const pageSize = header.length === WAL_HEADER_BYTES ? header.readUInt32BE(8) : 0
    const bigEndian = (magic & 1) === 1
    const sane =
      (magic & ~1) >>> 0 === WAL_MAGIC &&
      header.readUInt32BE(4) === WAL_VERSION &&
      pageSize >= 512 &&
      pageSize <= 65536 &&
      (pageSize & (pageSize - 1)) === 0
    const storedHeaderSum: [number, number] = sane
      ? [header.readUInt32BE(24), header.readUInt32BE(28)]
      : [0, 0]
    const headerIntact =
      sane &&
      walChecksum(header.subarray(0, 24), bigEndian, [0, 0]).every(
        (sum, i) => sum === storedHeaderSum[i],
      )
    const salts = sane ? header.subarray(16, 24) : Buffer.alloc(8)

    // Frames SQLite replays: up to the last commit frame before the first damaged frame.
    let replayed = 0
    let firstDamaged = -1
    let damagedTransactionEnd = -1
    let laterCommit = -1
    let seed = storedHeaderSum
    const frameBytes = FRAME_HEADER_BYTES + pageSize
    const frames = sane ? Math.floor((size - WAL_HEADER_BYTES) / frameBytes) : 0
    for (let frame = 0; frame < frames; frame++) {
      const bytes = readAt(fd, frameBytes, WAL_HEADER_BYTES + frame * frameBytes)
      const stored: [number, number] = [bytes.readUInt32BE(16), bytes.readUInt32BE(20)]
      // Checked on its own: against the stored checksum of the frame before it.
      const sum = walChecksum(
        bytes.subarray(FRAME_HEADER_BYTES),
        bigEndian,
        walChecksum(bytes.subarray(0, 8), bigEndian, seed),
      )
      const intact =
        bytes.readUInt32BE(0) !== 0 &&
        bytes.subarray(8, 16).equals(salts) &&
        sum[0] === stored[0] &&
        sum[1] === stored[1]
      const commits = bytes.readUInt32BE(4) !== 0
      seed = stored
      if (!intact) {
        if (firstDamaged < 0) firstDamaged = frame
        continue
      }
      if (!commits) continue
      if (headerIntact && firstDamaged < 0) {
        replayed = frame + 1
      } else if (damagedTransactionEnd < 0) {
        // The commit frame of the damaged transaction itself (possibly a torn last write).
        damagedTransactionEnd = frame
      } else if (laterCommit < 0) {
        laterCommit = frame
      }
    }
    // A damaged header counts as damage in the first transaction.
    const damage = !headerIntact ? 'its header' : `frame ${firstDamaged + 1} of ${frames}`
    if (laterCommit >= 0) {
      return (
        `its WAL ${walPath} is damaged (${damage}) but commits ` +
        `transactions after it (frame ${laterCommit + 1}); SQLite would drop them`
      )
    }
    if (
      index !== undefined &&
      index.mxFrame > replayed &&
      (!headerIntact || index.salts.equals(salts))
    ) {
      return (
        `its WAL ${walPath} replays ${replayed} frames but ${index.mxFrame} were committed ` +
        `(${!headerIntact || firstDamaged >= 0 ? `damaged: ${damage}` : 'it was truncated'}); ` +
        'SQLite would drop the committed transactions after it'
      )
    }
    return undefined
  } finally {
    closeSync(fd)
  }
}
