import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { decodeKey, type Mutation } from '@mendsync/replica/adapter'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  FileStorage,
  fileStoragePath,
  openFileStorage,
  spaceFileName,
  TABLES,
} from '../src/index.js'
import { damageRecord, temporaryDirectory } from './harness.js'

let directory: string
let remove: () => void

beforeEach(() => {
  ;({ directory, remove } = temporaryDirectory())
})

afterEach(() => remove())

const bytes = (...values: number[]) => new Uint8Array(values)

async function codeOf(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error('expected a failure')
}

/** A closed store of `count` records in each namespace; returns its file. */
async function makeStore(space = 'space', count = 2000): Promise<string> {
  const storage = await openFileStorage({ directory, space })
  const values: Mutation[] = []
  for (let i = 0; i < count; i++)
    values.push({ key: `k${i}`, value: new Uint8Array(100).fill(i & 0xff) })
  await storage.write({ values, meta: values })
  await storage.close()
  return storage.path
}

describe('files', () => {
  it.skipIf(process.platform === 'win32')(
    'creates the data directory with mode 0700 and the database, -wal and -shm with 0600',
    async () => {
      const data = join(directory, 'nested', 'data')
      const storage = await openFileStorage({ directory: data, space: 'cart' })
      await storage.write({ values: [{ key: 'a', value: bytes(1) }] })
      expect(statSync(data).mode & 0o777).toBe(0o700)
      expect(storage.path).toBe(join(data, 'cart.sqlite'))
      for (const file of [storage.path, `${storage.path}-wal`, `${storage.path}-shm`]) {
        expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 })
      }
      await storage.close()
      await storage.close()
      // Closing checkpoints the WAL into the database file and removes it.
      expect(existsSync(`${storage.path}-wal`)).toBe(false)
      const reopened = await openFileStorage({ directory: data, space: 'cart' })
      expect(await reopened.get('values', ['a'])).toEqual([bytes(1)])
      await reopened.close()
    },
  )

  it('leaves an existing directory mode alone', async () => {
    const existing = join(directory, 'shared')
    mkdirSync(existing, { mode: 0o755 })
    const storage = await openFileStorage({ directory: existing, space: 's' })
    await storage.close()
    if (process.platform !== 'win32') expect(statSync(existing).mode & 0o777).toBe(0o755)
  })

  it('gives every space its own file, escaping anything but lowercase letters, digits, - and _', async () => {
    expect(spaceFileName('cart-2_b')).toBe('cart-2_b.sqlite')
    expect(spaceFileName('Cart')).toBe('%43art.sqlite')
    expect(spaceFileName('../etc')).toBe('%2E%2E%2Fetc.sqlite')
    expect(spaceFileName('é')).toBe('%C3%A9.sqlite')
    expect(fileStoragePath('/data', 'x')).toBe(join('/data', 'x.sqlite'))
    const a = await openFileStorage({ directory, space: 'Cart' })
    const b = await openFileStorage({ directory, space: 'cart' })
    await a.write({ values: [{ key: 'k', value: bytes(1) }] })
    await b.write({ values: [{ key: 'k', value: bytes(2) }] })
    expect(await a.get('values', ['k'])).toEqual([bytes(1)])
    expect(await b.get('values', ['k'])).toEqual([bytes(2)])
    await a.close()
    await b.close()
  })

  it('rejects invalid options with INVALID_ARGUMENT', async () => {
    const bad = [
      { directory, space: '' },
      { directory, space: 'lone\ud800' },
      { directory, space: 'x'.repeat(300) },
      { directory, space: 5 },
      { directory: '', space: 's' },
      { directory, space: 's', check: 'sometimes' },
      { directory, space: 's', busyTimeoutMs: -1 },
    ]
    for (const options of bad) {
      const error = await codeOf(() => openFileStorage(options as never))
      expect({ options, code: error.code }).toEqual({ options, code: 'INVALID_ARGUMENT' })
    }
    expect((await codeOf(() => openFileStorage(null as never))).code).toBe('INVALID_ARGUMENT')
  })
})

