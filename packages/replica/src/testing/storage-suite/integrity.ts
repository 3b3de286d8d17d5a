import { describe, expect, it } from 'vitest'
import type { Namespace } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, expectError, NAMESPACES, put, toArray } from './helpers.js'

/** Registers the storage contract tests of integrity: a corrupted record fails with STORAGE_CORRUPT and never comes back. */
export function describeIntegrity(suite: StorageSuiteContext): void {
  describe('integrity', () => {
    for (const namespace of NAMESPACES) {
      it(`reports a corrupted ${namespace} record with STORAGE_CORRUPT instead of returning it`, async () => {
        const other: Namespace = namespace === 'values' ? 'meta' : 'values'
        const damaged = 'record/b'
        const payload = (n: number) => Array.from({ length: 100 }, (_, i) => (i * n) & 0xff)
        await suite.storage.write({
          [namespace]: [
            put('record/a', payload(1)),
            put(damaged, payload(2)),
            put('record/c', payload(3)),
          ],
          [other]: [put(damaged, payload(4))],
        })
        await suite.corrupt(namespace, damaged)

        const error = await expectError('STORAGE_CORRUPT', () =>
          suite.storage.get(namespace, [damaged]),
        )
        expect(error.message).toContain(damaged)
        await expectError('STORAGE_CORRUPT', () =>
          suite.storage.get(namespace, ['record/a', damaged]),
        )
        await expectError('STORAGE_CORRUPT', () => suite.storage.scan({ namespace }))
        // Intact records stay readable.
        expect((await suite.storage.get(namespace, ['record/a', 'record/c'])).map(toArray)).toEqual(
          [payload(1), payload(3)],
        )
        expect(await dump(suite.storage, namespace, { lt: damaged })).toEqual([
          ['record/a', payload(1)],
        ])
        expect(await dump(suite.storage, namespace, { after: damaged })).toEqual([
          ['record/c', payload(3)],
        ])
        expect(await dump(suite.storage, other)).toEqual([[damaged, payload(4)]])
        // Overwriting the key repairs it.
        await suite.storage.write({ [namespace]: [put(damaged, [7])] })
        expect((await suite.storage.get(namespace, [damaged])).map(toArray)).toEqual([[7]])
      })
    }
  })
}
