import { MendsyncError } from '@mendsync/core'
import {
  assertNamespace,
  corruptRecord,
  type Entry,
  MIN_SCAN_PAGE_BYTES,
  type Namespace,
  type PreparedMutation,
  prepareBatch,
  prepareKeys,
  prepareScan,
  recordChecksum,
  type ScanOptions,
  type ScanPage,
  type Storage,
  storageClosed,
  type WriteBatch,
} from '@mendsync/replica/adapter'
import { deleteDB, type IDBPDatabase, openDB, unwrap } from 'idb'

/**
 * Version of the database schema this adapter creates and expects: two object stores, `values`
 * and `meta`, out-of-line string keys, records `{ v: Uint8Array, c: CRC-32 }`.
 */
export const IDB_SCHEMA_VERSION = 1

/** The object stores, one per {@link Namespace}. */
const STORES: readonly Namespace[] = ['values', 'meta']

/** Default of {@link IdbStorageOptions.blockedTimeoutMs}. */
export const DEFAULT_BLOCKED_TIMEOUT_MS = 10_000

/** Why a storage closed without its owner calling `close()`. */
export interface ForcedClose {
  /**
   * `upgrade`: another connection opened the database at a higher version (newer code in
   * another tab). `delete`: another connection deleted the database. `terminated`: the browser
   * closed the connection (site data cleared, storage evicted, I/O failure).
   */
  readonly reason: 'upgrade' | 'delete' | 'terminated'
  /** The version the other connection asked for, on `upgrade`. */
  readonly newVersion?: number
  /** The text that later calls reject with (`STORAGE_CLOSED`). */
  readonly message: string
}

/** Options of {@link openIdbStorage}. */
export interface IdbStorageOptions {
  /** The space this storage holds. Required, non-empty. Names the database unless `dbName` is set. */
  readonly space: string
  /** Name of the IndexedDB database. Default: {@link defaultIdbName}(space), i.e. `mendsync:<space>`. */
  readonly dbName?: string
  /**
   * Durability hint of every write transaction. Default `'strict'`: the transaction's `complete`
   * event, and so the write's promise, waits until the browser has had the OS flush it to disk.
   * `'relaxed'` completes once the data is handed to the OS (much faster; a power failure may
   * lose the last writes, but never tears a batch). `'default'` is the browser's choice, relaxed
   * in current Chromium (since 121), Firefox and Safari. A browser that does not know the hint
   * ignores it.
   */
  readonly durability?: IDBTransactionDurability
  /**
   * How long opening waits, in milliseconds, before failing with `STORAGE_BLOCKED`: an upgrade
   * or deletion by another connection that does not close holds an open back. Default
   * {@link DEFAULT_BLOCKED_TIMEOUT_MS} (10 s). A connection that arrives after the timeout is
   * closed at once.
   */
  readonly blockedTimeoutMs?: number
  /**
   * Called once when the storage closes itself because another connection upgraded or deleted
   * the database, or the browser terminated the connection. Default: none. After it, every call
   * fails with `STORAGE_CLOSED`; open a new storage (in a page: reload it) to continue.
   */
  readonly onForcedClose?: (info: ForcedClose) => void
}

/** Options of {@link deleteIdbStorage}. */
export interface DeleteIdbStorageOptions {
  /** The space whose database to delete (used to name it unless `dbName` is set). */
  readonly space: string
  /** Name of the database. Default: {@link defaultIdbName}(space). */
  readonly dbName?: string
  /** As {@link IdbStorageOptions.blockedTimeoutMs}; default 10 s. */
  readonly blockedTimeoutMs?: number
}

/** The database name a space gets by default: `mendsync:<space>`. */
export function defaultIdbName(space: string): string {
  return `mendsync:${space}`
}

/** One stored record: the value and the CRC-32 of key + value. */
interface StoredRecord {
  readonly v: Uint8Array
  readonly c: number
}

/**
 * Opens (creating when needed) the IndexedDB database of a space as a {@link Storage}.
 *
 * - One database per space, two object stores (`values`, `meta`); each `write` is one
 *   readwrite transaction over the stores it touches, with durability `'strict'` by default.
 * - Each record keeps its value with a CRC-32 of key and value; a mismatch fails the read with
 *   `STORAGE_CORRUPT` naming the database, store and key.
 * - When another connection (another tab) upgrades or deletes the database, this storage closes
 *   its connection at once so the other side never waits on it; transactions already started
 *   still commit, later calls fail with `STORAGE_CLOSED` (see `onForcedClose`).
 * - An open held back by another connection fails with `STORAGE_BLOCKED` after
 *   `blockedTimeoutMs` instead of hanging.
 */
