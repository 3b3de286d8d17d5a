// The IndexedDB adapter's own tests, run under Node (fake-indexeddb) and in Chromium. They
// cover what is specific to IndexedDB (connections, versionchange, blocking, raw corruption)
// plus the Storage contract until the shared acceptance suite is hooked up.
import { isMendsyncError, type MendsyncErrorCode } from '@mendsync/core'
import { seededRandom } from '@mendsync/core/toolbox'
import { MIN_SCAN_PAGE_BYTES, type Namespace, type Storage } from '@mendsync/replica/adapter'
import { openDB } from 'idb'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  deleteIdbStorage,
  type ForcedClose,
  IDB_SCHEMA_VERSION,
  openIdbStorage,
} from '../src/index.js'
import {
  corruptRecord,
  type IdbTestHarness,
  idbSetup,
  putRawRecord,
  uniqueDbName,
} from './harness.js'

const encoder = new TextEncoder()
const bytes = (text: string) => encoder.encode(text)
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value)

export async function expectCode(promise: Promise<unknown>, code: MendsyncErrorCode) {
  let caught: unknown
  try {
    await promise
  } catch (error) {
    caught = error
  }
  if (!isMendsyncError(caught, code)) {
    throw new Error(`expected a MendsyncError ${code}, got ${String(caught)}`, { cause: caught })
  }
  return caught
}

async function scanAll(storage: Storage, namespace: Namespace, limit?: number) {
  const keys: string[] = []
  let after: string | undefined
  for (;;) {
    const page = await storage.scan({ namespace, after, limit })
    keys.push(...page.entries.map((entry) => entry.key))
    if (page.cursor === undefined) return keys
    after = page.cursor
  }
}

