// Engine bugs the convergence checker (test/chaos) found, each pinned by a focused test.
import { compareTimestamps } from '@mendsync/core'
import { MemoryStorage, MemoryStore, openReplica } from '@mendsync/replica'
import { afterEach, describe, expect, it } from 'vitest'
import { Cluster, heardLatest, knows } from './support.js'

let cluster: Cluster | undefined
afterEach(async () => {
  await cluster?.close()
  cluster = undefined
})

async function pair(options = {}) {
  cluster = new Cluster()
  const a = await cluster.add(options)
  const b = await cluster.add(options)
  await knows(a, b)
  await knows(b, a)
  return { a, b }
}

describe('convergence regressions', () => {
  it('stores nothing for a write that changes nothing, so peers still reach equal summaries', async () => {
    const { a, b } = await pair()
    // Neither key exists anywhere: removing a line / deleting the key changes nothing.
    await a.replica.cart('cart').remove('apple')
    await a.replica.delete('gone')
    expect(a.replica.status().keys).toBe(0)
    await a.replica.sync()
    await b.replica.sync()
    expect(a.replica.status().summary).toEqual(b.replica.status().summary)
    expect((await a.replica.get('cart', { repair: 'none' })).kind).toBe('absent')
  })
})

describe('closing during a repair', () => {
  it('completes when a repair fails after close began and would back off to retry', async () => {
    const { a, b } = await pair({ retryBaseMs: 10, handoff: false })
    await a.replica.put('k', 'v')
    await heardLatest(b, a)
    let dropConnection = () => {}
    const connectionDropped = new Promise<void>((resolve) => (dropConnection = resolve))
    const pulling = new Promise<void>((resolve) => {
      b.faults.dropPullAfter = () => {
        resolve()
        return connectionDropped
      }
    })
    const read = b.replica.get('k', { repair: 'sync', timeoutMs: 60_000 })
    await pulling
    const closing = b.replica.close()
    dropConnection()
    // Before the fix the retry's backoff started after close() had stopped every timer, so it
    // never ended and close() never resolved.
    await closing
    expect((await read).repair.unanswered).toEqual([a.peerId])
  })
})

describe('the hybrid logical clock across restarts', () => {
  it("stays monotonic when the physical clock is behind the last write: lww keeps the replica's own latest write", async () => {
    const store = new MemoryStore()
    const hour = 60 * 60 * 1000
    let now = Date.UTC(2025, 0, 1, 12)
    const open = () =>
      openReplica({
        space: 'clock',
        storage: new MemoryStorage({ store }),
        replicaId: 'r',
        now: () => now,
        conflicts: 'lww',
      })
    const first = await open()
    await first.put('k', 'first')
    await first.close()
    now -= hour // the clock stepped back (NTP, a skewed device) while the replica was down
    const second = await open()
    await second.put('k', 'second') // blind: both writes stay siblings, lww arbitrates
    const read = await second.get('k')
    await second.close()
    const [older, newer] = read.siblings
    expect(read.siblings.map((s) => s.value)).toEqual(['first', 'second'])
    expect(compareTimestamps(newer!.time, older!.time)).toBeGreaterThan(0)
    expect(read.value).toBe('second')
  })
})

describe('the space version vector', () => {
  it('counts every change when changes to different keys persist concurrently', async () => {
    const store = new MemoryStore()
    const open = () =>
      openReplica({ space: 'vv', storage: new MemoryStorage({ store }), replicaId: 'r' })
    const replica = await open()
    await Promise.all([replica.put('a', 1), replica.put('b', 2), replica.cart('c').add('apple')])
    expect(replica.status().versionVector).toEqual(new Map([['r', 3]]))
    await replica.close()
    const reopened = await open()
    expect(reopened.status().versionVector).toEqual(new Map([['r', 3]]))
    await reopened.close()
  })
})