export async function openIdbStorage(options: IdbStorageOptions): Promise<Storage> {
  const settings = resolveOptions(options)
  const { dbName, blockedTimeoutMs } = settings
  requireIndexedDb(dbName)

  const holder: { storage?: IdbStorage } = {}
  const onForcedClose = (db: IDBDatabase, info: Omit<ForcedClose, 'message'>) => {
    if (holder.storage) holder.storage.forceClose(info)
    else db.close()
  }
  let timedOut = false
  let blocked = false
  const opening = openDB(dbName, IDB_SCHEMA_VERSION, {
    upgrade(database) {
      for (const store of STORES) {
        if (!database.objectStoreNames.contains(store)) database.createObjectStore(store)
      }
    },
    blocked() {
      blocked = true
    },
    blocking(_currentVersion, blockedVersion, event) {
      onForcedClose(event.target as IDBDatabase, {
        reason: blockedVersion === null ? 'delete' : 'upgrade',
        ...(blockedVersion === null ? {} : { newVersion: blockedVersion }),
      })
    },
    terminated() {
      holder.storage?.forceClose({ reason: 'terminated' })
    },
  })
  // A connection that arrives after the timeout is not wanted any more: close it so it blocks no one.
  opening.then(
    (db) => {
      if (timedOut) db.close()
    },
    () => {},
  )

  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      reject(
        new MendsyncError(
          'STORAGE_BLOCKED',
          `opening IndexedDB database '${dbName}' did not finish within ${blockedTimeoutMs} ms: ` +
            (blocked
              ? 'another connection to it (another tab) does not close for the upgrade; close that tab'
              : 'it waits for another connection (another tab) to finish upgrading or deleting it') +
            ', then try again',
        ),
      )
    }, blockedTimeoutMs)
  })

  let db: IDBPDatabase
  try {
    db = await Promise.race([opening, timeout])
  } catch (error) {
    if (error instanceof MendsyncError) throw error
    throw openError(dbName, error)
  } finally {
    clearTimeout(timer)
  }

  const raw = unwrap(db) as IDBDatabase
  for (const store of STORES) {
    if (!raw.objectStoreNames.contains(store)) {
      raw.close()
      throw new MendsyncError(
        'STORAGE_CORRUPT',
        `IndexedDB database '${dbName}' (version ${raw.version}) has no object store '${store}': ` +
          'it was not created by mendsync; pass another dbName or delete it',
      )
    }
  }
  const storage = new IdbStorage(raw, settings)
  holder.storage = storage
  return storage
}

/**
 * Deletes the database of a space (all its records). Storages open on it in this or other tabs
 * close themselves (later calls fail with `STORAGE_CLOSED`). Fails with `STORAGE_BLOCKED` when a
 * connection that does not close holds the deletion back longer than `blockedTimeoutMs`; the
 * deletion then still happens once that connection closes.
 */
export async function deleteIdbStorage(options: DeleteIdbStorageOptions): Promise<void> {
  const { dbName, blockedTimeoutMs } = resolveOptions(options)
  requireIndexedDb(dbName)
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new MendsyncError(
          'STORAGE_BLOCKED',
          `deleting IndexedDB database '${dbName}' did not finish within ${blockedTimeoutMs} ms: ` +
            'another connection to it (another tab) does not close; the deletion happens once it does',
        ),
      )
    }, blockedTimeoutMs)
  })
  const deleting = deleteDB(dbName)
  deleting.catch(() => {})
  try {
    await Promise.race([deleting, timeout])
  } catch (error) {
    if (error instanceof MendsyncError) throw error
    throw new MendsyncError(
      'STORAGE_FAILURE',
      `deleting IndexedDB database '${dbName}' failed: ${errorText(error)}`,
      { cause: error },
    )
  } finally {
    clearTimeout(timer)
  }
}

interface Settings {
  readonly dbName: string
  readonly durability: IDBTransactionDurability
  readonly blockedTimeoutMs: number
  readonly onForcedClose: ((info: ForcedClose) => void) | undefined
}

