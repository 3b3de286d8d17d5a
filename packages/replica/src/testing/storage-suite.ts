// The Storage acceptance suite. Every adapter runs it from a thin test file:
//
//   runStorageAdapterTests(async () => ({ storage, reopen, corrupt, teardown }), { name: 'file' })
//
// It runs in Node and in browsers (vitest browser mode), so it imports nothing from `node:`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scanAll, scanPages } from '../storage/scan-all.js'
import {
  DEFAULT_SCAN_LIMIT,
  type Entry,
  MAX_KEY_LENGTH,
  MAX_SCAN_LIMIT,
  MAX_VALUE_BYTES,
  MIN_SCAN_PAGE_BYTES,
  type Mutation,
  type Namespace,
  type ScanOptions,
  type ScanPage,
  type Storage,
  type WriteBatch,
} from '../storage/types.js'

/** What an adapter's test file hands the storage acceptance suite for each test. */
export interface StorageTestHarness {
  /** A fresh, empty, open storage. */
  readonly storage: Storage
  /**
   * Closes the storage it last handed out (if still open) and opens the same underlying store
   * again.
   */
  reopen(): Promise<Storage>
  /**
   * Damages the persisted bytes of one record so that its integrity check must fail, and returns
   * the storage to use afterwards (an adapter may need to close and reopen to reach its bytes).
   */
  corrupt(namespace: Namespace, key: string): Promise<Storage>
  /**
   * Fault injection. Arms a one-shot fault: the next batch that sets or erases `key` in
   * `namespace` fails while it is being applied, when it reaches that mutation (after the ones
   * before it), as a disk error would. The suite then checks that nothing of that batch is stored
   * and that other batches in flight still land. Every adapter must be able to do this: atomicity
   * under a mid-batch failure is the contract's core, and the test cannot be left out.
   */
  injectWriteFailure(namespace: Namespace, key: string): void
  /** Closes whatever is open and deletes the underlying store (files, databases). */
  teardown(): Promise<void>
}

/** Creates one harness; called once per test. */
export type StorageTestSetup = () => Promise<StorageTestHarness>

/** Options of {@link runStorageAdapterTests}. */
export interface StorageSuiteOptions {
  /** Title of the suite's `describe` block; default `'Storage contract'`. */
  readonly name?: string
  /** Keys of the large-keyspace test; default 100,000. */
  readonly manyKeys?: number
  /** Timeout of the slow tests (large keyspace, large values) in ms; default 120,000. */
  readonly slowTimeoutMs?: number
}

/**
 * Registers the Storage contract tests (vitest `describe`/`it`) for the adapter that `setup`
 * creates: reads and writes, atomic batches, durability across reopen, UTF-16 key order, scan
 * bounds and pagination, large values, a large keyspace, concurrent writers, typed errors after
 * close and on invalid input, and corrupted records.
 */
