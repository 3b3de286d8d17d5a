// The tabs in real Chromium (vitest browser mode): module workers stand in for tabs of one
// profile, each with its own Web Locks client, BroadcastChannel and IndexedDB connection, all on
// the browser's real implementations. Terminating a worker is a crash: the browser releases its
// lock; none of our code runs. How fast (a change reaching the other tabs, a handover) is measured
// by `pnpm bench:tabs` (bench/tabs.bench.ts), not here: timing assertions fail on a busy machine.

import { deleteIdbStorage } from '@mendsync/storage-idb'
import { afterEach, describe, expect, it } from 'vitest'
import { WorkerTab } from './worker-tab.js'

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
  // The latency is measured by `pnpm bench:tabs` (tabs.change_latency.p50/p99, target 100 ms).
  it("reaches every other tab's subscribers after a write, without the network", async () => {
    const {
      tabs: [a, b, c],
    } = await openTabs(3)
    await c!.send({ op: 'add', key: 'cart', sku: 'apple', qty: 2 })
    const [inA, inB] = await Promise.all([
      a!.next((event) => event.event === 'change'),
      b!.next((event) => event.event === 'change'),
    ])
    for (const event of [inA, inB]) expect(event).toMatchObject({ event: 'change', key: 'cart' })
    expect(await b!.send({ op: 'lines', key: 'cart' })).toEqual([['apple', 2]])
  })

  // The handover time is measured by `pnpm bench:tabs` (tabs.handover_after_crash, target 2 s).
  it('hands over when the leader tab dies, losing and doubling no write', async () => {
    const {
      tabs: [a, b, c],
    } = await openTabs(3)
    await c!.send({ op: 'add', key: 'cart', sku: 'apple', qty: 1 })
    const writes = Array.from({ length: 10 }, () =>
      c!.send({ op: 'add', key: 'cart', sku: 'pear', qty: 1 }),
    )
    await writes[0]
    a!.terminate()
    const promoted = await b!.next((event) => event.event === 'role' && event.role === 'leader')
    expect(promoted).toMatchObject({ event: 'role', role: 'leader' })
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

  // The handover time is measured by `pnpm bench:tabs` (tabs.handover_after_close, target 2 s).
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
