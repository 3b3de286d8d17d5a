// The storage test harness for IndexedDB, shared by the Node (fake-indexeddb) and the Chromium
// test files: a fresh database per test, `corrupt` damages bytes through a raw connection.
import type { Namespace, Storage } from '@mendsync/replica/adapter'
import type { StorageTestHarness } from '@mendsync/replica/testing'
import { openDB } from 'idb'
import { deleteIdbStorage, type IdbStorageOptions, openIdbStorage } from '../src/index.js'

let databases = 0

/** A database name no other test uses, also across reruns in one browser profile. */
export function uniqueDbName(label = 'test'): string {
  databases += 1
  return `mendsync-${label}-${Date.now().toString(36)}-${databases}-${Math.random().toString(36).slice(2, 8)}`
}

/** A harness that also tells its database's name. */
export interface IdbTestHarness extends StorageTestHarness {
  readonly dbName: string
}

/** Harness over its own database; `options` go to every `openIdbStorage` call. */
export function idbSetup(options: Partial<IdbStorageOptions> = {}): () => Promise<IdbTestHarness> {
  return async () => {
    const dbName = uniqueDbName()
    const opened: Storage[] = []
    const open = async () => {
      const storage = await openIdbStorage({ space: 'test', dbName, ...options })
      opened.push(storage)
      return storage
    }
    let current = await open()
    const harness: IdbTestHarness = {
      dbName,
      storage: current,
      async reopen() {
        await current.close()
        current = await open()
        return current
      },
      async corrupt(namespace: Namespace, key: string) {
        await corruptRecord(dbName, namespace, key)
        return current
      },
      injectWriteFailure(namespace: Namespace, key: string) {
        armWriteFailure(dbName, namespace, key)
      },
      async teardown() {
        faults.delete(dbName)
        await Promise.all(opened.map((storage) => storage.close()))
        await deleteIdbStorage({ space: 'test', dbName, blockedTimeoutMs: 5_000 })
      },
    }
    return harness
  }
}

/** Armed one-shot faults, by database name. */
const faults = new Map<string, { namespace: Namespace; key: string }>()

/**
 * Arms a one-shot fault: the next put or delete of `key` in store `namespace` of database
 * `dbName` makes its transaction fail there, asynchronously, as a disk error would: the mutation
 * is followed by an `add` of the same key, which fails with ConstraintError and aborts the
 * transaction. Works by wrapping IDBObjectStore.prototype (once), so the adapter under test
 * runs unchanged.
 */
function armWriteFailure(dbName: string, namespace: Namespace, key: string) {
  installFaultHook()
  faults.set(dbName, { namespace, key })
}

let hookInstalled = false

function installFaultHook() {
  if (hookInstalled) return
  hookInstalled = true
  const proto = IDBObjectStore.prototype
  const { put, delete: erase, add } = proto
  const trip = (store: IDBObjectStore, key: IDBValidKey | IDBKeyRange | undefined) => {
    const fault = faults.get(store.transaction.db.name)
    if (fault === undefined || fault.namespace !== store.name || fault.key !== key) return false
    faults.delete(store.transaction.db.name)
    return true
  }
  proto.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    const request = put.call(this, value, key)
    if (trip(this, key)) add.call(this, value, key)
    return request
  }
  proto.delete = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
    if (!trip(this, query)) return erase.call(this, query)
    const request = put.call(this, 0, query as IDBValidKey)
    add.call(this, 0, query as IDBValidKey)
    return request as unknown as IDBRequest<undefined>
  }
}

/**
 * Flips one stored byte of the record at `key` (or its checksum, for an empty value) through a
 * raw IndexedDB connection opened beside the storage's own, as a damaged disk would.
 */
export async function corruptRecord(dbName: string, namespace: Namespace, key: string) {
  const db = await openDB(dbName)
  try {
    const tx = db.transaction(namespace, 'readwrite')
    const record = (await tx.store.get(key)) as { v: Uint8Array; c: number } | undefined
    if (record === undefined) throw new Error(`corrupt: no record at ${namespace}/${key}`)
    if (record.v.length > 0) {
      const at = record.v.length >> 1
      record.v[at] = record.v[at]! ^ 0x5a
    } else {
      record.c = (record.c ^ 1) >>> 0
    }
    await tx.store.put(record, key)
    await tx.done
  } finally {
    db.close()
  }
}

/** Stores `record` as-is (any shape) at `key`, bypassing the adapter. */
export async function putRawRecord(
  dbName: string,
  namespace: Namespace,
  key: string,
  record: unknown,
) {
  const db = await openDB(dbName)
  try {
    await db.put(namespace, record, key)
  } finally {
    db.close()
  }
}
