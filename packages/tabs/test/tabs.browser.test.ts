// The tabs in real Chromium (vitest browser mode): module workers stand in for tabs of one
// profile, each with its own Web Locks client, BroadcastChannel and IndexedDB connection, all on
// the browser's real implementations. Terminating a worker is a crash: the browser releases its
// lock; none of our code runs.

import { deleteIdbStorage } from '@mendsync/storage-idb'
import { afterEach, describe, expect, it } from 'vitest'
import type { TabCommand, TabEvent } from './tab.worker.js'

type Event = Exclude<TabEvent, { event: 'reply' }>

class WorkerTab {
  readonly #worker = new Worker(new URL('./tab.worker.ts', import.meta.url), { type: 'module' })
  readonly #replies = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  readonly events: Event[] = []
  readonly #waiters = new Set<() => void>()
  #seq = 0

  constructor() {
    this.#worker.onmessage = (message: MessageEvent<TabEvent>) => {
      const data = message.data
      if (data.event === 'reply') {
        const reply = this.#replies.get(data.seq)
        this.#replies.delete(data.seq)
        if (data.ok) reply?.resolve(data.value)
        else reply?.reject(new Error(data.error))
        return
      }
      this.events.push(data)
      for (const wake of [...this.#waiters]) wake()
    }
  }

  send(command: TabCommand): Promise<unknown> {
    const seq = ++this.#seq
    return new Promise((resolve, reject) => {
      this.#replies.set(seq, { resolve, reject })
      this.#worker.postMessage({ seq, command })
    })
  }

  /** Resolves with the first event (past or future) that matches, or fails after `timeoutMs`. */
  next(match: (event: Event) => boolean, timeoutMs = 5_000): Promise<Event> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match)
        if (found === undefined) return
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(
          new Error(`no matching event within ${timeoutMs} ms: ${JSON.stringify(this.events)}`),
        )
      }, timeoutMs)
      this.#waiters.add(check)
      check()
    })
  }

  terminate(): void {
    this.#worker.terminate()
  }
}

const now = () => performance.timeOrigin + performance.now()
const opened: WorkerTab[] = []
const databases: { space: string; dbName: string }[] = []

async function openTabs(count: number): Promise<{ tabs: WorkerTab[]; space: string }> {
  const space = `tabs-${Math.random().toString(36).slice(2)}`
  const dbName = `mendsync-test:${space}`
  databases.push({ space, dbName })
  const tabs: WorkerTab[] = []
  for (let i = 0; i < count; i++) {
    const tab = new WorkerTab()
    opened.push(tab)
    // One after another, so the first is the leader and the queue order is known.
    expect(await tab.send({ op: 'open', space, dbName })).toBe(i === 0 ? 'leader' : 'follower')
    tabs.push(tab)
  }
  return { tabs, space }
}

afterEach(async () => {
  for (const tab of opened.splice(0)) tab.terminate()
  for (const database of databases.splice(0)) await deleteIdbStorage(database)
})

describe('tabs in Chromium (Web Locks, BroadcastChannel, IndexedDB)', () => {
  it("reaches every other tab's subscribers within 100 ms of a write", async () => {
    const {
      tabs: [a, b, c],
    } = await openTabs(3)
    const started = now()
    await c!.send({ op: 'add', key: 'cart', sku: 'apple', qty: 2 })
    const [inA, inB] = await Promise.all([
      a!.next((event) => event.event === 'change'),
      b!.next((event) => event.event === 'change'),
    ])
    for (const event of [inA, inB]) {
      expect(event.event === 'change' && event.at - started).toBeLessThan(100)
    }
    expect(await b!.send({ op: 'lines', key: 'cart' })).toEqual([['apple', 2]])
  })

  it('hands over within 2 s when the leader tab dies, losing and doubling no write', async () => {
    const {
      tabs: [a, b, c],
    } = await openTabs(3)
    await c!.send({ op: 'add', key: 'cart', sku: 'apple', qty: 1 })
    const writes = Array.from({ length: 10 }, () =>
      c!.send({ op: 'add', key: 'cart', sku: 'pear', qty: 1 }),
    )
    await writes[0]
    const died = now()
    a!.terminate()
    const promoted = await b!.next((event) => event.event === 'role' && event.role === 'leader')
    expect(promoted.event === 'role').toBe(true)
    expect(now() - died).toBeLessThan(2_000)
    await Promise.all(writes)
    await c!.send({ op: 'add', key: 'cart', sku: 'plum', qty: 3 })
    expect(await c!.send({ op: 'lines', key: 'cart' })).toEqual([
      ['apple', 1],
      ['pear', 10],
      ['plum', 3],
    ])
    expect(await b!.send({ op: 'lines', key: 'cart' })).toEqual([
      ['apple', 1],
      ['pear', 10],
      ['plum', 3],
    ])
  })

  it('hands over on a clean close and keeps the data', async () => {
    const {
      tabs: [a, b],
    } = await openTabs(2)
    await b!.send({ op: 'add', key: 'cart', sku: 'fig', qty: 4 })
    await a!.send({ op: 'close' })
    await b!.next((event) => event.event === 'role' && event.role === 'leader')
    expect(await b!.send({ op: 'lines', key: 'cart' })).toEqual([['fig', 4]])
  })
})
