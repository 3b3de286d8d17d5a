// Bit rot in real files: one bit flipped at a random place of a key index page, a table page or
// the WAL of a real store, then a real reopen (with the default check and with `quick`, which does
// not compare indexes with tables), every key read, a miss read next to every key, and a full
// scan. Each read must give the data that was written or fail with STORAGE_CORRUPT; a wrong
// value, another key's record, a missing key or an extra key is a silent wrong answer and fails
// the test. Seeded: a failure names the seed, the place and the bit, so it reproduces.
// MENDSYNC_CORRUPTION_TRIALS=<n> runs n trials per region (default 25 in CI).
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { isMendsyncError } from '@mendsync/core'
import { type SeededRandom, seededRandom } from '@mendsync/core/toolbox'
import { type Namespace, scanAll } from '@mendsync/replica/adapter'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStoragePath, openFileStorage, TABLES } from '../src/index.js'
import { temporaryDirectory } from './harness.js'

const TRIALS = Number(process.env.MENDSYNC_CORRUPTION_TRIALS ?? 25)
const BASE_SEED = 0x5eed_0019
const SPACE = 'rot'
const NAMESPACES = ['values', 'meta'] as const
const KEY_INDEX: Record<Namespace, string> = {
  values: `sqlite_autoindex_${TABLES.values}_1`,
  meta: `sqlite_autoindex_${TABLES.meta}_1`,
}

type Random = SeededRandom

type Contents = Record<Namespace, Map<string, Uint8Array>>

const key = (i: number) => `item/${String(i).padStart(5, '0')}`

/**
 * Writes a store in `directory` through FileStorage: a first batch, then `updates` more
 * transactions that overwrite, erase and add keys. Values of 0 B to 3 KB, a few of 6 KB (overflow
 * pages). Returns what must be read back.
 */
async function writeStore(
  directory: string,
  random: Random,
  updates: number,
  onWritten?: () => void,
): Promise<Contents> {
  const contents: Contents = { values: new Map(), meta: new Map() }
  const storage = await openFileStorage({ directory, space: SPACE })
  const value = () => random.bytes(random.int(10) === 0 ? 6000 : random.int(3000))
  const first = Array.from({ length: 240 }, (_, i) => ({ key: key(i * 2), value: value() }))
  const meta = Array.from({ length: 20 }, (_, i) => ({ key: `m/${i}`, value: random.bytes(40) }))
  await storage.write({ values: first, meta })
  for (const { key, value } of first) contents.values.set(key, value)
  for (const { key, value } of meta) contents.meta.set(key, value)
  for (let u = 0; u < updates; u++) {
    const batch = Array.from({ length: 12 }, () => {
      const i = random.int(500)
      return { key: key(i), value: random.int(4) === 0 ? null : value() }
    })
    const vv = { key: 'm/vv', value: random.bytes(32) }
    await storage.write({ values: batch, meta: [vv] })
    for (const { key, value } of batch) {
      if (value === null) contents.values.delete(key)
      else contents.values.set(key, value)
    }
    contents.meta.set(vv.key, vv.value)
  }
  onWritten?.()
  await storage.close()
  return contents
}

function copyStore(from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  const path = fileStoragePath(from, SPACE)
  const target = fileStoragePath(to, SPACE)
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) copyFileSync(path + suffix, target + suffix)
  }
}

