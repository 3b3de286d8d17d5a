// The Storage acceptance suite. Every adapter runs it from a thin test file:
//
//   runStorageAdapterTests(async () => ({ storage, reopen, corrupt, teardown }), { name: 'file' })
//
// One file per concern (the way libp2p's interface-compliance-tests are laid out), composed
// here. It runs in Node and in browsers (vitest browser mode), so it imports nothing from `node:`.
import { afterEach, beforeEach, describe } from 'vitest'
import type { Namespace, Storage } from '../../storage/types.js'
import { describeAtomicBatches } from './atomic-batches.js'
import { describeConcurrency } from './concurrency.js'
import type {
  StorageSuiteContext,
  StorageSuiteOptions,
  StorageTestHarness,
  StorageTestSetup,
} from './context.js'
import { describeDurability } from './durability.js'
import { describeErrors } from './errors.js'
import { describeIntegrity } from './integrity.js'
import { describeReadsAndWrites } from './reads-and-writes.js'
import { describeScans } from './scans.js'
import { describeSize } from './size.js'

export type { StorageSuiteOptions, StorageTestHarness, StorageTestSetup } from './context.js'

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
  describe(options.name ?? 'Storage contract', () => {
    let harness: StorageTestHarness | undefined
    let storage: Storage | undefined

    beforeEach(async () => {
      harness = await setup()
      storage = harness.storage
    })

    afterEach(async () => {
      const done = harness
      harness = undefined
      storage = undefined
      await done?.teardown()
    })

    const current = (): StorageTestHarness => {
      if (harness === undefined) throw new Error('the storage suite harness was not set up')
      return harness
    }
    const suite: StorageSuiteContext = {
      get storage(): Storage {
        if (storage === undefined) throw new Error('the storage suite harness was not set up')
        return storage
      },
      get harness(): StorageTestHarness {
        return current()
      },
      async reopen(): Promise<Storage> {
        storage = await current().reopen()
        return storage
      },
      async corrupt(namespace: Namespace, key: string): Promise<Storage> {
        storage = await current().corrupt(namespace, key)
        return storage
      },
      manyKeys: options.manyKeys ?? 100_000,
      slowTimeoutMs: options.slowTimeoutMs ?? 120_000,
    }

    describeReadsAndWrites(suite)
    describeAtomicBatches(suite)
    describeDurability(suite)
    describeScans(suite)
    describeSize(suite)
    describeConcurrency(suite)
    describeErrors(suite)
    describeIntegrity(suite)
  })
}
