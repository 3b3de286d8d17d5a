import { afterEach, describe, expect, it } from 'vitest'
import { Cluster, changed, heardLatest, knows, type Node, until } from './support.js'

let cluster: Cluster
afterEach(async () => {
  await cluster.close()
})

/** Leaves read repair as the only path from a to b: no handoff push, no reconciliation. */
function isolateReadRepair(a: Node, b: Node) {
  a.faults.dropPush = true
  a.faults.dropReconcile = true
  b.faults.dropReconcile = true
}

/**
 * A pair where `a` wrote `k` = `value` and `b` has heard of it by gossip, with read repair the
 * only way for the value to reach `b`.
 */
async function divergedPair(value: unknown, options = {}) {
  const { a, b } = await pair(options)
  isolateReadRepair(a, b)
  await a.replica.put('k', value)
  await heardLatest(b, a)
  return { a, b }
}

async function pair(options = {}) {
  cluster = new Cluster()
  const a = await cluster.add(options)
  const b = await cluster.add(options)
  await knows(a, b)
  await knows(b, a)
  return { a, b }
}

describe('replicas on a network', () => {
  it('hand a write to connected peers, whose subscribers see it as remote', async () => {
    const { a, b } = await pair()
    const origins: string[] = []
    b.replica.subscribe('k', (c) => origins.push(c.origin))
    await a.replica.put('k', 'hello')
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'hello',
    )
    expect(origins).toEqual(['remote'])
  })

  it("repairs a read with 'sync' in one round trip: the state, from the peer gossip says is ahead", async () => {
    const { a, b } = await divergedPair('from-a')
    const pullsBefore = b.counts.pull
    const read = await b.replica.get('k', { repair: 'sync' })
    expect(read.value).toBe('from-a')
    expect(read.repair).toMatchObject({ asked: [a.peerId], unanswered: [], repaired: true })
    expect(b.counts.pull - pullsBefore).toBe(1)
    expect(b.replica.metrics().keys_repaired).toBe(1)
    expect(b.replica.metrics().divergence_ms.count).toBe(1)
    expect((await b.replica.get('k', { repair: 'none' })).value).toBe('from-a')
  })

  it('makes no network call for a read that no hint marks as divergent', async () => {
    const { a, b } = await pair()
    await a.replica.put('k', 'v')
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'v',
    )
    const before = { ...b.counts }
    for (const repair of ['sync', 'async'] as const) {
      const read = await b.replica.get('k', { repair })
      expect(read.repair.asked).toEqual([])
    }
    await b.replica.get('never-written', { repair: 'sync' })
    expect(b.counts.pull).toBe(before.pull)
  })

  it("repairs in the background with 'async' and tells subscribers; 'none' stays local", async () => {
    const { a, b } = await divergedPair('later')
    expect((await b.replica.get('k', { repair: 'none' })).value).toBeUndefined()
    const repaired = new Promise<string>((resolve) =>
      b.replica.subscribe('k', (c) => resolve(c.origin)),
    )
    const read = await b.replica.get('k', { repair: 'async' })
    expect(read.value).toBeUndefined()
    expect(read.repair.asked).toEqual([a.peerId])
    expect(await repaired).toBe('repair')
    expect((await b.replica.get('k', { repair: 'none' })).value).toBe('later')
  })

  it('checks speculatively digest-first (repairChance): equal digests move no state', async () => {
    const { a, b } = await pair({ repairChance: 1 })
    await a.replica.put('k', 'v')
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'v',
    )
    await a.replica.settled()
    await b.replica.settled()
    const before = { pulls: b.counts.pull, metrics: b.replica.metrics() }
    const read = await b.replica.get('k', { repair: 'sync' })
    expect(read.repair).toMatchObject({ asked: [a.peerId], unanswered: [], repaired: false })
    expect(b.counts.pull - before.pulls).toBe(1)
    expect(b.replica.metrics().inconsistencies_found).toBe(before.metrics.inconsistencies_found)
  })

  it('batches the keys of many concurrent reads into one request per peer', async () => {
    const { a, b } = await pair()
    isolateReadRepair(a, b)
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`)
    for (const key of keys) await a.replica.put(key, key)
    await heardLatest(b, a)
    const before = b.counts.pull
    const reads = await Promise.all(keys.map((key) => b.replica.get(key, { repair: 'sync' })))
    expect(reads.map((r) => r.value)).toEqual(keys)
    expect(b.counts.pull - before).toBe(1)
  })

  it('returns within timeoutMs with the local value and names the peer that did not answer', async () => {
    const { a, b } = await divergedPair('unreachable')
    b.faults.hangPull = true
    const before = b.counts.pull
    // The peer never answers: this read resolves only because its timeout cuts the pull short.
    const read = await b.replica.get('k', { repair: 'sync', timeoutMs: 200 })
    expect(read.value).toBeUndefined()
    expect(read.repair.unanswered).toEqual([a.peerId])
    // A timeout used the read's whole budget: nothing is retried.
    expect(b.counts.pull - before).toBe(1)
    expect(b.replica.metrics().repair_retries).toBe(0)
  })

  it('retries a repair whose connection dropped, after a backoff, within the same read', async () => {
    const { a, b } = await divergedPair('after a retry', { retryBaseMs: 5 })
    b.faults.failPulls = 1
    const before = b.counts.pull
    const read = await b.replica.get('k', { repair: 'sync' })
    expect(read.value).toBe('after a retry')
    expect(read.repair).toEqual({ asked: [a.peerId], unanswered: [], repaired: true })
    expect(b.counts.pull - before).toBe(2)
    expect(b.replica.metrics().repair_retries).toBe(1)
  })

  it('gives a failing repair up after retryAttempts and repairs on the next read', async () => {
    const { a, b } = await divergedPair('later', { retryBaseMs: 5, retryAttempts: 3 })
    b.faults.failPulls = 100
    const before = b.counts.pull
    const failed = await b.replica.get('k', { repair: 'sync' })
    expect(failed.value).toBeUndefined()
    expect(failed.repair.unanswered).toEqual([a.peerId])
    expect(b.counts.pull - before).toBe(3)
    expect(b.replica.metrics().repair_retries).toBe(2)
    expect(b.replica.metrics().repairs_failed).toBe(1)
    b.faults.failPulls = 0
    // The divergence hint survived the failure, so the next read asks again.
    expect((await b.replica.get('k', { repair: 'sync' })).value).toBe('later')
  })

  it('does not retry past the read timeout: the backoff would end after it', async () => {
    const { a, b } = await divergedPair('v', { retryBaseMs: 10_000 })
    b.faults.failPulls = 1
    const before = b.counts.pull
    const read = await b.replica.get('k', { repair: 'sync', timeoutMs: 500 })
    expect(read.repair.unanswered).toEqual([a.peerId])
    expect(b.counts.pull - before).toBe(1)
    expect(b.replica.metrics().repair_retries).toBe(0)
  })

  it('opens the circuit breaker of a failing peer and stops asking it', async () => {
    const { a, b } = await pair({ breakerFailureThreshold: 2, breakerResetMs: 60_000 })
    isolateReadRepair(a, b)
    b.faults.hangPull = true
    for (let i = 0; i < 3; i++) await a.replica.put(`k${i}`, i)
    await heardLatest(b, a)
    await b.replica.get('k0', { repair: 'sync', timeoutMs: 50 })
    await b.replica.get('k1', { repair: 'sync', timeoutMs: 50 })
    await until(b.replica, () => b.replica.status().peers[0]?.breaker === 'open')
    const pulls = b.counts.pull
    const read = await b.replica.get('k2', { repair: 'sync', timeoutMs: 50 })
    expect(read.repair.asked).toEqual([])
    expect(b.counts.pull).toBe(pulls)
    expect(b.replica.metrics().breaker_state_changes).toBeGreaterThanOrEqual(1)
  })

  it('falls back to reconciliation when a peer outbox overflows, and converges', async () => {
    const { a, b } = await pair({ outboxMaxKeys: 5 })
    cluster.hub.unlink(a.peerId, b.peerId)
    for (let i = 0; i < 40; i++) await a.replica.put(`a${i}`, i)
    for (let i = 0; i < 40; i++) await b.replica.put(`b${i}`, i)
    cluster.hub.link(a.peerId, b.peerId)
    await until(a.replica, () => a.replica.status().keys === 80)
    await until(b.replica, () => b.replica.status().keys === 80)
    await a.replica.settled()
    await b.replica.settled()
    expect(a.replica.status().summary).toEqual(b.replica.status().summary)
    expect(
      a.replica.metrics().handoff_overflows + b.replica.metrics().handoff_overflows,
    ).toBeGreaterThan(0)
    expect(
      a.replica.metrics().reconcile_sessions + b.replica.metrics().reconcile_sessions,
    ).toBeGreaterThan(0)
    expect((await b.replica.get('a39', { repair: 'none' })).value).toBe(39)
  })
})

describe('engine switches', () => {
  it('a pull-only replica (handoff: false) pushes nothing; its peer still gets the write by reading', async () => {
    cluster = new Cluster()
    const a = await cluster.add({ handoff: false, reconcileDelayMs: 60_000 })
    const b = await cluster.add({ reconcileDelayMs: 60_000 })
    await knows(a, b)
    await knows(b, a)
    await a.replica.put('k', 'pull me')
    await heardLatest(b, a)
    await a.replica.settled()
    expect(a.counts.push).toBe(0)
    expect((await b.replica.get('k', { repair: 'none' })).value).toBeUndefined()
    expect((await b.replica.get('k', { repair: 'sync' })).value).toBe('pull me')
  })

  it('reconciles after a gossip mismatch only once it outlasts reconcileDelayMs', async () => {
    cluster = new Cluster()
    const a = await cluster.add({ handoff: false, reconcileDelayMs: 30 })
    const b = await cluster.add({ reconcileDelayMs: 30 })
    await knows(a, b)
    await knows(b, a)
    await a.replica.put('k', 'by reconciliation')
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'by reconciliation',
    )
    expect(b.counts.reconcile + a.counts.reconcile).toBeGreaterThan(0)
    expect(a.counts.push).toBe(0)
  })
})

describe('handoff through a relay', () => {
  it('keeps outboxes only for directly connected peers, so they drain once delivered', async () => {
    cluster = new Cluster()
    const a = await cluster.add()
    const relay = await cluster.add()
    const b = await cluster.add()
    cluster.hub.unlink(a.peerId, b.peerId)
    await knows(a, relay)
    await knows(b, relay)
    await until(
      a.replica,
      () => a.replica.metrics().gossip_received > 0 && b.replica.metrics().gossip_received > 0,
    )
    await a.replica.put('k', 'via relay')
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'via relay',
    )
    for (const node of [a, relay, b]) await node.replica.settled()
    for (const node of [a, relay, b]) expect(node.replica.status().outbox).toBe(0)
  })
})

describe('durability of repaired states', () => {
  /**
   * A node whose storage records the durability each batch asked for: `asked` for batches of
   * states, `bookkeeping` for meta-only batches (handoff cursors and the like).
   */
  async function recording(options = {}) {
    const asked: string[] = []
    const bookkeeping: string[] = []
    const node = await cluster.add({
      ...options,
      wrapStorage: (storage) => ({
        get: (namespace, keys) => storage.get(namespace, keys),
        scan: (scanOptions) => storage.scan(scanOptions),
        close: () => storage.close(),
        write: (batch) => {
          const into = (batch.values?.length ?? 0) > 0 ? asked : bookkeeping
          into.push(batch.durability ?? 'strict')
          return storage.write(batch)
        },
      }),
    })
    return { node, asked, bookkeeping }
  }

  for (const [repairDurability, expected] of [
    [undefined, 'relaxed'],
    ['strict', 'strict'],
  ] as const) {
    it(`stores a repaired state ${expected} (repairDurability ${repairDurability ?? 'default'}), a local write strict`, async () => {
      cluster = new Cluster()
      const a = await cluster.add()
      const { node: b, asked } = await recording(
        repairDurability === undefined ? {} : { repairDurability },
      )
      await knows(a, b)
      await knows(b, a)
      isolateReadRepair(a, b)
      await a.replica.put('k', 'from a')
      await heardLatest(b, a)
      asked.length = 0
      expect((await b.replica.get('k', { repair: 'sync' })).value).toBe('from a')
      expect(asked).toEqual([expected])
      await b.replica.put('mine', 'local')
      expect(asked).toEqual([expected, 'strict'])
    })
  }

  it('stores handoff acknowledgements relaxed: a lost cursor only re-sends what the peer has', async () => {
    cluster = new Cluster()
    const { node: a, bookkeeping } = await recording()
    const b = await cluster.add()
    await knows(a, b)
    await knows(b, a)
    await a.replica.settled()
    bookkeeping.length = 0
    await a.replica.put('k', 'handed off')
    await until(a.replica, () => a.replica.metrics().handoff_delivered > 0)
    await a.replica.settled()
    expect(bookkeeping.length).toBeGreaterThan(0)
    expect(new Set(bookkeeping)).toEqual(new Set(['relaxed']))
  })

  it("refuses a repairDurability that is not 'strict' or 'relaxed'", async () => {
    cluster = new Cluster()
    await expect(
      cluster.add({ repairDurability: 'eventually' as unknown as 'strict' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('handoff and commits', () => {
  it('never hands off (and acknowledges) a change before its batch has committed', async () => {
    cluster = new Cluster()
    let hold: Promise<void> | undefined
    const a = await cluster.add({
      reconcileDelayMs: 60_000,
      wrapStorage: (storage) => ({
        get: (namespace, keys) => storage.get(namespace, keys),
        scan: (options) => storage.scan(options),
        close: () => storage.close(),
        // Writes land (and become readable) only when the test lets them.
        write: async (batch) => {
          await hold
          return storage.write(batch)
        },
      }),
    })
    const b = await cluster.add({ reconcileDelayMs: 60_000 })
    await knows(a, b)
    await knows(b, a)
    let release = () => {}
    hold = new Promise((resolve) => {
      release = resolve
    })
    const written = a.replica.put('k', 'committed late')
    // A handoff attempt while the batch is in flight: it must deliver nothing and ack nothing.
    await a.replica.sync()
    release()
    await written
    await changed(
      b.replica,
      'k',
      async () => (await b.replica.get('k', { repair: 'none' })).value === 'committed late',
    )
    expect(a.counts.reconcile + b.counts.reconcile).toBe(0)
  })
})