describe('key order on disk', () => {
  it('stores keys as UTF-16BE BLOBs, which SQLite orders like JavaScript (TEXT would not)', async () => {
    const keys = ['\ue000', '\u{10000}', 'a', '\uffff', '\u{1f600}', 'a\u0000', '\u0800', '\u00ff']
    const storage = await openFileStorage({ directory, space: 'order' })
    await storage.write({ values: keys.map((key) => ({ key, value: bytes(1) })) })
    await storage.close()
    const expected = [...keys].sort()
    const db = new DatabaseSync(storage.path)
    const stored = db.prepare(`SELECT k FROM ${TABLES.values} ORDER BY k`).all() as {
      k: Uint8Array
    }[]
    expect(stored.map((row) => decodeKey(row.k))).toEqual(expected)
    // The same keys as TEXT (UTF-8, BINARY collation) sort by code point: astral after U+FFFF.
    db.exec('CREATE TEMP TABLE t (k TEXT PRIMARY KEY)')
    const insert = db.prepare('INSERT INTO t VALUES (?)')
    for (const key of keys) insert.run(key)
    const text = (db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map(
      (row) => row.k,
    )
    expect(text).not.toEqual(expected)
    expect(text.indexOf('\u{10000}')).toBeGreaterThan(text.indexOf('\uffff'))
    db.close()
  })
})

describe('a damaged file', () => {
  async function expectCorruptOnOpen(path: string, detail: RegExp, check?: 'minimal') {
    const before = existsSync(path) ? readFileSync(path) : undefined
    const error = await codeOf(() =>
      openFileStorage({ directory, space: 'space', ...(check === undefined ? {} : { check }) }),
    )
    expect(error.code).toBe('STORAGE_CORRUPT')
    expect(error.message).toContain(path)
    expect(error.message).toMatch(detail)
    // Nothing was repaired, recreated or deleted.
    if (before !== undefined) expect(readFileSync(path).equals(before)).toBe(true)
  }

  it('is refused when truncated to nothing (SQLite alone would open it as a new, empty store)', async () => {
    const path = await makeStore()
    truncateSync(path, 0)
    await expectCorruptOnOpen(path, /empty/)
  })

  it('is refused when truncated, at a page boundary or not', async () => {
    const path = await makeStore()
    const size = statSync(path).size
    truncateSync(path, 50)
    await expectCorruptOnOpen(path, /truncated/)
    const full = await makeStore('other')
    for (const length of [4096 * 3, Math.floor(size / 2) + 123, size - 4096]) {
      writeFileSync(path, readFileSync(full).subarray(0, length))
      await expectCorruptOnOpen(path, /truncated/)
    }
  })

  it('is refused when it is not a SQLite database', async () => {
    const path = await makeStore()
    writeFileSync(path, Buffer.alloc(8192, 0x41))
    await expectCorruptOnOpen(path, /SQLite header/)
  })

  it('is refused when it is a SQLite database of another application', async () => {
    const path = fileStoragePath(directory, 'space')
    const db = new DatabaseSync(path)
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    db.close()
    await expectCorruptOnOpen(path, /not a mendsync store/)
  })

  it('is refused when its journal exists without it', async () => {
    const path = fileStoragePath(directory, 'space')
    writeFileSync(`${path}-wal`, Buffer.alloc(4096, 1))
    await expectCorruptOnOpen(path, /missing but its journal/)
    expect(existsSync(path)).toBe(false)
  })

  it('is refused when pages are overwritten (integrity_check at open), and fails reads under check: minimal', async () => {
    const path = await makeStore()
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(4096 * 4, 0xa5), 0, 4096 * 4, 4096 * 2)
    closeSync(fd)
    await expectCorruptOnOpen(path, /integrity_check|malformed/)
    const storage = await openFileStorage({ directory, space: 'space', check: 'minimal' }).catch(
      (error: { code: string }) => error,
    )
    if (storage instanceof FileStorage) {
      const failures = await Promise.allSettled([
        storage.scan({ namespace: 'values', limit: 10_000 }),
        storage.scan({ namespace: 'meta', limit: 10_000 }),
      ])
      const codes = failures.map((result) =>
        result.status === 'rejected' ? (result.reason as { code: string }).code : 'ok',
      )
      expect(codes).toContain('STORAGE_CORRUPT')
      expect(codes).not.toContain('STORAGE_FAILURE')
      await storage.close()
    } else {
      expect(storage.code).toBe('STORAGE_CORRUPT')
    }
  })

  it("names the file and the key of a record failing its checksum; check: 'full' and verify() find it", async () => {
    const path = await makeStore()
    damageRecord(path, 'meta', 'k1234')
    const storage = await openFileStorage({ directory, space: 'space' })
    const error = await codeOf(() => storage.get('meta', ['k1234']))
    expect(error.code).toBe('STORAGE_CORRUPT')
    expect(error.message).toContain(path)
    expect(error.message).toContain('"k1234"')
    const verified = await codeOf(() => storage.verify())
    expect(verified.code).toBe('STORAGE_CORRUPT')
    expect(verified.message).toContain('meta:"k1234"')
    await storage.close()
    // The default open check is structural only: the store opens, the other records stay usable.
    const again = await openFileStorage({ directory, space: 'space' })
    expect(await again.get('meta', ['k1233'])).toEqual([new Uint8Array(100).fill(1233 & 0xff)])
    await again.close()
    const full = await codeOf(() => openFileStorage({ directory, space: 'space', check: 'full' }))
    expect(full.code).toBe('STORAGE_CORRUPT')
    expect(full.message).toContain('k1234')
  })

  it('verify() checks every record of an intact file', async () => {
    await makeStore('space', 500)
    const storage = await openFileStorage({ directory, space: 'space', check: 'full' })
    expect(await storage.verify()).toEqual({ records: 1000 })
    await storage.close()
    expect((await codeOf(() => storage.verify())).code).toBe('STORAGE_CLOSED')
  })
})