export function runStorageAdapterTests(
  setup: StorageTestSetup,
  options: StorageSuiteOptions = {},
): void {
  const manyKeys = options.manyKeys ?? 100_000
  const slow = options.slowTimeoutMs ?? 120_000

  describe(options.name ?? 'Storage contract', () => {
    let harness: StorageTestHarness | undefined
    let storage: Storage

    beforeEach(async () => {
      harness = await setup()
      storage = harness.storage
    })

    afterEach(async () => {
      const done = harness
      harness = undefined
      await done?.teardown()
    })

    async function reopen(): Promise<Storage> {
      storage = await harness!.reopen()
      return storage
    }

    describe('reads and writes', () => {
      it('starts empty, and an empty batch is a no-op', async () => {
        expect(await storage.get('values', ['a'])).toEqual([undefined])
        expect(await storage.get('meta', [])).toEqual([])
        await storage.write({})
        await storage.write({ values: [], meta: [] })
        for (const namespace of NAMESPACES) {
          const page = await storage.scan({ namespace })
          expect(page.entries).toEqual([])
          expect(page.cursor).toBeUndefined()
        }
      })

      it('reads back what was written: one slot per key, in order, namespaces apart', async () => {
        await storage.write({
          values: [put('a', [1]), put('b', [2, 2])],
          meta: [put('a', [9, 9, 9])],
        })
        const got = await storage.get('values', ['b', 'missing', 'a', 'b'])
        expect(got.map(toArray)).toEqual([[2, 2], undefined, [1], [2, 2]])
        expect((await storage.get('meta', ['a', 'b'])).map(toArray)).toEqual([[9, 9, 9], undefined])
        for (const value of got) if (value !== undefined) expect(value).toBeInstanceOf(Uint8Array)
      })

      it('overwrites and erases; erasing an absent key is fine', async () => {
        await storage.write({ values: [put('k', [1]), put('other', [5])] })
        await storage.write({ values: [put('k', [2])] })
        expect((await storage.get('values', ['k'])).map(toArray)).toEqual([[2]])
        await storage.write({ values: [erase('k'), erase('never-written')], meta: [erase('k')] })
        expect(await storage.get('values', ['k', 'never-written'])).toEqual([undefined, undefined])
        expect(await dump(storage, 'values')).toEqual([['other', [5]]])
      })

      it('keeps an empty value apart from an absent key', async () => {
        await storage.write({ values: [put('empty', [])], meta: [put('empty', [])] })
        for (const namespace of NAMESPACES) {
          const [value] = await storage.get(namespace, ['empty'])
          expect(value).toBeInstanceOf(Uint8Array)
          expect(value?.byteLength).toBe(0)
        }
        await reopen()
        expect(await dump(storage, 'values')).toEqual([['empty', []]])
        expect(await dump(storage, 'meta')).toEqual([['empty', []]])
      })

      it('applies a batch in order: a later mutation of the same key wins', async () => {
        await storage.write({
          values: [put('k', [1]), put('j', [1]), put('k', [2]), erase('j')],
          meta: [erase('m'), put('m', [3])],
        })
        expect(await dump(storage, 'values')).toEqual([['k', [2]]])
        expect(await dump(storage, 'meta')).toEqual([['m', [3]]])
      })

      it('stores exactly the bytes of a view, not its whole buffer', async () => {
        const buffer = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        await storage.write({ values: [{ key: 'view', value: buffer.subarray(3, 6) }] })
        expect((await storage.get('values', ['view'])).map(toArray)).toEqual([[3, 4, 5]])
      })

      it('keeps its own copies: later changes to written or returned arrays change nothing', async () => {
        const value = new Uint8Array([1, 2, 3])
        const mutations: Mutation[] = [{ key: 'a', value }]
        const written = storage.write({ values: mutations })
        value[0] = 99
        mutations.push(put('b', [4]))
        await written
        expect(await dump(storage, 'values')).toEqual([['a', [1, 2, 3]]])

        const [read] = await storage.get('values', ['a'])
        read![1] = 99
        const page = await storage.scan({ namespace: 'values' })
        page.entries[0]!.value[2] = 99
        expect((await storage.get('values', ['a'])).map(toArray)).toEqual([[1, 2, 3]])
      })
    })

    describe('atomic batches', () => {
      it('rejects a batch with one invalid mutation whole, in either namespace', async () => {
        await storage.write({ values: [put('a', [1])] })
        const bad: WriteBatch[] = [
          { values: [put('a', [2]), put('b', [2])], meta: [put('m', [1]), put('', [1])] },
          { values: [put('c', [1]), { key: 'd', value: 'not bytes' as unknown as Uint8Array }] },
          {
            meta: [put('m', [1])],
            values: [put('a', [3]), { key: 'x', value: undefined as never }],
          },
          { values: [put('e', [1]), { key: 'f', value: new Uint8Array(MAX_VALUE_BYTES + 1) }] },
          { values: [put('g', [1])], meta: [null as unknown as Mutation] },
        ]
        for (const batch of bad) await expectError('INVALID_ARGUMENT', () => storage.write(batch))
        expect(await dump(storage, 'values')).toEqual([['a', [1]]])
        expect(await dump(storage, 'meta')).toEqual([])
      })

      it('leaves nothing of a batch that fails while being applied; other batches land', async () => {
        if (harness === undefined) throw new Error('the harness was not set up')
        await storage.write({ values: [put('a', [1])] })
        harness.injectWriteFailure('meta', 'boom')
        const results = await Promise.allSettled([
          storage.write({ values: [put('before', [1])] }),
          storage.write({
            values: [put('a', [2]), put('b', [2])],
            meta: [put('m', [2]), put('boom', [2]), put('n', [2])],
          }),
          storage.write({ values: [put('after', [1])], meta: [put('z', [1])] }),
        ])
        expect(results.map((result) => result.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
        ])
        expectMendsyncError((results[1] as PromiseRejectedResult).reason, 'STORAGE_FAILURE')
        const expected = {
          values: [
            ['a', [1]],
            ['after', [1]],
            ['before', [1]],
          ],
          meta: [['z', [1]]],
        }
        expect({
          values: await dump(storage, 'values'),
          meta: await dump(storage, 'meta'),
        }).toEqual(expected)
        await reopen()
        expect({
          values: await dump(storage, 'values'),
          meta: await dump(storage, 'meta'),
        }).toEqual(expected)
        // The fault was one-shot: the same batch now lands whole.
        await storage.write({ values: [put('b', [3])], meta: [put('boom', [3])] })
        expect((await storage.get('meta', ['boom'])).map(toArray)).toEqual([[3]])
      })
    })

    describe('durability', () => {
      it('keeps acknowledged writes, overwrites and erasures across close and reopen', async () => {
        const model = new Model()
        const rng = prng(7)
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 10; i++) {
            const batch = randomBatch(rng, 8, 'r')
            await storage.write(batch)
            model.apply(batch)
          }
          await reopen()
          for (const namespace of NAMESPACES) {
            expect(await dump(storage, namespace)).toEqual(model.dump(namespace))
          }
        }
      })

      it('keeps relaxed batches, mixed in any order with strict ones, across close and reopen', async () => {
        const model = new Model()
        const rng = prng(11)
        const writes: Promise<void>[] = []
        for (let i = 0; i < 30; i++) {
          const batch: WriteBatch = {
            ...randomBatch(rng, 6, 'd'),
            durability: rng.int(2) === 0 ? 'relaxed' : 'strict',
          }
          // Not awaited one by one: strict and relaxed batches share whatever group the adapter
          // forms, which is where a relaxed group turning strict can go wrong.
          writes.push(storage.write(batch))
          model.apply(batch)
          if (i % 7 === 6) await Promise.all(writes.splice(0))
        }
        await Promise.all(writes)
        for (const namespace of NAMESPACES) {
          expect(await dump(storage, namespace)).toEqual(model.dump(namespace))
        }
        await reopen()
        for (const namespace of NAMESPACES) {
          expect(await dump(storage, namespace)).toEqual(model.dump(namespace))
        }
      })

      it('finishes pending writes before close resolves', async () => {
        const writes: Promise<void>[] = []
        for (let i = 0; i < 20; i++) {
          writes.push(storage.write({ values: [put(`p${i}`, [i])], meta: [put(`p${i}`, [i])] }))
        }
        await storage.close()
        await Promise.all(writes)
        await reopen()
        expect((await dump(storage, 'values')).length).toBe(20)
        expect((await dump(storage, 'meta')).length).toBe(20)
      })
    })

    describe('key order and scans', () => {
      it('orders keys by UTF-16 code unit: astral characters sort before U+E000..U+FFFF', async () => {
        const shuffled = [...ORDER_KEYS].reverse()
        await storage.write({ values: shuffled.map((key, i) => put(key, [i])) })
        const expected = [...ORDER_KEYS].sort(compareUnits)
        for (let pass = 0; pass < 2; pass++) {
          const keys = (await all(storage, { namespace: 'values' })).map((entry) => entry.key)
          expect(keys).toEqual(expected)
          const at = (key: string) => keys.indexOf(key)
          expect(at('\u{10000}')).toBeLessThan(at('\ue000'))
          expect(at('\u{1f600}')).toBeLessThan(at('\uffff'))
          expect(at('\u{10ffff}')).toBeLessThan(at('\uf8ff'))
          expect(at('\ud7ff')).toBeLessThan(at('\u{10000}'))
          expect(at('a')).toBeLessThan(at('a\u0000'))
          await reopen()
        }
        const high = await all(storage, { namespace: 'values', gte: '\ue000' })
        expect(high.map((entry) => entry.key)).toEqual(expected.filter((key) => key >= '\ue000'))
        // A lone high surrogate as a prefix selects the astral characters of its block.
        const emoji = await all(storage, { namespace: 'values', prefix: '\ud83d' })
        expect(emoji.map((entry) => entry.key)).toEqual(['\u{1f600}', '\u{1f642}'])
      })

      it('pages with limit and cursor', async () => {
        const keys = Array.from({ length: 25 }, (_, i) => `key${String(i).padStart(2, '0')}`)
        await storage.write({ values: keys.map((key) => put(key, [1])) })
        const sizes: number[] = []
        const seen: string[] = []
        let after: string | undefined
        for (;;) {
          const page = await storage.scan({
            namespace: 'values',
            limit: 7,
            ...(after === undefined ? {} : { after }),
          })
          sizes.push(page.entries.length)
          seen.push(...page.entries.map((entry) => entry.key))
          if (page.cursor === undefined) break
          expect(page.cursor).toBe(page.entries[page.entries.length - 1]!.key)
          after = page.cursor
        }
        expect(sizes).toEqual([7, 7, 7, 4])
        expect(seen).toEqual(keys)

        const single = await storage.scan({ namespace: 'values', limit: 1 })
        expect(single.entries.map((entry) => entry.key)).toEqual(['key00'])
        expect(single.cursor).toBe('key00')

        // A page that ends exactly at the last record may or may not carry a cursor; if it does,
        // the next page is empty and final.
        const exact = await storage.scan({ namespace: 'values', limit: 25 })
        expect(exact.entries.length).toBe(25)
        if (exact.cursor !== undefined) {
          expect(exact.cursor).toBe('key24')
          const rest = await storage.scan({ namespace: 'values', after: exact.cursor })
          expect(rest).toEqual({ entries: [] })
        }
        const big = await storage.scan({ namespace: 'values', limit: MAX_SCAN_LIMIT })
        expect(big.entries.length).toBe(25)
        expect(big.cursor).toBeUndefined()
      })

      it(`pages by ${DEFAULT_SCAN_LIMIT} entries by default`, async () => {
        const count = DEFAULT_SCAN_LIMIT + 5
        const mutations = Array.from({ length: count }, (_, i) =>
          put(`d${String(i).padStart(5, '0')}`, [i & 0xff]),
        )
        await storage.write({ meta: mutations })
        const first = await storage.scan({ namespace: 'meta' })
        expect(first.entries.length).toBe(DEFAULT_SCAN_LIMIT)
        expect(first.cursor).toBe(mutations[DEFAULT_SCAN_LIMIT - 1]!.key)
        const second = await storage.scan({ namespace: 'meta', after: first.cursor! })
        expect(second.entries.map((entry) => entry.key)).toEqual(
          mutations.slice(DEFAULT_SCAN_LIMIT).map((m) => m.key),
        )
        expect(second.cursor).toBeUndefined()
      })

      it('combines prefix, gte, lt and after', async () => {
        await storage.write({ values: BOUND_KEYS.map((key) => put(key, [key.length])) })
        const cases: ScanOptions[] = [
          { namespace: 'values' },
          { namespace: 'values', prefix: '' },
          { namespace: 'values', prefix: 'a' },
          { namespace: 'values', prefix: 'a/' },
          { namespace: 'values', prefix: 'a/2' },
          { namespace: 'values', prefix: 'a\uffff' },
          { namespace: 'values', prefix: '\uffff' },
          { namespace: 'values', prefix: 'zzz' },
          { namespace: 'values', gte: 'a/2' },
          { namespace: 'values', gte: '' },
          { namespace: 'values', lt: 'a0' },
          { namespace: 'values', lt: '' },
          { namespace: 'values', gte: 'a/1', lt: 'a/3' },
          { namespace: 'values', gte: 'b', lt: 'a' },
          { namespace: 'values', gte: 'b', lt: 'b' },
          { namespace: 'values', after: 'a/2' },
          { namespace: 'values', after: 'a/2/' },
          { namespace: 'values', after: '\uffffa' },
          { namespace: 'values', prefix: 'a', after: 'a/2/x' },
          { namespace: 'values', prefix: 'a', gte: 'a/3', lt: 'a\uffff\uffff' },
          { namespace: 'values', prefix: 'a/', gte: 'b' },
          { namespace: 'values', gte: 'a/1', after: 'a/1' },
          { namespace: 'values', gte: 'a/2', after: 'a/1' },
          { namespace: 'values', prefix: 'b', lt: 'b/1', after: 'a' },
        ]
        for (const scan of cases) {
          const expected = BOUND_KEYS.filter((key) => matches(scan, key)).sort(compareUnits)
          const got = (await all(storage, scan)).map((entry) => entry.key)
          expect({ scan, keys: got }).toEqual({ scan, keys: expected })
        }
      })

      it('agrees with a model on random keys and random scans', async () => {
        const rng = prng(42)
        const model = new Model()
        for (let i = 0; i < 12; i++) {
          const batch = randomBatch(rng, 40, '')
          await storage.write(batch)
          model.apply(batch)
        }
        for (let i = 0; i < 150; i++) {
          const namespace = NAMESPACES[rng.int(2)]!
          const scan: ScanOptions = {
            namespace,
            ...(rng.int(3) === 0 ? { prefix: randomKey(rng, 2) } : {}),
            ...(rng.int(3) === 0 ? { gte: randomKey(rng, 3) } : {}),
            ...(rng.int(3) === 0 ? { lt: randomKey(rng, 3) } : {}),
            ...(rng.int(4) === 0 ? { after: randomKey(rng, 3) } : {}),
          }
          const expected = model.dump(namespace).filter(([key]) => matches(scan, key))
          const limit = 1 + rng.int(15)
          const got: [string, number[]][] = []
          let after = scan.after
          for (;;) {
            const page: ScanPage = await storage.scan({
              ...scan,
              limit,
              ...(after === undefined ? {} : { after }),
            })
            const remaining = expected.length - got.length
            expectPage(page, limit)
            // Values are tiny, so pages are full: no adapter may cut them short before MIN_SCAN_PAGE_BYTES.
            expect(page.entries.length).toBe(Math.min(limit, remaining))
            if (remaining > limit) expect(page.cursor).toBeDefined()
            if (remaining < limit) expect(page.cursor).toBeUndefined()
            got.push(
              ...page.entries.map((entry): [string, number[]] => [
                entry.key,
                Array.from(entry.value),
              ]),
            )
            if (page.cursor === undefined) break
            after = page.cursor
          }
          expect({ scan, got }).toEqual({ scan, got: expected })
        }
      })

      it('rejects invalid scan options', async () => {
        await storage.write({ values: [put('a', [1])] })
        const bad: unknown[] = [
          undefined,
          null,
          'values',
          {},
          { namespace: 'nope' },
          { namespace: 'values', limit: 0 },
          { namespace: 'values', limit: -1 },
          { namespace: 'values', limit: 1.5 },
          { namespace: 'values', limit: MAX_SCAN_LIMIT + 1 },
          { namespace: 'values', limit: Number.NaN },
          { namespace: 'values', limit: '10' },
          { namespace: 'values', prefix: 5 },
          { namespace: 'values', gte: null },
          { namespace: 'values', lt: new Uint8Array(1) },
          { namespace: 'values', after: {} },
        ]
        for (const options of bad) {
          await expectError('INVALID_ARGUMENT', () => storage.scan(options as ScanOptions))
        }
      })
    })

    describe('size', () => {
      it(
        'stores and scans 1 MB values',
        async () => {
          const rng = prng(1)
          const values = [0, 1, 2].map(() => rng.bytes(1024 * 1024))
          const meta = rng.bytes(1024 * 1024)
          await storage.write({
            values: values.map((value, i) => ({ key: `big${i}`, value })),
            meta: [{ key: 'big', value: meta }],
          })
          for (let pass = 0; pass < 2; pass++) {
            const got = await storage.get('values', ['big0', 'big1', 'big2'])
            for (const [i, value] of got.entries()) expectBytes(value, values[i]!)
            expectBytes((await storage.get('meta', ['big']))[0], meta)
            const scanned = await all(storage, { namespace: 'values' })
            expect(scanned.map((entry) => entry.key)).toEqual(['big0', 'big1', 'big2'])
            for (const [i, entry] of scanned.entries()) expectBytes(entry.value, values[i]!)
            await reopen()
          }
        },
        slow,
      )

      it(
        `accepts keys of ${MAX_KEY_LENGTH} code units and values of ${MAX_VALUE_BYTES} bytes, and no more`,
        async () => {
          const longKey = `${'k'.repeat(MAX_KEY_LENGTH - 2)}\u{1f600}`
          const largest = new Uint8Array(MAX_VALUE_BYTES)
          largest[0] = 1
          largest[MAX_VALUE_BYTES - 1] = 2
          await storage.write({ values: [{ key: longKey, value: largest }] })
          await expectError('INVALID_ARGUMENT', () =>
            storage.write({ values: [put(`${longKey}x`, [1])] }),
          )
          const [read] = await storage.get('values', [longKey])
          expectBytes(read, largest)
          expect((await storage.scan({ namespace: 'values', prefix: 'kkk' })).entries[0]?.key).toBe(
            longKey,
          )
        },
        slow,
      )

      it(
        `writes ${manyKeys} keys in batches, then scans them back in order and counts them`,
        async () => {
          const batchSize = 1000
          const keyOf = (i: number) => `item/${i.toString(36)}`
          // Write in a scrambled order (7919 is prime, so i -> i * 7919 mod n is a permutation
          // unless n is a multiple of it), several batches in flight at once.
          const order = (i: number) => (manyKeys % 7919 === 0 ? i : (i * 7919) % manyKeys)
          let next = 0
          const writer = async () => {
            while (next < manyKeys) {
              const start = next
              next = Math.min(manyKeys, start + batchSize)
              const values: Mutation[] = []
              for (let i = start; i < next; i++) {
                const n = order(i)
                values.push({ key: keyOf(n), value: u32(n) })
              }
              await storage.write({ values })
            }
          }
          await Promise.all([writer(), writer(), writer(), writer()])
          await storage.write({ meta: [{ key: 'count', value: u32(manyKeys) }] })

          let count = 0
          let previous = ''
          const seen = new Uint8Array(manyKeys)
          for await (const page of scanPages(storage, {
            namespace: 'values',
            limit: MAX_SCAN_LIMIT,
          })) {
            expectPage(page, MAX_SCAN_LIMIT)
            for (const { key, value } of page.entries) {
              if (!(key > previous))
                expect.fail(`scan order: ${JSON.stringify(key)} after ${JSON.stringify(previous)}`)
              const n = readU32(value)
              if (key !== keyOf(n) || n >= manyKeys || seen[n] === 1) {
                expect.fail(`unexpected record ${JSON.stringify(key)} -> ${n}`)
              }
              seen[n] = 1
              previous = key
              count++
            }
          }
          expect(count).toBe(manyKeys)
          expect(readU32((await storage.get('meta', ['count']))[0]!)).toBe(manyKeys)

          const prefix = 'item/1'
          let prefixed = 0
          for await (const entry of scanAll(storage, { namespace: 'values', prefix })) {
            expect(entry.key.startsWith(prefix)).toBe(true)
            prefixed++
          }
          let expectedPrefixed = 0
          for (let n = 0; n < manyKeys; n++) if (keyOf(n).startsWith(prefix)) expectedPrefixed++
          expect(prefixed).toBe(expectedPrefixed)

          const sample = Array.from({ length: 500 }, (_, i) => (i * 104_729) % manyKeys)
          const got = await storage.get('values', sample.map(keyOf))
          expect(got.map((value) => (value === undefined ? -1 : readU32(value)))).toEqual(sample)
        },
        slow,
      )
    })

    describe('concurrency', () => {
      it('applies all concurrent writes, each whole, in call order', async () => {
        const writers = 200
        await Promise.all(
          Array.from({ length: writers }, (_, i) =>
            storage.write({
              values: [
                put(`c/${i}/a`, [i & 0xff]),
                put(`c/${i}/b`, [1, i & 0xff]),
                put('shared', [i & 0xff]),
              ],
              meta: [put(`c/${i}`, [2, i & 0xff])],
            }),
          ),
        )
        const values = new Map(await dump(storage, 'values'))
        const meta = new Map(await dump(storage, 'meta'))
        for (let i = 0; i < writers; i++) {
          expect(values.get(`c/${i}/a`)).toEqual([i & 0xff])
          expect(values.get(`c/${i}/b`)).toEqual([1, i & 0xff])
          expect(meta.get(`c/${i}`)).toEqual([2, i & 0xff])
        }
        expect(values.get('shared')).toEqual([(writers - 1) & 0xff])
        expect(values.size).toBe(2 * writers + 1)
      })

      it('fails an invalid batch alone among concurrent writes', async () => {
        const batches = Array.from(
          { length: 40 },
          (_, i): WriteBatch =>
            i % 10 === 3
              ? { values: [put(`ok-looking/${i}`, [1]), put('\ud800', [1])] }
              : { values: [put(`w/${i}`, [i])] },
        )
        const results = await Promise.allSettled(batches.map((batch) => storage.write(batch)))
        results.forEach((result, i) => {
          if (i % 10 === 3) {
            expect(result.status).toBe('rejected')
            expectMendsyncError((result as PromiseRejectedResult).reason, 'INVALID_ARGUMENT')
          } else {
            expect(result.status).toBe('fulfilled')
          }
        })
        const keys = (await dump(storage, 'values')).map(([key]) => key)
        expect(keys.length).toBe(36)
        expect(keys.every((key) => key.startsWith('w/'))).toBe(true)
      })

      it('never shows a reader half a batch', async () => {
        let writing = true
        const writer = (async () => {
          const pending: Promise<void>[] = []
          for (let i = 1; i <= 60; i++) {
            pending.push(
              storage.write({
                values: [put('pair/x', [i]), put('pair/y', [i]), put(`pair/z${i % 3}`, [i])],
              }),
            )
            if (i % 4 === 0) await Promise.all(pending.splice(0))
          }
          await Promise.all(pending)
          writing = false
        })()
        let reads = 0
        while (writing || reads < 5) {
          const [x, y] = await storage.get('values', ['pair/x', 'pair/y'])
          expect(toArray(x)).toEqual(toArray(y))
          const page = await storage.scan({ namespace: 'values', prefix: 'pair/', lt: 'pair/z' })
          const [px, py] = page.entries
          expect(toArray(px?.value)).toEqual(toArray(py?.value))
          reads++
          // Let adapters that commit from a later task (group commit) make progress.
          await new Promise((resolve) => setTimeout(resolve, 0))
        }
        await writer
        expect((await storage.get('values', ['pair/x'])).map(toArray)).toEqual([[60]])
      })
    })

    describe('errors', () => {
      it('fails every call after close with STORAGE_CLOSED; close is idempotent', async () => {
        await storage.write({ values: [put('kept', [1])] })
        const closing = storage.close()
        await expectError('STORAGE_CLOSED', () => storage.get('values', ['kept']))
        await closing
        await storage.close()
        await expectError('STORAGE_CLOSED', () => storage.get('values', ['kept']))
        await expectError('STORAGE_CLOSED', () => storage.write({ values: [put('more', [1])] }))
        await expectError('STORAGE_CLOSED', () => storage.scan({ namespace: 'values' }))
        await storage.close()
        await reopen()
        expect(await dump(storage, 'values')).toEqual([['kept', [1]]])
      })

      it('rejects invalid keys, values and batches with INVALID_ARGUMENT, storing nothing', async () => {
        const value = new Uint8Array([1])
        const badBatches: unknown[] = [
          undefined,
          null,
          'batch',
          [],
          { values: {} },
          { meta: 'x' },
          { values: [undefined] },
          { values: [{ key: '', value }] },
          { values: [{ key: 5, value }] },
          { values: [{ value }] },
          { meta: [{ key: 'x'.repeat(MAX_KEY_LENGTH + 1), value }] },
          { values: [{ key: 'lone\ud800high', value }] },
          { values: [{ key: 'lone\udc00low', value }] },
          { values: [{ key: '\udc00\ud800', value }] },
          { values: [{ key: 'k', value: 'text' }] },
          { values: [{ key: 'k', value: [1, 2] }] },
          { values: [{ key: 'k', value: new ArrayBuffer(2) }] },
          { values: [{ key: 'k', value: new Uint16Array(2) }] },
          { values: [{ key: 'k' }] },
          { values: [{ key: 'k', value }], durability: 'none' },
          { values: [{ key: 'k', value }], durability: null },
        ]
        for (const batch of badBatches) {
          await expectError('INVALID_ARGUMENT', () => storage.write(batch as WriteBatch))
        }
        const badGets: [unknown, unknown][] = [
          ['nope', ['a']],
          [undefined, ['a']],
          ['values', 'a'],
          ['values', undefined],
          ['values', ['a', '']],
          ['values', [7]],
          ['meta', ['x'.repeat(MAX_KEY_LENGTH + 1)]],
          ['meta', ['\ud83d']],
        ]
        for (const [namespace, keys] of badGets) {
          await expectError('INVALID_ARGUMENT', () =>
            storage.get(namespace as Namespace, keys as string[]),
          )
        }
        for (const namespace of NAMESPACES) expect(await dump(storage, namespace)).toEqual([])
        // The extremes that are valid.
        await storage.write({ values: [put('\u0000', [1]), put('\u{10ffff}', [2]), put(' ', [3])] })
        expect((await dump(storage, 'values')).map(([key]) => key)).toEqual([
          '\u0000',
          ' ',
          '\u{10ffff}',
        ])
      })
    })

    describe('integrity', () => {
      for (const namespace of NAMESPACES) {
        it(`reports a corrupted ${namespace} record with STORAGE_CORRUPT instead of returning it`, async () => {
          const other: Namespace = namespace === 'values' ? 'meta' : 'values'
          const damaged = 'record/b'
          const payload = (n: number) => Array.from({ length: 100 }, (_, i) => (i * n) & 0xff)
          await storage.write({
            [namespace]: [
              put('record/a', payload(1)),
              put(damaged, payload(2)),
              put('record/c', payload(3)),
            ],
            [other]: [put(damaged, payload(4))],
          })
          storage = await harness!.corrupt(namespace, damaged)

          const error = await expectError('STORAGE_CORRUPT', () =>
            storage.get(namespace, [damaged]),
          )
          expect(error.message).toContain(damaged)
          await expectError('STORAGE_CORRUPT', () => storage.get(namespace, ['record/a', damaged]))
          await expectError('STORAGE_CORRUPT', () => storage.scan({ namespace }))
          // Intact records stay readable.
          expect((await storage.get(namespace, ['record/a', 'record/c'])).map(toArray)).toEqual([
            payload(1),
            payload(3),
          ])
          expect(await dump(storage, namespace, { lt: damaged })).toEqual([
            ['record/a', payload(1)],
          ])
          expect(await dump(storage, namespace, { after: damaged })).toEqual([
            ['record/c', payload(3)],
          ])
          expect(await dump(storage, other)).toEqual([[damaged, payload(4)]])
          // Overwriting the key repairs it.
          await storage.write({ [namespace]: [put(damaged, [7])] })
          expect((await storage.get(namespace, [damaged])).map(toArray)).toEqual([[7]])
        })
      }
    })
  })
}

