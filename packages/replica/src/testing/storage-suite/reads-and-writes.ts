import { describe, expect, it } from 'vitest'
import type { Mutation } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, erase, NAMESPACES, put, toArray } from './helpers.js'

/** Registers the storage contract tests of reads and writes: empty storage, overwrites, erasures, copies, both namespaces. */
export function describeReadsAndWrites(suite: StorageSuiteContext): void {
  describe('reads and writes', () => {
    it('starts empty, and an empty batch is a no-op', async () => {
      expect(await suite.storage.get('values', ['a'])).toEqual([undefined])
      expect(await suite.storage.get('meta', [])).toEqual([])
      await suite.storage.write({})
      await suite.storage.write({ values: [], meta: [] })
      for (const namespace of NAMESPACES) {
        const page = await suite.storage.scan({ namespace })
        expect(page.entries).toEqual([])
        expect(page.cursor).toBeUndefined()
      }
    })

    it('reads back what was written: one slot per key, in order, namespaces apart', async () => {
      await suite.storage.write({
        values: [put('a', [1]), put('b', [2, 2])],
        meta: [put('a', [9, 9, 9])],
      })
      const got = await suite.storage.get('values', ['b', 'missing', 'a', 'b'])
      expect(got.map(toArray)).toEqual([[2, 2], undefined, [1], [2, 2]])
      expect((await suite.storage.get('meta', ['a', 'b'])).map(toArray)).toEqual([
        [9, 9, 9],
        undefined,
      ])
      for (const value of got) if (value !== undefined) expect(value).toBeInstanceOf(Uint8Array)
    })

    it('overwrites and erases; erasing an absent key is fine', async () => {
      await suite.storage.write({ values: [put('k', [1]), put('other', [5])] })
      await suite.storage.write({ values: [put('k', [2])] })
      expect((await suite.storage.get('values', ['k'])).map(toArray)).toEqual([[2]])
      await suite.storage.write({
        values: [erase('k'), erase('never-written')],
        meta: [erase('k')],
      })
      expect(await suite.storage.get('values', ['k', 'never-written'])).toEqual([
        undefined,
        undefined,
      ])
      expect(await dump(suite.storage, 'values')).toEqual([['other', [5]]])
    })

    it('keeps an empty value apart from an absent key', async () => {
      await suite.storage.write({ values: [put('empty', [])], meta: [put('empty', [])] })
      for (const namespace of NAMESPACES) {
        const [value] = await suite.storage.get(namespace, ['empty'])
        expect(value).toBeInstanceOf(Uint8Array)
        expect(value?.byteLength).toBe(0)
      }
      await suite.reopen()
      expect(await dump(suite.storage, 'values')).toEqual([['empty', []]])
      expect(await dump(suite.storage, 'meta')).toEqual([['empty', []]])
    })

    it('applies a batch in order: a later mutation of the same key wins', async () => {
      await suite.storage.write({
        values: [put('k', [1]), put('j', [1]), put('k', [2]), erase('j')],
        meta: [erase('m'), put('m', [3])],
      })
      expect(await dump(suite.storage, 'values')).toEqual([['k', [2]]])
      expect(await dump(suite.storage, 'meta')).toEqual([['m', [3]]])
    })

    it('stores exactly the bytes of a view, not its whole buffer', async () => {
      const buffer = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      await suite.storage.write({ values: [{ key: 'view', value: buffer.subarray(3, 6) }] })
      expect((await suite.storage.get('values', ['view'])).map(toArray)).toEqual([[3, 4, 5]])
    })

    it('keeps its own copies: later changes to written or returned arrays change nothing', async () => {
      const value = new Uint8Array([1, 2, 3])
      const mutations: Mutation[] = [{ key: 'a', value }]
      const written = suite.storage.write({ values: mutations })
      value[0] = 99
      mutations.push(put('b', [4]))
      await written
      expect(await dump(suite.storage, 'values')).toEqual([['a', [1, 2, 3]]])

      const [read] = await suite.storage.get('values', ['a'])
      read![1] = 99
      const page = await suite.storage.scan({ namespace: 'values' })
      page.entries[0]!.value[2] = 99
      expect((await suite.storage.get('values', ['a'])).map(toArray)).toEqual([[1, 2, 3]])
    })
  })
}
