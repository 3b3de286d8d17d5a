// Sync progress (issue 16 item 6): a reconnect that brings many keys reports them through
// `onProgress` and `status().progress`; the tracker bounds its events and always sends the end.

import { silentLogger } from '@mendsync/core/toolbox'
import type { SyncProgress } from '@mendsync/replica'
import type { Storage } from '@mendsync/replica/adapter'
import { afterEach, describe, expect, it } from 'vitest'
import { SyncProgressTracker } from '../../src/replica/progress/sync-progress.js'
import { Cluster, heardLatest, knows, type Node } from './support.js'

let cluster: Cluster | undefined

afterEach(async () => {
  await cluster?.close()
  cluster = undefined
})

/** Nothing runs by itself: the exchanges of these tests are the `sync()` calls they make. */
const QUIET = { handoff: false, reconcileDelayMs: 600_000, antiEntropyIntervalMs: 600_000 }

const KEYS = 300

/** A storage whose writes first record `probe()` (what the replica reports while it joins). */
function probed(storage: Storage, probe: () => void): Storage {
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property !== 'write') return Reflect.get(target, property, receiver)
      return (batch: Parameters<Storage['write']>[0]) => {
        probe()
        return target.write(batch)
      }
    },
  })
}

describe('sync progress of a replica', () => {
  it('reports the keys a reconnect brings: to receive as soon as known, received, bytes, then inactive', async () => {
    cluster = new Cluster()
    const a = await cluster.add(QUIET)
    const whileWriting: SyncProgress[] = []
    const opened: { node?: Node } = {}
    const b = await cluster.add({
      ...QUIET,
      wrapStorage: (storage) =>
        probed(storage, () => {
          if (opened.node !== undefined) whileWriting.push(opened.node.replica.status().progress)
        }),
    })
    opened.node = b
    await knows(a, b)
    await knows(b, a)
    cluster.hub.unlink(a.peerId, b.peerId)
    for (let i = 0; i < KEYS; i++) await a.replica.put(`item/${i}`, { i })
    cluster.hub.link(a.peerId, b.peerId)
    await heardLatest(b, a)

    const events: SyncProgress[] = []
    b.replica.onProgress((progress) => events.push(progress))
    await b.replica.sync()

    expect(b.replica.status().keys).toBe(KEYS)
    // The round started at once, with the peer, before anything arrived.
    expect(events[0]).toMatchObject({ active: true, keysReceived: 0, peers: [a.peerId] })
    // The count to receive was known before the states were joined (the peer's summary).
    expect(
      whileWriting.some((p) => p.active && p.keysToReceive === KEYS && p.keysReceived === 0),
    ).toBe(true)
    for (let i = 1; i < events.length; i++) {
      const [before, after] = [events[i - 1] as SyncProgress, events[i] as SyncProgress]
      expect(after.keysReceived).toBeGreaterThanOrEqual(before.keysReceived)
      expect(after.bytesReceived).toBeGreaterThanOrEqual(before.bytesReceived)
    }
    const last = events.at(-1) as SyncProgress
    expect(last).toMatchObject({
      active: false,
      keysToReceive: KEYS,
      keysReceived: KEYS,
      peers: [],
    })
    expect(last.bytesReceived).toBeGreaterThan(KEYS)
    expect(b.replica.status().progress).toEqual(last)
    // Bounded: a handful of events for the whole round, not one per key.
    expect(events.length).toBeLessThanOrEqual(8)
  })

  it('starts no round when sync() has nothing to do', async () => {
    cluster = new Cluster()
    const a = await cluster.add(QUIET)
    const b = await cluster.add(QUIET)
    await knows(a, b)
    await knows(b, a)
    await a.replica.put('k', 1)
    await heardLatest(b, a)
    await b.replica.sync()
    await heardLatest(b, a)
    await heardLatest(a, b)
    const afterRound = b.replica.status().progress
    expect(afterRound).toMatchObject({ active: false, keysReceived: 1 })

    const events: SyncProgress[] = []
    b.replica.onProgress((progress) => events.push(progress))
    await b.replica.sync()
    expect(events).toEqual([])
    // The last round's counts stay readable until the next round starts.
    expect(b.replica.status().progress).toEqual(afterRound)
  })
})

