import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SCAN_LIMIT,
  MAX_SCAN_LIMIT,
  type ScanOptions,
  type ScanPage,
} from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import {
  all,
  BOUND_KEYS,
  compareUnits,
  expectError,
  expectPage,
  Model,
  matches,
  NAMESPACES,
  ORDER_KEYS,
  prng,
  put,
  randomBatch,
  randomKey,
} from './helpers.js'

/** Registers the storage contract tests of key order (UTF-16 code units) and scans: bounds, prefixes, pagination, cursors. */
export function describeScans(suite: StorageSuiteContext): void {
  describe('key order and scans', () => {
    it('orders keys by UTF-16 code unit: astral characters sort before U+E000..U+FFFF', async () => {
      const shuffled = [...ORDER_KEYS].reverse()
      await suite.storage.write({ values: shuffled.map((key, i) => put(key, [i])) })
      const expected = [...ORDER_KEYS].sort(compareUnits)
      for (let pass = 0; pass < 2; pass++) {
        const keys = (await all(suite.storage, { namespace: 'values' })).map((entry) => entry.key)
        expect(keys).toEqual(expected)
        const at = (key: string) => keys.indexOf(key)
        expect(at('\u{10000}')).toBeLessThan(at('\ue000'))
        expect(at('\u{1f600}')).toBeLessThan(at('\uffff'))
        expect(at('\u{10ffff}')).toBeLessThan(at('\uf8ff'))
        expect(at('\ud7ff')).toBeLessThan(at('\u{10000}'))
        expect(at('a')).toBeLessThan(at('a\u0000'))
        await suite.reopen()
      }
      const high = await all(suite.storage, { namespace: 'values', gte: '\ue000' })
      expect(high.map((entry) => entry.key)).toEqual(expected.filter((key) => key >= '\ue000'))
      // A lone high surrogate as a prefix selects the astral characters of its block.
      const emoji = await all(suite.storage, { namespace: 'values', prefix: '\ud83d' })
      expect(emoji.map((entry) => entry.key)).toEqual(['\u{1f600}', '\u{1f642}'])
    })

    it('pages with limit and cursor', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `key${String(i).padStart(2, '0')}`)
      await suite.storage.write({ values: keys.map((key) => put(key, [1])) })
      const sizes: number[] = []
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const page = await suite.storage.scan({
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

      const single = await suite.storage.scan({ namespace: 'values', limit: 1 })
      expect(single.entries.map((entry) => entry.key)).toEqual(['key00'])
      expect(single.cursor).toBe('key00')

      // A page that ends exactly at the last record may or may not carry a cursor; if it does,
      // the next page is empty and final.
      const exact = await suite.storage.scan({ namespace: 'values', limit: 25 })
      expect(exact.entries.length).toBe(25)
      if (exact.cursor !== undefined) {
        expect(exact.cursor).toBe('key24')
        const rest = await suite.storage.scan({ namespace: 'values', after: exact.cursor })
        expect(rest).toEqual({ entries: [] })
      }
      const big = await suite.storage.scan({ namespace: 'values', limit: MAX_SCAN_LIMIT })
      expect(big.entries.length).toBe(25)
      expect(big.cursor).toBeUndefined()
    })

    it(`pages by ${DEFAULT_SCAN_LIMIT} entries by default`, async () => {
      const count = DEFAULT_SCAN_LIMIT + 5
      const mutations = Array.from({ length: count }, (_, i) =>
        put(`d${String(i).padStart(5, '0')}`, [i & 0xff]),
      )
      await suite.storage.write({ meta: mutations })
      const first = await suite.storage.scan({ namespace: 'meta' })
      expect(first.entries.length).toBe(DEFAULT_SCAN_LIMIT)
      expect(first.cursor).toBe(mutations[DEFAULT_SCAN_LIMIT - 1]!.key)
      const second = await suite.storage.scan({ namespace: 'meta', after: first.cursor! })
      expect(second.entries.map((entry) => entry.key)).toEqual(
        mutations.slice(DEFAULT_SCAN_LIMIT).map((m) => m.key),
      )
      expect(second.cursor).toBeUndefined()
    })

    it('combines prefix, gte, lt and after', async () => {
      await suite.storage.write({ values: BOUND_KEYS.map((key) => put(key, [key.length])) })
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
        const got = (await all(suite.storage, scan)).map((entry) => entry.key)
        expect({ scan, keys: got }).toEqual({ scan, keys: expected })
      }
    })

    it('agrees with a model on random keys and random scans', async () => {
      const rng = prng(42)
      const model = new Model()
      for (let i = 0; i < 12; i++) {
        const batch = randomBatch(rng, 40, '')
        await suite.storage.write(batch)
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
          const page: ScanPage = await suite.storage.scan({
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
      await suite.storage.write({ values: [put('a', [1])] })
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
        await expectError('INVALID_ARGUMENT', () => suite.storage.scan(options as ScanOptions))
      }
    })
  })
}
