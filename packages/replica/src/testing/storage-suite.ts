import type { Namespace, Storage } from '../storage/types.js'

/** What an adapter's test file hands the storage acceptance suite for each test. */
export interface StorageTestHarness {
  /** A fresh, empty, open storage. */
  readonly storage: Storage
  /** Closes `storage` (if still open) and opens the same underlying store again. */
  reopen(): Promise<Storage>
  /**
   * Damages the persisted bytes of one record so that its integrity check must fail, and returns
   * the storage to use afterwards (an adapter may need to close and reopen to reach its bytes).
   */
  corrupt(namespace: Namespace, key: string): Promise<Storage>
  /** Closes whatever is open and deletes the underlying store (files, databases). */
  teardown(): Promise<void>
}

/** Creates one harness; called once per test. */
export type StorageTestSetup = () => Promise<StorageTestHarness>