describe('commits', () => {
  it('groups concurrent writes into one transaction, each batch still its own', async () => {
    const storage = await openFileStorage({ directory, space: 'group' })
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        storage.write({ values: [{ key: `g${i}`, value: bytes(i) }] }),
      ),
    )
    expect(storage.stats.batches).toBe(100)
    expect(storage.stats.commits).toBeLessThanOrEqual(2)
    await storage.write({ values: [{ key: 'alone', value: bytes(1) }] })
    expect(storage.stats).toEqual({
      commits: storage.stats.commits,
      relaxedCommits: 0,
      batches: 101,
    })
    await storage.close()
  })

  it('commits relaxed batches without an fsync, and a strict batch joining them on its own', async () => {
    const storage = await openFileStorage({ directory, space: 'relaxed' })
    const write = (key: string, durability: 'strict' | 'relaxed') =>
      storage.write({ values: [{ key, value: bytes(key.length) }], durability })
    // One tick: two relaxed batches open a relaxed transaction; the strict batch must not ride
    // on it (it would not be fsynced), so that one commits and a strict one opens, which the
    // last relaxed batch joins.
    await Promise.all([
      write('r1', 'relaxed'),
      write('r2', 'relaxed'),
      write('s1', 'strict'),
      write('r3', 'relaxed'),
    ])
    expect(storage.stats).toEqual({ commits: 2, relaxedCommits: 1, batches: 4 })
    await write('r4', 'relaxed')
    expect(storage.stats).toEqual({ commits: 3, relaxedCommits: 2, batches: 5 })
    await write('s2', 'strict')
    expect(storage.stats).toEqual({ commits: 4, relaxedCommits: 2, batches: 6 })
    expect(await storage.get('values', ['r1', 'r2', 's1', 'r3', 'r4', 's2'])).toEqual(
      ['r1', 'r2', 's1', 'r3', 'r4', 's2'].map((key) => bytes(key.length)),
    )
    await storage.close()
  })

  it('fails the first batch of a transaction alone too (it rolls back without a savepoint)', async () => {
    let fail = 'first'
    const storage = await openFileStorage({
      directory,
      space: 'first',
      onMutation: (_namespace, key) => {
        if (key === fail) {
          fail = ''
          throw new Error('injected')
        }
      },
    })
    await storage.write({ values: [{ key: 'before', value: bytes(0) }] })
    const results = await Promise.allSettled([
      storage.write({
        values: [{ key: 'a', value: bytes(1) }],
        meta: [{ key: 'first', value: bytes(1) }],
      }),
      storage.write({ values: [{ key: 'b', value: bytes(2) }] }),
      storage.write({ values: [{ key: 'c', value: bytes(3) }] }),
    ])
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE_FAILURE' })
    expect(await storage.get('values', ['before', 'a', 'b', 'c'])).toEqual([
      bytes(0),
      undefined,
      bytes(2),
      bytes(3),
    ])
    expect(await storage.get('meta', ['first'])).toEqual([undefined])
    await storage.close()
  })

  it('keeps the journal in WAL mode on disk', async () => {
    const path = await makeStore('space', 10)
    const db = new DatabaseSync(path)
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    db.close()
  })
})
