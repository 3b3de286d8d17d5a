// Tombstone collection, the rejoin rule, retired replicas and stale handoff cursors (issue 18).
import { readFileSync } from 'node:fs'
import {
  DEFAULT_GC_OPTIONS,
  MemoryStorage,
  MemoryStore,
  openReplica,
  type Replica,
  type ReplicaOptions,
} from '@mendsync/replica'
import type { Network, PeerId } from '@mendsync/replica/adapter'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { until } from './support.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const GC = { horizonMs: 10 * HOUR, graceMs: MINUTE, intervalMs: 24 * HOUR }
/** Beyond the horizon with its slack (a sixteenth). */
const AWAY = 12 * HOUR

/** A clock the test moves by hand, shared by every replica of a test. */
class Clock {
  t = Date.UTC(2026, 0, 1)
  readonly now = () => this.t
  advance(ms: number): void {
    this.t += ms
  }
}

interface Member {
  replica: Replica
  readonly store: MemoryStore
  readonly peerId: PeerId
  readonly network: Network | undefined
}

let open: Replica[] = []
afterEach(async () => {
  await Promise.all(open.map((replica) => replica.close()))
  open = []
})

async function start(
  hub: InProcessHub | undefined,
  clock: Clock,
  name: string,
  store = new MemoryStore(),
  options: Partial<ReplicaOptions> = {},
): Promise<Member> {
  const network = hub?.createNetwork({ peerId: `peer-${name}` })
  const replica = await openReplica({
    space: 'gc',
    storage: new MemoryStorage({ store }),
    ...(network === undefined ? {} : { network }),
    replicaId: name,
    now: clock.now,
    gossipIntervalMs: 20,
    gc: GC,
    ...options,
  })
  open.push(replica)
  return { replica, store, peerId: network?.peerId ?? name, network }
}

async function restart(member: Member, hub: InProcessHub, clock: Clock): Promise<Member> {
  await member.replica.close()
  await member.network?.close()
  open = open.filter((replica) => replica !== member.replica)
  return start(hub, clock, member.replica.replicaId, member.store)
}

async function storedKeys(store: MemoryStore): Promise<string[]> {
  const storage = new MemoryStorage({ store })
  const page = await storage.scan({ namespace: 'values', limit: 10_000 })
  return page.entries.map((entry) => entry.key)
}

function sameSummary(a: Replica, b: Replica): boolean {
  const x = a.status().summary
  const y = b.status().summary
  return x.length === y.length && x.every((byte, i) => byte === y[i])
}

/** Resolves once every replica's summary equals the first one's (checked on metric changes). */
async function converged(replicas: readonly Replica[]): Promise<void> {
  const [first, ...rest] = replicas as [Replica, ...Replica[]]
  for (const other of rest) {
    await first.sync()
    await until(other, () => sameSummary(first, other))
  }
}

/** Resolves once every replica received another `n` gossip messages. */
async function gossiped(replicas: readonly Replica[], n: number): Promise<void> {
  for (const replica of replicas) {
    const before = replica.metrics().gossip_received
    await until(replica, () => replica.metrics().gossip_received >= before + n)
  }
}

/**
 * Lets `ms` pass for replicas that stay up (a pass every thirty-second of the horizon, gossip
 * between passes), as running processes live through it: unlike a sleeping one, none of them
 * was away.
 */
async function liveThrough(clock: Clock, replicas: readonly Replica[], ms: number): Promise<void> {
  const step = GC.horizonMs / 32
  for (let passed = 0; passed < ms; passed += step) {
    clock.advance(Math.min(step, ms - passed))
    for (const replica of replicas) await replica.collectGarbage()
    if (replicas.length > 1) await gossiped(replicas, replicas.length - 1)
  }
}