export function defineIdbStorageTests() {
  let harness: IdbTestHarness
  let storage: Storage
  beforeEach(async () => {
    harness = await idbSetup()()
    storage = harness.storage
  })
  afterEach(async () => {
    await harness.teardown()
  })

  describe('records', () => {
    it('stores a view over a larger buffer as its own bytes only', async () => {
      const big = new Uint8Array(1024).fill(7)
      big.set([1, 2, 3], 100)
      await storage.write({ values: [{ key: 'view', value: big.subarray(100, 103) }] })
      const [value] = await storage.get('values', ['view'])
      expect(Array.from(value!)).toEqual([1, 2, 3])
      expect(value!.buffer.byteLength).toBe(3)
    })

    it('undoes the whole batch when one record cannot be stored', async () => {
      const detached = new Uint8Array(8)
      structuredClone(detached.buffer, { transfer: [detached.buffer] })
      await expectCode(
        storage.write({
          values: [{ key: 'a', value: bytes('a') }],
          meta: [
            { key: 'b', value: bytes('b') },
            { key: 'c', value: detached },
          ],
        }),
        'STORAGE_FAILURE',
      )
      expect(await storage.get('values', ['a'])).toEqual([undefined])
      expect(await storage.get('meta', ['b', 'c'])).toEqual([undefined, undefined])
    })
  })

  describe('scan', () => {
    it('pages with a cursor exactly while records remain', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `key-${String(i).padStart(2, '0')}`)
      await storage.write({ values: keys.map((key) => ({ key, value: bytes(key) })) })
      const first = await storage.scan({ namespace: 'values', limit: 10 })
      expect(first.entries.map((e) => e.key)).toEqual(keys.slice(0, 10))
      expect(first.cursor).toBe('key-09')
      expect(text(first.entries[3]!.value)).toBe('key-03')
      const second = await storage.scan({ namespace: 'values', limit: 10, after: first.cursor })
      const third = await storage.scan({ namespace: 'values', limit: 10, after: second.cursor })
      expect(third.entries.map((e) => e.key)).toEqual(keys.slice(20))
      expect(third.cursor).toBeUndefined()
      const exact = await storage.scan({ namespace: 'values', limit: 25 })
      expect(exact.entries).toHaveLength(25)
      expect(exact.cursor).toBeUndefined()
      expect((await storage.scan({ namespace: 'meta' })).entries).toEqual([])
    })

    it('intersects prefix, gte, lt and after like a filter over all keys', async () => {
      const keyUnits = ['a', 'b', '\uffff', '\ud83d\ude00']
      // Bounds may be any strings, lone surrogates included.
      const boundUnits = [...keyUnits, '\ud83d', '\ude00', '\ud83e']
      const next = seededRandom(42).next
      const pick = (units: string[], max: number) => {
        let key = ''
        const length = 1 + Math.floor(next() * max)
        for (let i = 0; i < length; i++) key += units[Math.floor(next() * units.length)]
        return key
      }
      const all = [...new Set(Array.from({ length: 80 }, () => pick(keyUnits, 4)))].sort()
      await storage.write({ values: all.map((key) => ({ key, value: bytes('v') })) })
      const maybe = () => (next() < 0.5 ? undefined : next() < 0.2 ? '' : pick(boundUnits, 3))
      for (let round = 0; round < 60; round++) {
        const options = { prefix: maybe(), gte: maybe(), lt: maybe(), after: maybe() }
        const expected = all.filter(
          (key) =>
            (options.prefix === undefined || key.startsWith(options.prefix)) &&
            (options.gte === undefined || key >= options.gte) &&
            (options.lt === undefined || key < options.lt) &&
            (options.after === undefined || key > options.after),
        )
        const limit = 1 + Math.floor(next() * 7)
        const got: string[] = []
        let after = options.after
        for (;;) {
          const page = await storage.scan({ namespace: 'values', ...options, after, limit })
          got.push(...page.entries.map((e) => e.key))
          if (page.cursor === undefined) break
          expect(page.entries.length).toBeGreaterThan(0)
          after = page.cursor
        }
        expect(got, JSON.stringify(options)).toEqual(expected)
      }
    })

    it('ends a page of large values early, past a few MiB, never below the contract minimum', async () => {
      const mib = 1024 * 1024
      const keys = Array.from({ length: 12 }, (_, i) => `big${String(i).padStart(2, '0')}`)
      await storage.write({
        values: keys.map((key, i) => ({ key, value: new Uint8Array(mib).fill(i) })),
      })
      const first = await storage.scan({ namespace: 'values', limit: 100 })
      expect(first.cursor).toBeDefined()
      expect(first.entries.length).toBeLessThan(12)
      expect(first.entries.length * mib).toBeGreaterThanOrEqual(MIN_SCAN_PAGE_BYTES)
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await storage.scan({ namespace: 'values', after, limit: 100 })
        for (const entry of page.entries) {
          expect(entry.value[mib - 1]).toBe(Number(entry.key.slice(3)))
          seen.push(entry.key)
        }
        if (page.cursor === undefined) break
        after = page.cursor
      }
      expect(seen).toEqual(keys)
    })
  })

  describe('options', () => {
    it('rejects bad options with INVALID_ARGUMENT', async () => {
      await expectCode(openIdbStorage({ space: '' }), 'INVALID_ARGUMENT')
      await expectCode(openIdbStorage({ space: 's', dbName: '' }), 'INVALID_ARGUMENT')
      await expectCode(openIdbStorage({ space: 's', blockedTimeoutMs: -1 }), 'INVALID_ARGUMENT')
      await expectCode(
        openIdbStorage({ space: 's', durability: 'fast' as IDBTransactionDurability }),
        'INVALID_ARGUMENT',
      )
    })
  })

  describe('integrity', () => {
    it('reports a damaged record, empty ones too, with STORAGE_CORRUPT naming database and key', async () => {
      await storage.write({
        values: [
          { key: 'good', value: bytes('fine') },
          { key: 'bad', value: bytes('soon damaged') },
          { key: 'empty', value: new Uint8Array() },
        ],
      })
      storage = await harness.corrupt('values', 'bad')
      const error = await expectCode(storage.get('values', ['good', 'bad']), 'STORAGE_CORRUPT')
      expect(error.message).toContain('"bad"')
      expect(error.message).toMatch(/mendsync-test-/)
      await expectCode(storage.scan({ namespace: 'values' }), 'STORAGE_CORRUPT')
      expect(text((await storage.get('values', ['good']))[0])).toBe('fine')
      expect((await storage.scan({ namespace: 'values', lt: 'bad' })).entries).toEqual([])
      storage = await harness.corrupt('values', 'empty')
      await expectCode(storage.get('values', ['empty']), 'STORAGE_CORRUPT')
      // Repairing by overwriting is allowed.
      await storage.write({ values: [{ key: 'bad', value: bytes('new') }] })
      expect(text((await storage.get('values', ['bad']))[0])).toBe('new')
    })

    it('reports a record moved to another key or of the wrong shape', async () => {
      await storage.write({ meta: [{ key: 'a', value: bytes('a') }] })
      const name = harness.dbName
      const db = await openDB(name)
      const record = await db.get('meta', 'a')
      await db.put('meta', record, 'b')
      await db.put('meta', 'not a record', 'c')
      await db.put('meta', { v: 'text', c: 0 }, 'd')
      db.close()
      for (const key of ['b', 'c', 'd'])
        await expectCode(storage.get('meta', [key]), 'STORAGE_CORRUPT')
      await putRawRecord(name, 'values', 'x', null)
      await expectCode(storage.get('values', ['x']), 'STORAGE_CORRUPT')
      await corruptRecord(name, 'meta', 'a')
      await expectCode(storage.get('meta', ['a']), 'STORAGE_CORRUPT')
    })
  })

  describe('connections', () => {
    it('loses no write when two connections write the same database concurrently', async () => {
      const dbName = harness.dbName
      const other = await openIdbStorage({ space: 'test', dbName })
      const writes: Promise<void>[] = []
      for (let i = 0; i < 100; i++) {
        writes.push(
          storage.write({
            values: [{ key: `a${i}`, value: bytes(`a${i}`) }],
            meta: [{ key: 'last', value: bytes(`a${i}`) }],
          }),
        )
        writes.push(
          other.write({
            values: [{ key: `b${i}`, value: bytes(`b${i}`) }],
            meta: [{ key: 'last', value: bytes(`b${i}`) }],
          }),
        )
      }
      await Promise.all(writes)
      for (const reader of [storage, other]) {
        const keys = await scanAll(reader, 'values', 37)
        expect(keys).toHaveLength(200)
      }
      expect(['a99', 'b99']).toContain(text((await other.get('meta', ['last']))[0]))
      await other.close()
    })

    it('closes itself on an upgrade by another connection: started writes commit, later calls fail', async () => {
      const dbName = harness.dbName
      await storage.close()
      const forced: ForcedClose[] = []
      storage = await openIdbStorage({
        space: 'test',
        dbName,
        onForcedClose: (info) => forced.push(info),
      })
      const before = Array.from({ length: 30 }, (_, i) =>
        storage.write({ values: [{ key: `k${i}`, value: bytes(`v${i}`) }] }),
      )
      // A newer schema opening the same database, as newer code in another tab would.
      const newer = await openDB(dbName, IDB_SCHEMA_VERSION + 1)
      expect(forced).toHaveLength(1)
      expect(forced[0]).toMatchObject({ reason: 'upgrade', newVersion: IDB_SCHEMA_VERSION + 1 })
      await Promise.all(before)
      expect(await newer.count('values')).toBe(30)
      const error = await expectCode(storage.get('values', ['k0']), 'STORAGE_CLOSED')
      expect(error.message).toMatch(/upgraded it to version 2/)
      await expectCode(
        storage.write({ values: [{ key: 'late', value: bytes('v') }] }),
        'STORAGE_CLOSED',
      )
      await storage.close()
      newer.close()
      const stale = await expectCode(openIdbStorage({ space: 'test', dbName }), 'STORAGE_FAILURE')
      expect(stale.message).toMatch(/newer schema/)
    })

    it('closes itself when another connection deletes the database', async () => {
      const dbName = harness.dbName
      await storage.write({ values: [{ key: 'k', value: bytes('v') }] })
      const other = await openIdbStorage({ space: 'test', dbName })
      await deleteIdbStorage({ space: 'test', dbName, blockedTimeoutMs: 2_000 })
      await expectCode(storage.get('values', ['k']), 'STORAGE_CLOSED')
      await expectCode(other.get('values', ['k']), 'STORAGE_CLOSED')
      await other.close()
      storage = await harness.reopen()
      expect(await storage.get('values', ['k'])).toEqual([undefined])
    })

    it('reports STORAGE_BLOCKED instead of hanging when a connection does not close', async () => {
      const dbName = uniqueDbName('blocked')
      // A connection without a versionchange handler, like an old tab that never closes.
      const stubborn = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(dbName, 1)
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const started = Date.now()
      const deleting = await expectCode(
        deleteIdbStorage({ space: 'test', dbName, blockedTimeoutMs: 150 }),
        'STORAGE_BLOCKED',
      )
      expect(deleting.message).toContain(dbName)
      // The deletion is still queued, and an open waits behind it.
      const opening = await expectCode(
        openIdbStorage({ space: 'test', dbName, blockedTimeoutMs: 150 }),
        'STORAGE_BLOCKED',
      )
      expect(opening.message).toContain(dbName)
      expect(Date.now() - started).toBeLessThan(5_000)
      stubborn.close()
      const fresh = await openIdbStorage({ space: 'test', dbName, blockedTimeoutMs: 5_000 })
      await fresh.write({ values: [{ key: 'k', value: bytes('v') }] })
      expect(text((await fresh.get('values', ['k']))[0])).toBe('v')
      await fresh.close()
      await deleteIdbStorage({ space: 'test', dbName })
    })

    it('writes with relaxed and default durability too', async () => {
      const dbName = harness.dbName
      for (const durability of ['relaxed', 'default'] as const) {
        const other = await openIdbStorage({ space: 'test', dbName, durability })
        await other.write({ values: [{ key: durability, value: bytes(durability) }] })
        await other.close()
      }
      expect((await storage.get('values', ['relaxed', 'default'])).map(text)).toEqual([
        'relaxed',
        'default',
      ])
    })
  })
}
