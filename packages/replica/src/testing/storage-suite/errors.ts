import { describe, expect, it } from 'vitest'
import { MAX_KEY_LENGTH, type Namespace, type WriteBatch } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, expectError, NAMESPACES, put } from './helpers.js'

/** Registers the storage contract tests of errors: typed errors after close and on invalid input. */
export function describeErrors(suite: StorageSuiteContext): void {
  describe('errors', () => {
    it('fails every call after close with STORAGE_CLOSED; close is idempotent', async () => {
      await suite.storage.write({ values: [put('kept', [1])] })
      const closing = suite.storage.close()
      await expectError('STORAGE_CLOSED', () => suite.storage.get('values', ['kept']))
      await closing
      await suite.storage.close()
      await expectError('STORAGE_CLOSED', () => suite.storage.get('values', ['kept']))
      await expectError('STORAGE_CLOSED', () => suite.storage.write({ values: [put('more', [1])] }))
      await expectError('STORAGE_CLOSED', () => suite.storage.scan({ namespace: 'values' }))
      await suite.storage.close()
      await suite.reopen()
      expect(await dump(suite.storage, 'values')).toEqual([['kept', [1]]])
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
        await expectError('INVALID_ARGUMENT', () => suite.storage.write(batch as WriteBatch))
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
          suite.storage.get(namespace as Namespace, keys as string[]),
        )
      }
      for (const namespace of NAMESPACES) expect(await dump(suite.storage, namespace)).toEqual([])
      // The extremes that are valid.
      await suite.storage.write({
        values: [put('\u0000', [1]), put('\u{10ffff}', [2]), put(' ', [3])],
      })
      expect((await dump(suite.storage, 'values')).map(([key]) => key)).toEqual([
        '\u0000',
        ' ',
        '\u{10ffff}',
      ])
    })
  })
}