/** Runs collection passes on every replica until none holds a tombstone. */
async function collectAll(clock: Clock, replicas: readonly Replica[]): Promise<void> {
  for (let round = 0; round < 20; round++) {
    for (const replica of replicas) await replica.collectGarbage()
    if (replicas.every((replica) => replica.status().gc.tombstones === 0)) return
    // Collection waits for evidence gossiped after the tombstones were ready; a tombstone a
    // peer sent back to one that collected it first is stored again and waits out the grace.
    await gossiped(replicas, replicas.length)
    clock.advance(GC.graceMs)
  }
  throw new Error(
    `tombstones left after 20 collection rounds: ${JSON.stringify(replicas.map((r) => r.status().gc))}`,
  )
}

describe('tombstone collection', () => {
  it('erases the deleted keys of a replica alone once the grace passed, also after reopening', async () => {
    const clock = new Clock()
    const a = await start(undefined, clock, 'a')
    for (let i = 0; i < 200; i++) await a.replica.put(`k${i}`, i)
    for (let i = 0; i < 200; i++) await a.replica.delete(`k${i}`)
    expect(a.replica.status().gc.tombstones).toBe(200)
    expect((await a.replica.collectGarbage()).collected).toBe(0)
    clock.advance(GC.graceMs)
    expect((await a.replica.collectGarbage()).collected).toBe(200)
    expect(a.replica.status()).toMatchObject({ keys: 0, gc: { tombstones: 0, collected: 200 } })
    expect(a.replica.metrics()).toMatchObject({ tombstones: 0, tombstones_collected: 200 })
    expect(await storedKeys(a.store)).toEqual([])
    await a.replica.close()
    const reopened = await start(undefined, clock, 'a', a.store)
    expect(reopened.replica.status()).toMatchObject({ keys: 0, gc: { tombstones: 0 } })
  })

  it('keeps a tombstone while a member has not caught up, then collects it everywhere', async () => {
    const clock = new Clock()
    const hub = createInProcessHub()
    const nodes = [
      await start(hub, clock, 'a'),
      await start(hub, clock, 'b'),
      await start(hub, clock, 'c'),
    ]
    const [a, b, c] = nodes as [Member, Member, Member]
    const replicas = nodes.map((node) => node.replica)
    await a.replica.put('gone', 1)
    await a.replica.put('kept', 2)
    await converged(replicas)
    hub.partition([a.peerId, b.peerId], [c.peerId])
    await a.replica.delete('gone')
    await until(b.replica, () => sameSummary(a.replica, b.replica))
    clock.advance(GC.graceMs)
    // c holds the live copy and is a member: nobody may forget the delete.
    for (const replica of [a.replica, b.replica]) await replica.collectGarbage()
    for (const replica of [a.replica, b.replica]) await replica.collectGarbage()
    expect(a.replica.status().gc.tombstones).toBe(1)
    hub.heal()
    await converged(replicas)
    expect((await c.replica.get('gone', { repair: 'none' })).kind).toBe('absent')
    expect(c.replica.status().gc.tombstones).toBe(1)
    clock.advance(GC.graceMs)
    await collectAll(clock, replicas)
    await converged(replicas)
    for (const node of nodes) {
      expect(await storedKeys(node.store)).toEqual(['kept'])
      expect(node.replica.status().keys).toBe(1)
    }
  })

  it('moves to a new actor id after collecting its own tombstone, so a rewrite reuses no dot', async () => {
    const clock = new Clock()
    const a = await start(undefined, clock, 'a')
    await a.replica.put('k', 'first')
    await a.replica.delete('k')
    clock.advance(GC.graceMs)
    await a.replica.collectGarbage()
    expect(a.replica.status().gc.actor).toBe('a.1')
    await a.replica.put('k', 'again')
    const read = await a.replica.get('k', { repair: 'none' })
    expect(read.siblings.map((s) => s.dot)).toEqual([{ replica: 'a.1', counter: 1 }])
  })
})