function resolveOptions(options: IdbStorageOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new MendsyncError('INVALID_ARGUMENT', 'IndexedDB storage options must be an object')
  }
  const { space, dbName, durability = 'strict', blockedTimeoutMs, onForcedClose } = options
  if (typeof space !== 'string' || space.length === 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'IndexedDB storage: space must be a non-empty string',
    )
  }
  if (dbName !== undefined && (typeof dbName !== 'string' || dbName.length === 0)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'IndexedDB storage: dbName must be a non-empty string',
    )
  }
  if (durability !== 'strict' && durability !== 'relaxed' && durability !== 'default') {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `IndexedDB storage: durability must be 'strict', 'relaxed' or 'default', got ${String(durability)}`,
    )
  }
  const timeout = blockedTimeoutMs ?? DEFAULT_BLOCKED_TIMEOUT_MS
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'IndexedDB storage: blockedTimeoutMs must be a finite number of milliseconds >= 0',
    )
  }
  if (onForcedClose !== undefined && typeof onForcedClose !== 'function') {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'IndexedDB storage: onForcedClose must be a function',
    )
  }
  return {
    dbName: dbName ?? defaultIdbName(space),
    durability,
    blockedTimeoutMs: timeout,
    onForcedClose,
  }
}

function requireIndexedDb(dbName: string): void {
  if (typeof indexedDB === 'undefined') {
    throw new MendsyncError(
      'STORAGE_FAILURE',
      `cannot open IndexedDB database '${dbName}': IndexedDB is not available in this environment ` +
        "(under Node, import 'fake-indexeddb/auto' first)",
    )
  }
}

function openError(dbName: string, error: unknown): MendsyncError {
  if (error instanceof DOMException && error.name === 'VersionError') {
    return new MendsyncError(
      'STORAGE_FAILURE',
      `IndexedDB database '${dbName}' has a newer schema than this mendsync (version ` +
        `${IDB_SCHEMA_VERSION}); it was upgraded by newer code: load that version (reload the page)`,
      { cause: error },
    )
  }
  return new MendsyncError(
    'STORAGE_FAILURE',
    `opening IndexedDB database '${dbName}' failed: ${errorText(error)}`,
    { cause: error },
  )
}

function errorText(error: unknown): string {
  if (error instanceof Error || error instanceof DOMException)
    return `${error.name}: ${error.message}`
  return String(error)
}

/** Resolves when `tx` commits; rejects with its error when it aborts. */
function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'))
  })
}

/** A plain `Uint8Array` over exactly its own bytes, so that IndexedDB clones no more than them. */
function ownBytes(value: Uint8Array): Uint8Array {
  if (
    value.constructor === Uint8Array &&
    value.byteOffset === 0 &&
    value.byteLength === value.buffer.byteLength &&
    value.buffer instanceof ArrayBuffer
  ) {
    return value
  }
  return new Uint8Array(value)
}

/**
 * Bytes of keys and values past which a scan page ends before its `limit`, to bound memory (the
 * contract allows it from MIN_SCAN_PAGE_BYTES on). A page can exceed it by one chunk of records.
 */
const PAGE_BYTES = 4 * MIN_SCAN_PAGE_BYTES
/** Records a scan fetches in its first round trip; later ones size themselves on the bytes seen. */
const FIRST_CHUNK = 4

function keyRange(
  lower: string | undefined,
  lowerOpen: boolean,
  upper: string | undefined,
): IDBKeyRange | undefined {
  if (lower !== undefined && upper !== undefined) {
    return IDBKeyRange.bound(lower, upper, lowerOpen, true)
  }
  if (lower !== undefined) return IDBKeyRange.lowerBound(lower, lowerOpen)
  if (upper !== undefined) return IDBKeyRange.upperBound(upper, true)
  return undefined
}

