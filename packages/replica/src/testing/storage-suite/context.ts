import type { Namespace, Storage } from '../../storage/types.js'

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

/** What each concern's tests of the storage suite share: the current test's storage and harness. */
export interface StorageSuiteContext {
  /** The storage the current test uses (replaced by {@link reopen} and {@link corrupt}). */
  readonly storage: Storage
  /** The current test's harness. */
  readonly harness: StorageTestHarness
  /** Reopens the store (see {@link StorageTestHarness.reopen}) and makes it the current storage. */
  reopen(): Promise<Storage>
  /** Damages one record (see {@link StorageTestHarness.corrupt}) and uses the storage returned. */
  corrupt(namespace: Namespace, key: string): Promise<Storage>
  /** Keys of the large-keyspace test. */
  readonly manyKeys: number
  /** Timeout of the slow tests, ms. */
  readonly slowTimeoutMs: number
}