const NAMESPACES: readonly Namespace[] = ['values', 'meta']

// Keys whose UTF-16 code unit order differs from code point / UTF-8 order.
const ORDER_KEYS = [
  'a',
  'a\u0000',
  'ab',
  'b',
  '\u0000',
  '\u007f',
  '\u0080',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uf8ff',
  '\ufffd',
  '\uffff',
  '\uffff\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{1f642}',
  '\u{10ffff}',
  'z\u{1f600}',
  'z\uffff',
]

const BOUND_KEYS = [
  'a',
  'a/1',
  'a/2',
  'a/2/x',
  'a/3',
  'a0',
  'a\uffff',
  'a\uffff\uffff',
  'b',
  'b/1',
  'ba',
  '\uffff',
  '\uffffa',
]

function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function matches(scan: ScanOptions, key: string): boolean {
  if (scan.prefix !== undefined && !key.startsWith(scan.prefix)) return false
  if (scan.gte !== undefined && key < scan.gte) return false
  if (scan.lt !== undefined && key >= scan.lt) return false
  if (scan.after !== undefined && key <= scan.after) return false
  return true
}

function put(key: string, bytes: number[]): Mutation {
  return { key, value: new Uint8Array(bytes) }
}

function erase(key: string): Mutation {
  return { key, value: null }
}