function flipBit(path: string, offset: number, bit: number): void {
  const fd = openSync(path, 'r+')
  try {
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, offset)
    byte[0]! ^= 1 << bit
    writeSync(fd, byte, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

/** The pages (1-based) of the b-tree `name`, and the page size, from SQLite's dbstat table. */
function pagesOf(path: string, name: string): { pages: number[]; pageSize: number } {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    const rows = db.prepare('SELECT pageno, pgsize FROM dbstat WHERE name = ?').all(name) as {
      pageno: number
      pgsize: number
    }[]
    return { pages: rows.map((row) => row.pageno), pageSize: rows[0]!.pgsize }
  } finally {
    db.close()
  }
}

type Region = 'index' | 'table' | 'wal'

/** Damages a copy of the store: one bit in a random page of the region. Returns where. */
function damage(path: string, region: Region, random: Random): string {
  const bit = random.int(8)
  if (region === 'wal') {
    const wal = `${path}-wal`
    const size = statSync(wal).size
    const pageSize = 4096
    const frames = Math.floor((size - 32) / (24 + pageSize))
    // One in four flips lands in the WAL header or a frame header (salts, checksums, commit sizes).
    let offset: number
    if (random.int(4) === 0) {
      const frame = random.int(frames + 1)
      offset = frame === 0 ? random.int(32) : 32 + (frame - 1) * (24 + pageSize) + random.int(24)
    } else {
      offset = random.int(size)
    }
    flipBit(wal, offset, bit)
    return `WAL byte ${offset} of ${size} (frame ${Math.floor((offset - 32) / (24 + pageSize)) + 1} of ${frames}), bit ${bit}`
  }
  const namespace = NAMESPACES[random.int(4) === 0 ? 1 : 0]!
  const name = region === 'index' ? KEY_INDEX[namespace] : TABLES[namespace]
  const { pages, pageSize } = pagesOf(path, name)
  const page = pages[random.int(pages.length)]!
  const offset = random.int(pageSize)
  flipBit(path, (page - 1) * pageSize + offset, bit)
  return `${name} page ${page} (of ${pages.length}) byte ${offset}, bit ${bit}`
}

type Outcome = 'corrupt at open' | 'corrupt on read' | 'intact'

/**
 * Opens the damaged store with `check` and reads everything. Throws (failing the test) on any
 * answer that is neither the written data nor STORAGE_CORRUPT.
 */
async function readBack(
  directory: string,
  check: 'auto' | 'quick',
  contents: Contents,
  where: string,
): Promise<Outcome> {
  const typed = (error: unknown, what: string): 'corrupt' => {
    if (isMendsyncError(error, 'STORAGE_CORRUPT')) return 'corrupt'
    throw new Error(`${where}, check ${check}: ${what} failed with a wrong error: ${String(error)}`)
  }
  let storage: Awaited<ReturnType<typeof openFileStorage>>
  try {
    storage = await openFileStorage({ directory, space: SPACE, check })
  } catch (error) {
    typed(error, 'open')
    return 'corrupt at open'
  }
  let corrupt = false
  const wrong = (what: string) => {
    throw new Error(`${where}, check ${check}: silent wrong answer: ${what}`)
  }
  try {
    for (const namespace of NAMESPACES) {
      const expected = contents[namespace]
      const keys =
        namespace === 'values'
          ? Array.from({ length: 501 }, (_, i) => key(i))
          : [...expected.keys(), 'm/absent']
      for (const k of keys) {
        try {
          const [value] = await storage.get(namespace, [k])
          const want = expected.get(k)
          if (want === undefined && value !== undefined)
            wrong(`${namespace} ${k} should be missing`)
          if (want !== undefined && value === undefined) wrong(`${namespace} ${k} reads as missing`)
          if (want !== undefined && !Buffer.from(value!).equals(want))
            wrong(`${namespace} ${k} value`)
        } catch (error) {
          if (error instanceof Error && error.message.includes('silent wrong answer')) throw error
          typed(error, `get ${k}`)
          corrupt = true
        }
      }
      try {
        const seen = new Map<string, Uint8Array>()
        for await (const entry of scanAll(storage, { namespace, limit: 37 })) {
          seen.set(entry.key, entry.value)
        }
        for (const [k, want] of expected) {
          const got = seen.get(k)
          if (got === undefined) wrong(`scan of ${namespace} misses ${k}`)
          else if (!Buffer.from(got).equals(want)) wrong(`scan of ${namespace}: value of ${k}`)
        }
        for (const k of seen.keys()) if (!expected.has(k)) wrong(`scan of ${namespace} has ${k}`)
      } catch (error) {
        if (error instanceof Error && error.message.includes('silent wrong answer')) throw error
        typed(error, `scan of ${namespace}`)
        corrupt = true
      }
    }
  } finally {
    await storage.close().catch((error: unknown) => typed(error, 'close'))
  }
  return corrupt ? 'corrupt on read' : 'intact'
}

describe('bit flips in real files: STORAGE_CORRUPT or the data written, never a wrong answer', () => {
  const temp = temporaryDirectory()
  afterAll(() => temp.remove())
  for (const region of ['index', 'table', 'wal'] as const) {
    it(`${TRIALS} random flips in ${region} pages`, {
      timeout: 60_000 + TRIALS * 2_000,
    }, async () => {
      const tally: Record<string, number> = {}
      for (let trial = 0; trial < TRIALS; trial++) {
        const seed = BASE_SEED + trial * 3 + ['index', 'table', 'wal'].indexOf(region)
        const random = seededRandom(seed)
        const base = join(temp.directory, `${region}-${trial}`)
        const pristine = join(base, 'pristine')
        const damaged = join(base, 'damaged')
        let contents: Contents
        if (region === 'wal') {
          // A crash leaves the WAL and -shm behind: copy the three files while the store is open
          // with every write committed (what a SIGKILL at that moment would leave).
          const live = join(base, 'live')
          contents = await writeStore(live, random, 12, () => copyStore(live, pristine))
        } else {
          contents = await writeStore(pristine, random, 12)
        }
        copyStore(pristine, damaged)
        const where = `seed ${seed}: ${damage(fileStoragePath(damaged, SPACE), region, random)}`
        for (const check of ['auto', 'quick'] as const) {
          const opened = join(base, `open-${check}`)
          copyStore(damaged, opened)
          const outcome = await readBack(opened, check, contents, where)
          tally[`${region} ${check} ${outcome}`] = (tally[`${region} ${check} ${outcome}`] ?? 0) + 1
        }
      }
      // Some flips must have been caught (the test can fail), and the tally shows how.
      const caught = Object.entries(tally)
        .filter(([name]) => !name.endsWith('intact'))
        .reduce((sum, [, n]) => sum + n, 0)
      console.log(`${region}: ${JSON.stringify(tally)}`)
      expect(caught).toBeGreaterThan(0)
    })
  }

  it.each([
    ['a byte of the first frame', 32 + 24 + 100, /is damaged \(frame 1 of \d+\)/],
    ['the header checksum', 26, /is damaged \(its header\)/],
  ])(
    'without the -shm of the crashed process, damage to %s of the WAL (before its last transaction) is STORAGE_CORRUPT',
    async (_what, offset, damage) => {
      const live = join(temp.directory, `no-shm-live-${offset}`)
      const pristine = join(temp.directory, `no-shm-${offset}`)
      await writeStore(live, seededRandom(BASE_SEED + 1), 5, () => copyStore(live, pristine))
      const path = fileStoragePath(pristine, SPACE)
      rmSync(`${path}-shm`)
      // In the first transaction, followed by five more.
      flipBit(`${path}-wal`, offset, 3)
      const error = await openFileStorage({ directory: pristine, space: SPACE }).then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(isMendsyncError(error, 'STORAGE_CORRUPT')).toBe(true)
      expect(String(error)).toMatch(damage)
      expect(String(error)).toMatch(/but commits transactions after it/)
    },
  )

  it('a key whose index entry names another key is STORAGE_CORRUPT on get, also without integrity_check', async () => {
    const directory = join(temp.directory, 'renamed')
    const contents = await writeStore(directory, seededRandom(BASE_SEED), 0)
    const path = fileStoragePath(directory, SPACE)
    // Rename item/00010's index entry to item/00011 (last byte '0' -> '1'), the defect of issue
    // 19: the table still holds item/00010, a lookup of it misses the index.
    const { pages, pageSize } = pagesOf(path, KEY_INDEX.values)
    const file = Buffer.alloc(statSync(path).size)
    const fd = openSync(path, 'r')
    readSync(fd, file, 0, file.length, 0)
    closeSync(fd)
    const needle = Buffer.from('item/00010')
    const offsets = pages.flatMap((page) => {
      const found: number[] = []
      const start = (page - 1) * pageSize
      for (let at = file.indexOf(needle, start); at >= 0 && at < start + pageSize; ) {
        found.push(at)
        at = file.indexOf(needle, at + 1)
      }
      return found
    })
    // Besides the live entry, a page's free space may still hold an old copy of it: flip all.
    expect(offsets.length).toBeGreaterThan(0)
    for (const offset of offsets) flipBit(path, offset + needle.length - 1, 0)
    expect(contents.values.has('item/00010')).toBe(true)

    const quick = await openFileStorage({ directory, space: SPACE, check: 'quick' })
    try {
      const error = await quick.get('values', ['item/00010']).then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(isMendsyncError(error, 'STORAGE_CORRUPT')).toBe(true)
      expect(String(error)).toMatch(/key index of 'values' disagrees with its table/)
      // Keys away from the damage read as written.
      const [far] = await quick.get('values', ['item/00200'])
      expect(Buffer.from(far!).equals(contents.values.get('item/00200')!)).toBe(true)
    } finally {
      await quick.close()
    }
    await expect(openFileStorage({ directory, space: SPACE })).rejects.toMatchObject({
      code: 'STORAGE_CORRUPT',
      message: expect.stringMatching(/integrity_check/),
    })
  })
})
