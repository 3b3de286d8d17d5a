// What the in-process hub adds beyond the Network contract: automatic links, partitions that
// heal, gossip forwarded through peers of the space, and a configurable latency.
import { isMendsyncError } from '@mendsync/core'
import type { SpaceChannel } from '@mendsync/replica/adapter'
import { createInProcessHub, FakeSpaceStore, text } from '@mendsync/replica/testing'
import { describe, expect, it } from 'vitest'

/** Resolves with the originator of the next gossip message `channel` receives. */
function nextGossip(channel: SpaceChannel): Promise<string> {
  return new Promise((resolve) => {
    const stop = channel.on('gossip', ({ peer }) => {
      stop()
      resolve(peer)
    })
  })
}

function gossipFrom(replica: string, counter: number) {
  return {
    replicaId: replica,
    versionVector: new Map([[replica, counter]]),
    summary: new Uint8Array(0),
    hints: [],
  }
}

describe('in-process hub', () => {
  it('links new networks to every attached one by default', async () => {
    const hub = createInProcessHub()
    const networks = [
      hub.createNetwork({ peerId: 'a' }),
      hub.createNetwork({ peerId: 'b' }),
      hub.createNetwork({ peerId: 'c' }),
    ]
    const channels = await Promise.all(
      networks.map((network) => network.join('s', new FakeSpaceStore())),
    )
    expect(hub.isLinked('a', 'c')).toBe(true)
    expect([...channels[0]!.peers()].sort()).toEqual(['b', 'c'])
    expect(() => hub.createNetwork({ peerId: 'a' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('partitions and heals, with events on both sides and calls refused across the cut', async () => {
    const hub = createInProcessHub()
    const [a, b, c] = ['a', 'b', 'c'].map((peerId) => hub.createNetwork({ peerId }))
    const stores = [
      new FakeSpaceStore({ k: 'va' }),
      new FakeSpaceStore({ k: 'vb' }),
      new FakeSpaceStore({ k: 'vc' }),
    ]
    const channels: SpaceChannel[] = []
    for (const [i, network] of [a!, b!, c!].entries())
      channels.push(await network.join('s', stores[i]!))
    const [ca, , cc] = channels
    const events: string[] = []
    ca!.on('peer:connect', ({ peer, reconnect }) => events.push(`connect ${peer} ${reconnect}`))
    ca!.on('peer:disconnect', ({ peer }) => events.push(`disconnect ${peer}`))

    hub.partition(['a', 'b'], ['c'])
    expect(events).toEqual(['disconnect c'])
    expect(ca!.peers()).toEqual(['b'])
    expect(cc!.peers()).toEqual([])
    let failure: unknown
    try {
      await ca!.pull('c', ['k'], 'state')
    } catch (error) {
      failure = error
    }
    expect(isMendsyncError(failure, 'PEER_UNAVAILABLE')).toBe(true)

    hub.heal()
    expect(events).toEqual(['disconnect c', 'connect c true'])
    expect(await ca!.pull('c', ['k'], 'state')).toEqual({ mode: 'state', states: [text('vc')] })
  })

  it('forwards gossip through peers of the space, not through others', async () => {
    const hub = createInProcessHub({ autoLink: false })
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((peerId) => hub.createNetwork({ peerId }))
    hub.link('a', 'b')
    hub.link('b', 'c')
    hub.link('a', 'd')
    hub.link('a', 'e')
    const ca = await a!.join('s', new FakeSpaceStore())
    await b!.join('s', new FakeSpaceStore())
    const cc = await c!.join('s', new FakeSpaceStore())
    await d!.join('other', new FakeSpaceStore())
    // e is a's direct neighbour in the space: every message of a reaches it, which shows when a
    // message has been delivered everywhere it could go.
    const ce = await e!.join('s', new FakeSpaceStore())
    const seen: string[] = []
    cc.on('gossip', ({ peer }) => seen.push(peer))
    const atC = nextGossip(cc)
    await ca.publish(gossipFrom('ra', 1))
    expect(await atC).toBe('a')
    expect(seen).toEqual(['a'])
    // Without b in the space, a's gossip cannot reach c.
    await b!.close()
    hub.link('a', 'c')
    hub.unlink('a', 'c')
    const atE = nextGossip(ce)
    await ca.publish(gossipFrom('ra', 2))
    expect(await atE).toBe('a')
    expect(seen).toEqual(['a'])
  })

  it('delays a pull by the configured latency on each of its two hops', async () => {
    const hub = createInProcessHub({ latencyMs: 30 })
    const a = hub.createNetwork()
    const b = hub.createNetwork()
    const ca = await a.join('s', new FakeSpaceStore())
    await b.join('s', new FakeSpaceStore({ k: 'v' }))
    const started = Date.now()
    await ca.pull(b.peerId, ['k'], 'state')
    expect(Date.now() - started).toBeGreaterThanOrEqual(55)
  })
})