function toArray(value: Uint8Array | undefined): number[] | undefined {
  return value === undefined ? undefined : Array.from(value)
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

function readU32(value: Uint8Array): number {
  expect(value.byteLength).toBe(4)
  return ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0
}

function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual!.byteLength).toBe(expected.byteLength)
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual![i] !== expected[i]) expect.fail(`bytes differ at offset ${i}`)
  }
}

/** Checks the page shape every adapter owes: at most `limit`, cursor = last key, never empty with a cursor. */
function expectPage(page: ScanPage, limit: number): void {
  expect(page.entries.length).toBeLessThanOrEqual(limit)
  if (page.cursor !== undefined) {
    expect(page.entries.length).toBeGreaterThan(0)
    expect(page.cursor).toBe(page.entries[page.entries.length - 1]!.key)
    let bytes = 0
    for (const entry of page.entries) bytes += entry.key.length * 2 + entry.value.byteLength
    if (bytes < MIN_SCAN_PAGE_BYTES) expect(page.entries.length).toBe(limit)
  }
}

async function all(storage: Storage, options: ScanOptions): Promise<Entry[]> {
  const entries: Entry[] = []
  for await (const page of scanPages(storage, options)) {
    expectPage(page, options.limit ?? DEFAULT_SCAN_LIMIT)
    entries.push(...page.entries)
  }
  return entries
}

