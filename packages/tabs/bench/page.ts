// The browser half of the tabs bench: bundled by tabs.bench.ts (with the tab worker) and run in
// Chromium. Tabs are module workers (test/tab.worker.ts, driven through test/worker-tab.ts), each
// with its own Web Locks client, BroadcastChannel and IndexedDB connection; terminating one is a
// crash. Every call opens tabs on a fresh space and database, and deletes the database after.
// Timestamps are `performance.timeOrigin + performance.now()`, taken in the workers (and, for a
// crash, in the page), which compare across the workers of one page.
import { deleteIdbStorage } from '@mendsync/storage-idb'
import { now, type Timed, WorkerTab, type WorkerTabEvent } from '../test/worker-tab.js'

export interface LatencyConfig {
  /** Measured writes, one after another, each by the next tab in turn (leader, then followers). */
  readonly writes: number
  /** Writes made first and not measured. */
  readonly warmupWrites: number
}

export interface CrashResult {
  /** Leader worker terminated → the next tab reports role 'leader' (its replica open), in ms. */
  readonly handover: number
  /** Leader worker terminated → a write a follower made at that moment is acknowledged, in ms. */
  readonly write: number
}

const TABS = 3
/** Writes through every tab before a handover, so the replica and the channel are warm. */
const HANDOVER_WARMUP_WRITES = 12
const EVENT_TIMEOUT_MS = 5_000

interface Session {
  readonly tabs: WorkerTab[]
  dispose(): Promise<void>
}

let sessions = 0

/** Opens `count` tabs on a fresh space, one after another: the first leads, in queue order. */
async function openSession(count: number): Promise<Session> {
  const space = `tabs-bench-${Date.now()}-${++sessions}-${Math.random().toString(36).slice(2)}`
  const dbName = `mendsync-bench:${space}`
  const tabs: WorkerTab[] = []
  const dispose = async () => {
    for (const tab of tabs) tab.terminate()
    // The terminated workers' connections close on their own; the deletion waits for them.
    await deleteIdbStorage({ space, dbName, blockedTimeoutMs: 10_000 })
  }
  try {
    for (let i = 0; i < count; i++) {
      const tab = new WorkerTab()
      tabs.push(tab)
      const role = await tab.send({ op: 'open', space, dbName })
      const expected = i === 0 ? 'leader' : 'follower'
      if (role !== expected) throw new Error(`tab ${i} opened as ${String(role)}, not ${expected}`)
    }
  } catch (error) {
    // The opening error is the one to throw; a failing cleanup after it is only said.
    await dispose().catch((cleanup: unknown) => console.warn('tabs bench: dispose failed', cleanup))
    throw error
  }
  return { tabs, dispose }
}

const isChange = (key: string) => (event: WorkerTabEvent) =>
  event.event === 'change' && event.key === key
const isLeader = (event: WorkerTabEvent) => event.event === 'role' && event.role === 'leader'

async function lines(tab: WorkerTab, key: string): Promise<[string, number][]> {
  return await tab.send<[string, number][]>({ op: 'lines', key })
}

/**
 * The change latency: each write, from just before the writing tab calls `cart.add` to the
 * subscriber event in each other tab, in ms (two samples per write with three tabs).
 */
export async function changeLatency(config: LatencyConfig): Promise<number[]> {
  const { tabs, dispose } = await openSession(TABS)
  try {
    const samples: number[] = []
    const total = config.warmupWrites + config.writes
    for (let i = 0; i < total; i++) {
      const writer = tabs[i % TABS]!
      const key = `latency/${i}`
      const others = tabs.filter((tab) => tab !== writer)
      const [timed, ...arrived] = await Promise.all([
        writer.send<Timed>({ op: 'add', key, sku: 'apple', qty: 1 }),
        ...others.map((tab) => tab.next(isChange(key), EVENT_TIMEOUT_MS)),
      ])
      if (i < config.warmupWrites) continue
      for (const event of arrived) samples.push(event.at - timed!.startedAt)
    }
    // Every tab reads the same data: each write is there once.
    const last = `latency/${total - 1}`
    for (const tab of tabs) {
      const got = JSON.stringify(await lines(tab, last))
      if (got !== '[["apple",1]]') throw new Error(`tab reads ${got} at ${last}`)
    }
    return samples
  } finally {
    await dispose()
  }
}

/** Writes `HANDOVER_WARMUP_WRITES` apples to `cart`, each by the next tab in turn. */
async function warmUp(tabs: WorkerTab[]): Promise<void> {
  for (let i = 0; i < HANDOVER_WARMUP_WRITES; i++) {
    await tabs[i % tabs.length]!.send({ op: 'add', key: 'cart', sku: 'apple', qty: 1 })
  }
}

async function expectLines(tab: WorkerTab, expected: [string, number][]): Promise<void> {
  const got = JSON.stringify(await lines(tab, 'cart'))
  if (got !== JSON.stringify(expected)) {
    throw new Error(`cart reads ${got}, expected ${JSON.stringify(expected)}`)
  }
}

/** The leader worker is terminated (a crash); the second tab takes over. */
export async function handoverAfterCrash(): Promise<CrashResult> {
  const { tabs, dispose } = await openSession(TABS)
  try {
    const [a, b, c] = tabs as [WorkerTab, WorkerTab, WorkerTab]
    await warmUp(tabs)
    const promoted = b.next(isLeader, EVENT_TIMEOUT_MS)
    const diedAt = now()
    a.terminate()
    // c writes at once: its call waits for the next leader (or is re-sent to it).
    const [role, timed] = await Promise.all([
      promoted,
      c.send<Timed>({ op: 'add', key: 'cart', sku: 'pear', qty: 1 }),
    ])
    // Nothing lost or applied twice in the handover.
    const expected: [string, number][] = [
      ['apple', HANDOVER_WARMUP_WRITES],
      ['pear', 1],
    ]
    await expectLines(b, expected)
    await expectLines(c, expected)
    return { handover: role.at - diedAt, write: timed.doneAt - diedAt }
  } finally {
    await dispose()
  }
}

/** The leader tab calls close(); the second tab takes over. In ms from the call. */
export async function handoverAfterClose(): Promise<number> {
  const { tabs, dispose } = await openSession(TABS)
  try {
    const [a, b, c] = tabs as [WorkerTab, WorkerTab, WorkerTab]
    await warmUp(tabs)
    const promoted = b.next(isLeader, EVENT_TIMEOUT_MS)
    const [closed, role] = await Promise.all([a.send<Timed>({ op: 'close' }), promoted])
    // The data stayed, and writes go on through the new leader.
    await c.send({ op: 'add', key: 'cart', sku: 'pear', qty: 1 })
    await expectLines(b, [
      ['apple', HANDOVER_WARMUP_WRITES],
      ['pear', 1],
    ])
    return role.at - closed.startedAt
  } finally {
    await dispose()
  }
}

/** The bench's IndexedDB databases still there (none, once every call has cleaned up). */
export async function leftoverDatabases(): Promise<string[]> {
  const databases = await indexedDB.databases()
  return databases.flatMap(({ name }) =>
    name?.startsWith('mendsync-bench:tabs-bench-') ? [name] : [],
  )
}

declare global {
  interface Window {
    mendsyncTabsBench?: {
      changeLatency: typeof changeLatency
      handoverAfterCrash: typeof handoverAfterCrash
      handoverAfterClose: typeof handoverAfterClose
      leftoverDatabases: typeof leftoverDatabases
    }
  }
}

window.mendsyncTabsBench = {
  changeLatency,
  handoverAfterCrash,
  handoverAfterClose,
  leftoverDatabases,
}
