import { MendsyncError } from '@mendsync/core'
import { lowerBound } from '@mendsync/core/toolbox'
import { corruptRecord, recordChecksum } from './integrity.js'
import type { Entry, Namespace, ScanOptions, ScanPage, Storage, WriteBatch } from './types.js'
import { MIN_SCAN_PAGE_BYTES } from './types.js'
import {
  assertKey,
  assertNamespace,
  compareKeys,
  entryBytes,
  type PreparedMutation,
  prepareBatch,
  prepareKeys,
  prepareScan,
  storageClosed,
} from './validate.js'

interface StoredRecord {
  readonly bytes: Uint8Array
  readonly checksum: number
}

/** A byte budget per scan page: pages end early past it (never before `MIN_SCAN_PAGE_BYTES`). */
const PAGE_BYTES = 8 * MIN_SCAN_PAGE_BYTES

/**
 * One ordered keyspace: a map for point reads plus a sorted key array for scans. New keys are
 * appended to `pending` and merged into `sorted` lazily, at the next scan, so bulk loads cost one
 * sort instead of one array insertion per key.
 */
class Keyspace {
  readonly records = new Map<string, StoredRecord>()
  private sorted: string[] = []
  private pending: string[] = []
  private erased = 0

  set(key: string, record: StoredRecord): void {
    if (!this.records.has(key)) this.pending.push(key)
    this.records.set(key, record)
  }

  delete(key: string): void {
    if (this.records.delete(key)) this.erased++
  }

  /** The keys in order (do not modify). */
  keys(): readonly string[] {
    if (this.pending.length === 0 && this.erased === 0) return this.sorted
    const live = this.erased === 0 ? this.sorted : this.sorted.filter((k) => this.records.has(k))
    const added = this.pending.filter((k) => this.records.has(k)).sort(compareKeys)
    const merged: string[] = []
    let i = 0
    let j = 0
    let last: string | undefined
    const push = (key: string) => {
      if (key !== last) merged.push(key)
      last = key
    }
    while (i < live.length && j < added.length) {
      const a = live[i]!
      const b = added[j]!
      if (a <= b) {
        push(a)
        i++
      } else {
        push(b)
        j++
      }
    }
    while (i < live.length) push(live[i++]!)
    while (j < added.length) push(added[j++]!)
    this.sorted = merged
    this.pending = []
    this.erased = 0
    return merged
  }
}

const keyspaces = new WeakMap<MemoryStore, Record<Namespace, Keyspace>>()

function keyspacesOf(store: MemoryStore): Record<Namespace, Keyspace> {
  return keyspaces.get(store)!
}

/**
 * The "disk" of a {@link MemoryStorage}: it outlives the storages opened on it, so a test can
 * close a storage and open another on the same records (as a restart would), or damage a record.
 */
export class MemoryStore {
  constructor() {
    keyspaces.set(this, { values: new Keyspace(), meta: new Keyspace() })
  }

  /**
   * Damages the stored bytes of one record without updating its checksum, as bit rot would, so
   * the next read of it fails with `STORAGE_CORRUPT`. For tests of corruption handling.
   */
  damage(namespace: Namespace, key: string): void {
    assertNamespace(namespace, 'damage')
    assertKey(key, 'damage: key')
    const keyspace = keyspacesOf(this)[namespace]
    const record = keyspace.records.get(key)
    if (record === undefined) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `damage: no record ${JSON.stringify(key)} in '${namespace}'`,
      )
    }
    if (record.bytes.length === 0) {
      keyspace.records.set(key, { bytes: record.bytes, checksum: (record.checksum ^ 1) >>> 0 })
    } else {
      record.bytes[record.bytes.length >>> 1]! ^= 0x40
    }
  }
}

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** Records to open (a previous storage's); default a new empty store. */
  readonly store?: MemoryStore
  /**
   * Test hook: called for each mutation while a batch is applied, after the ones before it. If it
   * throws, the batch fails with `STORAGE_FAILURE` and none of it is stored.
   */
  readonly onMutation?: (namespace: Namespace, key: string) => void
}

/**
 * A {@link Storage} in memory: for tests and ephemeral replicas. It keeps the whole contract
 * (ordering, atomic batches, copies, checksummed records, typed errors); "durable" means durable
 * for as long as its {@link MemoryStore} lives.
 */
export class MemoryStorage implements Storage {
  /** The records; pass it to a new `MemoryStorage` to reopen them. */
  readonly store: MemoryStore
  private readonly onMutation: ((namespace: Namespace, key: string) => void) | undefined
  private closed = false

  constructor(options: MemoryStorageOptions = {}) {
    this.store = options.store ?? new MemoryStore()
    this.onMutation = options.onMutation
  }

  async get(namespace: Namespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.ensureOpen('get')
    assertNamespace(namespace, 'get')
    const checked = prepareKeys(keys)
    const keyspace = keyspacesOf(this.store)[namespace]
    return checked.map((key) => {
      const record = keyspace.records.get(key)
      return record === undefined ? undefined : verified(namespace, key, record)
    })
  }

  async write(batch: WriteBatch): Promise<void> {
    this.ensureOpen('write')
    const prepared = prepareBatch(batch)
    if (prepared.size === 0) return
    // Stage every change first (the hook may fail midway), then apply them all at once.
    const staged: [Namespace, PreparedMutation, StoredRecord | null][] = []
    for (const namespace of ['values', 'meta'] as const) {
      for (const mutation of prepared[namespace]) {
        if (this.onMutation !== undefined) {
          try {
            this.onMutation(namespace, mutation.key)
          } catch (cause) {
            throw new MendsyncError(
              'STORAGE_FAILURE',
              `write: the memory storage failed while applying a batch (${String(cause)}); nothing of it was stored`,
              { cause },
            )
          }
        }
        const record =
          mutation.value === null
            ? null
            : { bytes: mutation.value, checksum: recordChecksum(mutation.key, mutation.value) }
        staged.push([namespace, mutation, record])
      }
    }
    for (const [namespace, mutation, record] of staged) {
      const keyspace = keyspacesOf(this.store)[namespace]
      if (record === null) keyspace.delete(mutation.key)
      else keyspace.set(mutation.key, record)
    }
  }

  async scan(options: ScanOptions): Promise<ScanPage> {
    this.ensureOpen('scan')
    const scan = prepareScan(options)
    if (scan.empty) return { entries: [] }
    const keyspace = keyspacesOf(this.store)[scan.namespace]
    const keys = keyspace.keys()
    let index = 0
    if (scan.lower !== undefined) {
      const lower = scan.lower
      index = lowerBound(keys, lower)
      if (scan.lowerOpen && keys[index] === lower) index++
    }
    const entries: Entry[] = []
    let bytes = 0
    for (; index < keys.length; index++) {
      const key = keys[index]!
      if (scan.upper !== undefined && key >= scan.upper) return { entries }
      if (entries.length === scan.limit || bytes >= PAGE_BYTES) {
        return { entries, cursor: entries[entries.length - 1]!.key }
      }
      const record = keyspace.records.get(key)!
      const value = verified(scan.namespace, key, record)
      entries.push({ key, value })
      bytes += entryBytes(key, value)
    }
    return { entries }
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private ensureOpen(operation: string): void {
    if (this.closed) throw storageClosed(operation, 'the memory storage')
  }
}

function verified(namespace: Namespace, key: string, record: StoredRecord): Uint8Array {
  if (recordChecksum(key, record.bytes) !== record.checksum) {
    throw corruptRecord('memory storage', namespace, key)
  }
  return record.bytes.slice()
}