class IdbStorage implements Storage {
  readonly #db: IDBDatabase
  readonly #settings: Settings
  /** Names the database in messages. */
  readonly #where: string
  /** Set once closed by the owner (`undefined`) or by another connection (the reason). */
  #closed: { readonly forcedMessage?: string } | undefined
  /** Calls not yet settled; close() waits for them. */
  readonly #pending = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(db: IDBDatabase, settings: Settings) {
    this.#db = db
    this.#settings = settings
    this.#where = `IndexedDB database '${settings.dbName}'`
  }

  get(namespace: Namespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.#track('get', () => {
      assertNamespace(namespace, 'get')
      const checked = prepareKeys(keys)
      if (checked.length === 0) return Promise.resolve([])
      const tx = this.#transaction('get', [namespace], 'readonly')
      const store = tx.objectStore(namespace)
      const records: unknown[] = new Array(checked.length)
      for (let i = 0; i < checked.length; i++) {
        const request = store.get(checked[i]!)
        request.onsuccess = () => {
          records[i] = request.result
        }
      }
      return this.#settle('get', tx, () => {
        const values: (Uint8Array | undefined)[] = new Array(checked.length)
        for (let i = 0; i < checked.length; i++) {
          const record = records[i]
          values[i] =
            record === undefined ? undefined : this.#verify(namespace, checked[i]!, record)
        }
        return values
      })
    })
  }

  write(batch: WriteBatch): Promise<void> {
    return this.#track('write', () => {
      // No copy here: every value is cloned by IndexedDB (or copied by ownBytes) before write()
      // returns, which is the copy the contract asks for.
      const prepared = prepareBatch(batch, { copyValues: false })
      if (prepared.size === 0) return Promise.resolve()
      const changes: [Namespace, readonly PreparedMutation[]][] = []
      if (prepared.values.length > 0) changes.push(['values', prepared.values])
      if (prepared.meta.length > 0) changes.push(['meta', prepared.meta])

      const tx = this.#transaction(
        'write',
        changes.map(([namespace]) => namespace),
        'readwrite',
        // A relaxed batch may relax a strict storage; a strict batch never tightens a storage
        // opened relaxed (its owner chose that for every write).
        prepared.durability === 'relaxed' ? 'relaxed' : this.#settings.durability,
      )
      try {
        for (const [namespace, mutations] of changes) {
          const store = tx.objectStore(namespace)
          for (const { key, value } of mutations) {
            if (value === null) {
              store.delete(key)
            } else {
              const v = ownBytes(value)
              store.put({ v, c: recordChecksum(key, v) } satisfies StoredRecord, key)
            }
          }
        }
      } catch (error) {
        // A request could not even be queued (e.g. DataCloneError): undo the whole batch.
        try {
          tx.abort()
        } catch {
          // already finished
        }
        return Promise.reject(this.#failure('write', error))
      }
      return this.#settle('write', tx, () => undefined)
    })
  }

  scan(options: ScanOptions): Promise<ScanPage> {
    return this.#track<ScanPage>('scan', () => {
      const scan = prepareScan(options)
      if (scan.empty) return Promise.resolve({ entries: [] })
      const { namespace, limit, upper } = scan
      const tx = this.#transaction('scan', [namespace], 'readonly')
      const store = tx.objectStore(namespace)
      const entries: Entry[] = []
      let bytes = 0
      let more = false
      let corrupt: MendsyncError | undefined
      // Chunks of getAll, each from the last key of the one before, within one transaction, until
      // the page has `limit` entries or PAGE_BYTES. One key more than asked tells whether more follow.
      const fetch = (lower: string | undefined, lowerOpen: boolean, count: number) => {
        const range = keyRange(lower, lowerOpen, upper)
        const keysRequest = store.getAllKeys(range, count + 1)
        const valuesRequest = store.getAll(range, count)
        valuesRequest.onsuccess = () => {
          const keys = keysRequest.result as string[]
          const records = valuesRequest.result
          try {
            for (let i = 0; i < records.length; i++) {
              const key = keys[i]!
              const value = this.#verify(namespace, key, records[i])
              entries.push({ key, value })
              bytes += key.length * 2 + value.byteLength
            }
          } catch (error) {
            corrupt = error as MendsyncError
            return
          }
          if (keys.length <= count) return
          if (entries.length >= limit || bytes >= PAGE_BYTES) {
            more = true
            return
          }
          const perEntry = Math.max(1, bytes / entries.length)
          const cap = Math.min(limit - entries.length, Math.max(FIRST_CHUNK, 4 * entries.length))
          const next = Math.min(cap, Math.max(1, Math.ceil((PAGE_BYTES - bytes) / perEntry)))
          fetch(entries[entries.length - 1]!.key, true, next)
        }
      }
      fetch(scan.lower, scan.lowerOpen, Math.min(limit, FIRST_CHUNK))
      return this.#settle('scan', tx, (): ScanPage => {
        if (corrupt !== undefined) throw corrupt
        return more ? { entries, cursor: entries[entries.length - 1]!.key } : { entries }
      })
    })
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed ??= {}
    this.#closing = Promise.allSettled([...this.#pending]).then(() => {
      this.#db.close()
    })
    return this.#closing
  }

  /**
   * Closes the connection because another one needs it gone (versionchange) or the browser
   * dropped it. Transactions already created still commit; later calls fail with STORAGE_CLOSED.
   */
  forceClose(info: Omit<ForcedClose, 'message'>): void {
    const why =
      info.reason === 'upgrade'
        ? `another connection (another tab) upgraded it to version ${info.newVersion}`
        : info.reason === 'delete'
          ? 'another connection (another tab) deleted it'
          : 'the browser terminated the connection (site data cleared or storage failure)'
    const message = `${this.#where} was closed because ${why}; open it again (in a page: reload) to continue`
    const first = this.#closed === undefined
    this.#closed ??= { forcedMessage: message }
    // Close now, not after pending calls: their transactions exist and finish regardless, and
    // waiting would hold the other connection's upgrade back.
    this.#db.close()
    this.#closing ??= Promise.allSettled([...this.#pending]).then(() => {})
    if (first && this.#settings.onForcedClose !== undefined) {
      try {
        this.#settings.onForcedClose({ ...info, message })
      } catch (error) {
        // The callback's failure is the application's: report it without disturbing the close.
        setTimeout(() => {
          throw error
        })
      }
    }
  }

  #closedError(operation: string): MendsyncError {
    const forced = this.#closed?.forcedMessage
    return forced === undefined
      ? storageClosed(operation, this.#where)
      : new MendsyncError('STORAGE_CLOSED', `${operation}: ${forced}`)
  }

  /** Runs `operation` unless closed, turning synchronous throws into rejections; tracks it. */
  #track<T>(name: string, operation: () => Promise<T>): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(this.#closedError(name))
    let promise: Promise<T>
    try {
      promise = operation()
    } catch (error) {
      return Promise.reject(error)
    }
    this.#pending.add(promise)
    const forget = () => this.#pending.delete(promise)
    promise.then(forget, forget)
    return promise
  }

  #transaction(
    operation: string,
    stores: Namespace[],
    mode: IDBTransactionMode,
    durability: IDBTransactionDurability = this.#settings.durability,
  ): IDBTransaction {
    try {
      return mode === 'readwrite'
        ? this.#db.transaction(stores, mode, { durability })
        : this.#db.transaction(stores, mode)
    } catch (error) {
      throw this.#failure(operation, error)
    }
  }

  async #settle<T>(operation: string, tx: IDBTransaction, result: () => T): Promise<T> {
    try {
      await transactionDone(tx)
    } catch (error) {
      throw this.#failure(operation, error)
    }
    return result()
  }

  #failure(operation: string, error: unknown): MendsyncError {
    if (error instanceof MendsyncError) return error
    if (error instanceof DOMException && error.name === 'InvalidStateError') {
      const closed = this.#closedError(operation)
      return new MendsyncError('STORAGE_CLOSED', closed.message, { cause: error })
    }
    if (error instanceof DOMException && error.name === 'QuotaExceededError') {
      return new MendsyncError(
        'STORAGE_FAILURE',
        `${operation}: ${this.#where} is out of storage quota; free space or ask for persistent ` +
          'storage (navigator.storage.persist()). Nothing of this call was stored.',
        { cause: error },
      )
    }
    return new MendsyncError(
      'STORAGE_FAILURE',
      `${operation}: ${this.#where} failed (${errorText(error)})` +
        (operation === 'write' ? '; nothing of the batch was stored' : ''),
      { cause: error },
    )
  }

  #verify(namespace: Namespace, key: string, record: unknown): Uint8Array {
    if (typeof record === 'object' && record !== null) {
      const { v, c } = record as Partial<StoredRecord>
      if (!(v instanceof Uint8Array) || typeof c !== 'number') {
        throw corruptRecord(this.#where, namespace, key, 'the record is malformed')
      }
      if (recordChecksum(key, v) === c) return v
      throw corruptRecord(this.#where, namespace, key)
    }
    throw corruptRecord(this.#where, namespace, key, 'the record is malformed')
  }
}
