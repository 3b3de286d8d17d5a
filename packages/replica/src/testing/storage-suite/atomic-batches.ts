import { describe, expect, it } from 'vitest'
import { MAX_VALUE_BYTES, type Mutation, type WriteBatch } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, expectError, expectMendsyncError, put, toArray } from './helpers.js'

/** Registers the storage contract tests of atomic batches: all or nothing, also when a batch fails midway. */
export function describeAtomicBatches(suite: StorageSuiteContext): void {
  describe('atomic batches', () => {
    it('rejects a batch with one invalid mutation whole, in either namespace', async () => {
      await suite.storage.write({ values: [put('a', [1])] })
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
      for (const batch of bad)
        await expectError('INVALID_ARGUMENT', () => suite.storage.write(batch))
      expect(await dump(suite.storage, 'values')).toEqual([['a', [1]]])
      expect(await dump(suite.storage, 'meta')).toEqual([])
    })

    it('leaves nothing of a batch that fails while being applied; other batches land', async () => {
      await suite.storage.write({ values: [put('a', [1])] })
      suite.harness.injectWriteFailure('meta', 'boom')
      const results = await Promise.allSettled([
        suite.storage.write({ values: [put('before', [1])] }),
        suite.storage.write({
          values: [put('a', [2]), put('b', [2])],
          meta: [put('m', [2]), put('boom', [2]), put('n', [2])],
        }),
        suite.storage.write({ values: [put('after', [1])], meta: [put('z', [1])] }),
      ])
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
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
        values: await dump(suite.storage, 'values'),
        meta: await dump(suite.storage, 'meta'),
      }).toEqual(expected)
      await suite.reopen()
      expect({
        values: await dump(suite.storage, 'values'),
        meta: await dump(suite.storage, 'meta'),
      }).toEqual(expected)
      // The fault was one-shot: the same batch now lands whole.
      await suite.storage.write({ values: [put('b', [3])], meta: [put('boom', [3])] })
      expect((await suite.storage.get('meta', ['boom'])).map(toArray)).toEqual([[3]])
    })
  })
}
