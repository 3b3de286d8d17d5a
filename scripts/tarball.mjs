// Reading a packed npm tarball (gzip + ustar) without unpacking it: its file names, and the text
// of one entry. Enough for the release script's checks; entries are a few hundred small files.
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

const BLOCK = 512

/** Every regular file of the tarball at `path`, by name (`package/...`), with its bytes. */
export function readTarball(path) {
  const data = gunzipSync(readFileSync(path))
  const files = new Map()
  let offset = 0
  let longName
  while (offset + BLOCK <= data.length) {
    const header = data.subarray(offset, offset + BLOCK)
    if (header.every((byte) => byte === 0)) break
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '')
    const size = Number.parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1)
    const prefix = field(345, 155)
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100))
    const body = data.subarray(offset + BLOCK, offset + BLOCK + size)
    longName = undefined
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '')
    else if (type === '0' || type === '') files.set(name, body)
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK
  }
  return files
}