describe('sync progress of a handoff delivery', () => {
  it('keeps the round active with the peer while it pushes, adding nothing to receive', async () => {
    cluster = new Cluster()
    const a = await cluster.add({ ...QUIET, handoff: true })
    const b = await cluster.add(QUIET)
    await knows(a, b)
    await knows(b, a)
    const events: SyncProgress[] = []
    a.replica.onProgress((progress) => events.push(progress))
    await a.replica.put('k', 'handed off')
    await a.replica.settled()
    expect((await b.replica.get('k', { repair: 'none' })).value).toBe('handed off')
    expect(a.counts.push).toBeGreaterThan(0)
    expect(events[0]).toMatchObject({ active: true, peers: [b.peerId], keysToReceive: 0 })
    expect(events.at(-1)).toEqual({
      active: false,
      keysToReceive: 0,
      keysReceived: 0,
      bytesReceived: 0,
      peers: [],
    })
  })
})

describe('SyncProgressTracker', () => {
  const states = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ key: `k${i}`, state: new Uint8Array(10) }))

  it('sends the start and the end of a round at once and coalesces what lies between', () => {
    const tracker = new SyncProgressTracker(silentLogger(), { intervalMs: 100, now: () => 0 })
    const events: SyncProgress[] = []
    tracker.on((progress) => events.push(progress))
    const exchange = tracker.begin('p1')
    exchange.expect(1000)
    for (let i = 0; i < 1000; i++) exchange.joined(states(1))
    // Within the interval: the snapshot is current, the listeners heard only the start.
    expect(tracker.snapshot()).toMatchObject({ keysToReceive: 1000, keysReceived: 1000 })
    expect(events).toHaveLength(1)
    exchange.end()
    expect(events).toEqual([
      { active: true, keysToReceive: 0, keysReceived: 0, bytesReceived: 0, peers: ['p1'] },
      { active: false, keysToReceive: 1000, keysReceived: 1000, bytesReceived: 10_000, peers: [] },
    ])
  })

  it('delivers the latest state of a round on a trailing timer', async () => {
    const tracker = new SyncProgressTracker(silentLogger(), { intervalMs: 20 })
    const events: SyncProgress[] = []
    const exchange = tracker.begin('p1')
    const next = new Promise<SyncProgress>((resolve) => tracker.on(resolve))
    tracker.on((progress) => events.push(progress))
    exchange.expect(5)
    exchange.arrived(7)
    expect(await next).toMatchObject({ active: true, keysToReceive: 5, bytesReceived: 7 })
    exchange.end()
    expect(events.map((e) => e.active)).toEqual([true, false])
  })

  it('spans concurrent exchanges: counts add up, bytes are not counted twice, a failed exchange drops its expectation', () => {
    let now = 0
    const tracker = new SyncProgressTracker(silentLogger(), { intervalMs: 100, now: () => now })
    const first = tracker.begin('p1')
    const second = tracker.begin('p2')
    const third = tracker.begin('p1')
    expect(tracker.snapshot().peers).toEqual(['p1', 'p2'])
    first.expect(3)
    second.expect(4)
    first.arrived(30)
    first.joined(states(3))
    second.expect(2)
    first.end()
    expect(tracker.snapshot()).toMatchObject({ active: true, keysToReceive: 5, bytesReceived: 30 })
    expect(tracker.snapshot().peers).toEqual(['p1', 'p2'])
    second.end()
    third.joined(states(2))
    now = 1_000
    third.end()
    third.end()
    expect(tracker.snapshot()).toEqual({
      active: false,
      keysToReceive: 5,
      keysReceived: 5,
      bytesReceived: 50,
      peers: [],
    })
    // A new round starts from zero.
    tracker.begin('p3')
    expect(tracker.snapshot()).toMatchObject({ active: true, keysToReceive: 0, keysReceived: 0 })
  })

  it('joins states a peer sent unasked as one exchange, ended even when the join fails', async () => {
    const tracker = new SyncProgressTracker(silentLogger())
    await tracker.receive('p1', states(4), async () => {
      expect(tracker.snapshot()).toMatchObject({ active: true, keysToReceive: 4, peers: ['p1'] })
    })
    expect(tracker.snapshot()).toMatchObject({ active: false, keysReceived: 4, bytesReceived: 40 })
    await expect(
      tracker.receive('p2', states(2), async () => {
        throw new Error('storage failed')
      }),
    ).rejects.toThrow('storage failed')
    expect(tracker.snapshot()).toMatchObject({ active: false, keysToReceive: 0, keysReceived: 0 })
  })
})