async function dump(
  storage: Storage,
  namespace: Namespace,
  bounds: Omit<ScanOptions, 'namespace'> = {},
): Promise<[string, number[]][]> {
  const entries = await all(storage, { ...bounds, namespace })
  return entries.map((entry) => [entry.key, Array.from(entry.value)])
}

interface CodedError extends Error {
  readonly code: string
}

function expectMendsyncError(error: unknown, code: string): CodedError {
  if (!(error instanceof Error) || error.name !== 'MendsyncError') {
    expect.fail(`expected a MendsyncError with code ${code}, got ${String(error)}`)
  }
  expect((error as CodedError).code).toBe(code)
  expect(error.message.length).toBeGreaterThan(0)
  return error as CodedError
}

async function expectError(code: string, call: () => Promise<unknown>): Promise<CodedError> {
  try {
    await call()
  } catch (error) {
    return expectMendsyncError(error, code)
  }
  return expect.fail(`expected the call to fail with ${code}, but it succeeded`)
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    int: (n: number) => Math.floor(next() * n),
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length)
      for (let i = 0; i < length; i += 4) {
        const word = (next() * 4294967296) >>> 0
        out[i] = word
        out[i + 1] = word >>> 8
        out[i + 2] = word >>> 16
        out[i + 3] = word >>> 24
      }
      return out
    },
  }
}