describe('replicas gone for longer than the horizon', () => {
  it('retire: their handoff cursor, queued changes and version-vector entry are dropped', async () => {
    const clock = new Clock()
    const hub = createInProcessHub()
    const a = await start(hub, clock, 'a')
    const b = await start(hub, clock, 'b')
    await b.replica.put('from-b', 1)
    await until(a.replica, () => a.replica.status().versionVector.has('b'))
    await until(a.replica, () => a.replica.status().peers.some((p) => p.replicaId === 'b'))
    await b.replica.close()
    open = open.filter((replica) => replica !== b.replica)
    for (let i = 0; i < 5; i++) await a.replica.put(`k${i}`, i)
    expect(a.replica.status().outbox).toBeGreaterThan(0)
    await a.replica.collectGarbage()
    expect(a.replica.status().outbox).toBeGreaterThan(0)
    await liveThrough(clock, [a.replica], GC.horizonMs)
    expect(a.replica.status().outbox).toBeGreaterThan(0)
    clock.advance(AWAY - GC.horizonMs)
    const pass = await a.replica.collectGarbage()
    expect(pass.retired).toEqual(['b'])
    expect(pass.foldedActors).toEqual(['b'])
    expect(a.replica.status().gc.rejoining).toBe(false)
    expect(a.replica.status().outbox).toBe(0)
    expect(a.replica.metrics().outbox_size).toBe(0)
    expect([...a.replica.status().versionVector.keys()]).toEqual(['a'])
    // What b wrote keeps its causality: the key still carries b's dot.
    const read = await a.replica.get('from-b', { repair: 'none' })
    expect(read.siblings.map((s) => s.dot.replica)).toEqual(['b'])
  })

  it('rejoin: a replica away longer delivers its offline writes and brings back no collected delete', async () => {
    const clock = new Clock()
    const hub = createInProcessHub()
    let a = await start(hub, clock, 'a')
    const b = await start(hub, clock, 'b')
    let c = await start(hub, clock, 'c')
    await a.replica.put('deleted', 'old')
    await a.replica.put('changed', 'old')
    await c.replica.cart('cart').add('apple', 1)
    await converged([a.replica, b.replica, c.replica])
    hub.partition([a.peerId, b.peerId], [c.peerId])
    // Away: c writes; the others delete, change, and forget c.
    await c.replica.put('offline', 'from c')
    await c.replica.cart('cart').add('pear', 2)
    await a.replica.delete('deleted')
    const changed = await a.replica.get('changed', { repair: 'none' })
    await a.replica.put('changed', 'new', changed.context)
    await a.replica.cart('cart').remove('apple')
    await converged([a.replica, b.replica])
    await liveThrough(clock, [a.replica, b.replica], AWAY)
    await collectAll(clock, [a.replica, b.replica])
    // The cart lost its last line: a tombstone like any other, collected.
    expect(await storedKeys(a.store)).toEqual(['changed'])
    // c restarts with its stale copies and comes back.
    c = await restart(c, hub, clock)
    expect(c.replica.status().gc.rejoining).toBe(true)
    expect((await c.replica.get('deleted', { repair: 'none' })).value).toBe('old')
    hub.heal()
    await until(c.replica, () => !c.replica.status().gc.rejoining)
    await converged([a.replica, b.replica, c.replica])
    for (const node of [a, b, c]) {
      const replica = node.replica
      expect(await storedKeys(node.store)).toEqual(['cart', 'changed', 'offline'])
      expect((await replica.get('offline', { repair: 'none' })).value).toBe('from c')
      expect((await replica.get('changed', { repair: 'none' })).value).toBe('new')
      const cart = await replica.get('cart', { repair: 'none' })
      expect(cart.lines.map((line) => [line.sku, line.qty])).toEqual([['pear', 2]])
    }
    // a restarted later agrees too (nothing was kept only in memory).
    a = await restart(a, hub, clock)
    await converged([a.replica, c.replica])
    expect(await storedKeys(a.store)).toEqual(['cart', 'changed', 'offline'])
  })
})

describe('the README', () => {
  it('states every gc option default exactly as DEFAULT_GC_OPTIONS holds it', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    for (const [name, value] of Object.entries(DEFAULT_GC_OPTIONS)) {
      const row = new RegExp(`^\\| \`gc\\.${name}\` \\| \`?(\\w+)`, 'm').exec(readme)
      expect(row, `README row of gc.${name}`).not.toBeNull()
      const cell = row?.[1] as string
      expect(typeof value === 'boolean' ? cell === 'true' : Number(cell), name).toEqual(value)
    }
  })
})
