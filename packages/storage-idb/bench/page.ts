// The browser half of the IndexedDB bench: bundled by storage.bench.ts and run in Chromium.
// One call measures one figure: the adapter and a raw `idb` baseline on the same bytes, in
// alternating order, `runs` times each; returns the ops/s of every run.
import type { Storage } from '@mendsync/replica'
import { deleteDB, type IDBPDatabase, openDB } from 'idb'
import { deleteIdbStorage, openIdbStorage } from '../src/index.js'

export interface FigureConfig {
  readonly op: 'write' | 'read'
  readonly valueBytes: number
  readonly batch: number
  /** Records written (or read) per run. */
  readonly records: number
  readonly runs: number
}

export interface FigureResult {
  readonly adapter: number[]
  readonly baseline: number[]
}

const STORE = 'values'

function makeValues(count: number, size: number, seed: number): Uint8Array[] {
  const values: Uint8Array[] = []
  let x = seed >>> 0 || 1
  for (let i = 0; i < count; i++) {
    const value = new Uint8Array(size)
    for (let j = 0; j < size; j++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      value[j] = x & 0xff
    }
    values.push(value)
  }
  return values
}

function makeKeys(count: number, run: number): string[] {
  return Array.from({ length: count }, (_, i) => `r${run}/key/${String(i).padStart(7, '0')}`)
}

interface Subject {
  write(keys: string[], values: Uint8Array[]): Promise<void>
  read(keys: string[]): Promise<unknown[]>
  clear(): Promise<void>
  close(): Promise<void>
}

async function adapterSubject(dbName: string): Promise<Subject> {
  const storage: Storage = await openIdbStorage({ space: 'bench', dbName })
  return {
    write: (keys, values) =>
      storage.write({ values: keys.map((key, i) => ({ key, value: values[i]! })) }),
    read: (keys) => storage.get('values', keys),
    async clear() {
      // Not timed: erase everything through the adapter, a page at a time.
      for (;;) {
        const page = await storage.scan({ namespace: 'values', limit: 5000 })
        if (page.entries.length === 0) return
        await storage.write({ values: page.entries.map(({ key }) => ({ key, value: null })) })
      }
    },
    close: () => storage.close(),
  }
}

async function baselineSubject(dbName: string): Promise<Subject> {
  const db: IDBPDatabase = await openDB(dbName, 1, {
    upgrade(database) {
      database.createObjectStore(STORE)
    },
  })
  return {
    async write(keys, values) {
      // Same durability as the adapter's default, so both wait for the same flush.
      const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' })
      for (let i = 0; i < keys.length; i++) tx.store.put(values[i]!, keys[i]!)
      await tx.done
    },
    async read(keys) {
      const tx = db.transaction(STORE, 'readonly')
      const values = await Promise.all(keys.map((key) => tx.store.get(key)))
      await tx.done
      return values
    },
    async clear() {
      await db.clear(STORE)
    },
    async close() {
      db.close()
    },
  }
}

async function timeRun(
  subject: Subject,
  config: FigureConfig,
  keys: string[],
  values: Uint8Array[],
): Promise<number> {
  await subject.clear()
  const { batch } = config
  if (config.op === 'write') {
    const started = performance.now()
    for (let i = 0; i < keys.length; i += batch) {
      await subject.write(keys.slice(i, i + batch), values.slice(i, i + batch))
    }
    return keys.length / ((performance.now() - started) / 1000)
  }
  for (let i = 0; i < keys.length; i += 1000) {
    await subject.write(keys.slice(i, i + 1000), values.slice(i, i + 1000))
  }
  const started = performance.now()
  let found = 0
  for (let i = 0; i < keys.length; i += batch) {
    const got = await subject.read(keys.slice(i, i + batch))
    for (const value of got) if (value !== undefined) found++
  }
  const opsPerSecond = keys.length / ((performance.now() - started) / 1000)
  if (found !== keys.length) throw new Error(`read ${found} of ${keys.length} records`)
  return opsPerSecond
}

export async function runFigure(config: FigureConfig): Promise<FigureResult> {
  const tag = `${config.op}-${config.valueBytes}-${config.batch}-${Date.now()}`
  const adapterDb = `bench-adapter-${tag}`
  const baselineDb = `bench-raw-${tag}`
  const adapter = await adapterSubject(adapterDb)
  const baseline = await baselineSubject(baselineDb)
  const result: FigureResult = { adapter: [], baseline: [] }
  try {
    // One warm-up run each, then `runs` measured ones, alternating which goes first.
    for (let run = -1; run < config.runs; run++) {
      const keys = makeKeys(config.records, run + 1)
      const values = makeValues(config.records, config.valueBytes, run + 7)
      const order: ['adapter' | 'baseline', Subject][] =
        run % 2 === 0
          ? [
              ['adapter', adapter],
              ['baseline', baseline],
            ]
          : [
              ['baseline', baseline],
              ['adapter', adapter],
            ]
      for (const [name, subject] of order) {
        const opsPerSecond = await timeRun(subject, config, keys, values)
        if (run >= 0) result[name].push(opsPerSecond)
      }
    }
  } finally {
    await adapter.close()
    await baseline.close()
    await deleteIdbStorage({ space: 'bench', dbName: adapterDb })
    await deleteDB(baselineDb)
  }
  return result
}

declare global {
  interface Window {
    mendsyncBench?: { runFigure: typeof runFigure }
  }
}

window.mendsyncBench = { runFigure }