type Rng = ReturnType<typeof prng>

const ALPHABET = [
  'a',
  'b',
  '/',
  '\u0000',
  '\u007f',
  '\u00e9',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uffff',
  '\u{1f600}',
  '\u{10000}',
  '\u{10ffff}',
]

function randomKey(rng: Rng, maxLength: number): string {
  let key = ''
  const length = 1 + rng.int(maxLength)
  for (let i = 0; i < length; i++) key += ALPHABET[rng.int(ALPHABET.length)]!
  return key
}

function randomBatch(rng: Rng, size: number, prefix: string): WriteBatch {
  const values: Mutation[] = []
  const meta: Mutation[] = []
  for (let i = 0; i < size; i++) {
    const key = prefix + randomKey(rng, 3)
    const mutation = rng.int(5) === 0 ? erase(key) : { key, value: rng.bytes(rng.int(6)) }
    ;(rng.int(3) === 0 ? meta : values).push(mutation)
  }
  return { values, meta }
}

/** What a correct storage holds after a sequence of batches. */
class Model {
  private readonly data: Record<Namespace, Map<string, number[]>> = {
    values: new Map(),
    meta: new Map(),
  }

  apply(batch: WriteBatch): void {
    for (const namespace of NAMESPACES) {
      for (const { key, value } of batch[namespace] ?? []) {
        if (value === null) this.data[namespace].delete(key)
        else this.data[namespace].set(key, Array.from(value))
      }
    }
  }

  dump(namespace: Namespace): [string, number[]][] {
    return [...this.data[namespace].entries()].sort(([a], [b]) => compareUnits(a, b))
  }
}
