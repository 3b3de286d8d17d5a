// gossipsub's outbound streams opened concurrently: a peer whose negotiation hangs no longer
// holds back every peer after it (what made 200 clients wait over a minute for a restarted
// relay's subscription), requests for one peer are merged, and the concurrency bound holds.
import { GossipSub } from '@chainsafe/libp2p-gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'
import { silentLogger } from '@mendsync/core/toolbox'
import { describe, expect, it } from 'vitest'
import {
  type OutboundStreamOpener,
  openOutboundStreamsConcurrently,
} from '../src/gossipsub-outbound.js'

const peer = (id: string) => ({ toString: () => id }) as unknown as PeerId
const connection = (id: string) =>
  ({
    id,
    status: 'open',
    remotePeer: peer(id),
    timeline: { open: Date.now() },
  }) as unknown as Connection

/** The internals of gossipsub around `createOutboundStream`, empty. */
function internals(
  createOutboundStream: OutboundStreamOpener['createOutboundStream'],
  connections: Connection[] = [],
): OutboundStreamOpener {
  return {
    createOutboundStream,
    onPeerConnected: () => {},
    onPeerDisconnected: () => {},
    streamsOutbound: new Map(),
    peers: new Map(),
    components: { connectionManager: { getConnections: () => connections } },
    stop: async () => {},
  }
}

/** A stand-in for gossipsub whose stream negotiations finish only when the test says so. */
function fakeGossipsub() {
  const started: string[] = []
  const finish = new Map<string, () => void>()
  let inFlight = 0
  let maxInFlight = 0
  const service = internals((peerId, conn) => {
    started.push(`${peerId.toString()}@${(conn as unknown as { id: string }).id}`)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    return new Promise<void>((resolve) => {
      finish.set(peerId.toString(), () => {
        inFlight--
        resolve()
      })
    })
  })
  const settle = () => new Promise((resolve) => setImmediate(resolve))
  return { service, started, finish, settle, maxInFlight: () => maxInFlight }
}

describe('gossipsub outbound streams opened concurrently', () => {
  it('opens the next peer’s stream while an earlier negotiation hangs', async () => {
    const fake = fakeGossipsub()
    openOutboundStreamsConcurrently(fake.service, silentLogger(), 4)
    await fake.service.createOutboundStream(peer('stalled'), connection('c1'))
    await fake.service.createOutboundStream(peer('next'), connection('c2'))
    await fake.settle()
    expect(fake.started).toEqual(['stalled@c1', 'next@c2'])
  })

  it('runs one negotiation per peer at a time, then the newest connection’s request', async () => {
    const fake = fakeGossipsub()
    openOutboundStreamsConcurrently(fake.service, silentLogger(), 4)
    await fake.service.createOutboundStream(peer('a'), connection('old'))
    await fake.service.createOutboundStream(peer('a'), connection('mid'))
    await fake.service.createOutboundStream(peer('a'), connection('new'))
    await fake.settle()
    expect(fake.started).toEqual(['a@old'])
    fake.finish.get('a')?.()
    await fake.settle()
    expect(fake.started).toEqual(['a@old', 'a@new'])
  })

  it('holds at most `concurrency` negotiations and starts a waiting one when a slot frees', async () => {
    const fake = fakeGossipsub()
    openOutboundStreamsConcurrently(fake.service, silentLogger(), 2)
    for (const id of ['p1', 'p2', 'p3']) {
      await fake.service.createOutboundStream(peer(id), connection(id))
    }
    await fake.settle()
    expect(fake.started).toEqual(['p1@p1', 'p2@p2'])
    fake.finish.get('p2')?.()
    await fake.settle()
    expect(fake.started).toEqual(['p1@p1', 'p2@p2', 'p3@p3'])
    expect(fake.maxInFlight()).toBe(2)
  })

  it('keeps going after a negotiation fails', async () => {
    const opened: string[] = []
    const service = internals(async (peerId) => {
      if (peerId.toString() === 'broken') throw new Error('stream reset')
      opened.push(peerId.toString())
    })
    openOutboundStreamsConcurrently(service, silentLogger(), 1)
    await service.createOutboundStream(peer('broken'), connection('x'))
    await service.createOutboundStream(peer('fine'), connection('y'))
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(opened).toEqual(['fine'])
  })

  it('replaces the dead outbound stream of a peer still connected on another connection', async () => {
    const live = connection('live')
    let reopen: (where: string) => void = () => {}
    const reopened = new Promise<string>((resolve) => {
      reopen = resolve
    })
    const service = internals(
      async (peerId, conn) => {
        reopen(`${peerId.toString()}@${(conn as unknown as { id: string }).id}`)
      },
      [live],
    )
    let closed = false
    service.peers.set('x', peer('x'))
    service.streamsOutbound.set('x', {
      rawStream: { status: 'aborted', writeStatus: 'closed' },
      close: async () => {
        closed = true
      },
    })
    openOutboundStreamsConcurrently(service, silentLogger(), 4, 5)
    expect(await reopened).toBe('x@live')
    expect(closed).toBe(true)
    expect(service.streamsOutbound.has('x')).toBe(false)
    await service.stop()
  })

  it('keeps a peer whose late disconnect arrives while it is connected again, and reopens its dead stream there', async () => {
    const live = connection('live')
    const opened: string[] = []
    const removed: string[] = []
    const connections: Connection[] = [live]
    const service = internals(async (peerId, conn) => {
      opened.push(`${peerId.toString()}@${(conn as unknown as { id: string }).id}`)
    }, connections)
    service.onPeerDisconnected = (peerId) => {
      removed.push(peerId.toString())
    }
    service.peers.set('x', peer('x'))
    service.streamsOutbound.set('x', {
      rawStream: { status: 'closed', writeStatus: 'closed' },
      close: async () => {},
    })
    openOutboundStreamsConcurrently(service, silentLogger(), 4)
    service.onPeerDisconnected(peer('x'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(removed).toEqual([])
    expect(opened).toEqual(['x@live'])
    // Once no connection is open, a disconnect removes the peer as gossipsub does.
    connections.length = 0
    service.onPeerDisconnected(peer('x'))
    expect(removed).toEqual(['x'])
    await service.stop()
  })

  it('hands gossipsub an open connection it was never told of once the identify grace passed', async () => {
    const remote = peer('unidentified')
    const old = {
      id: 'old',
      status: 'open',
      remotePeer: remote,
      timeline: { open: Date.now() - 60_000 },
    } as unknown as Connection
    const fresh = {
      id: 'fresh',
      status: 'open',
      remotePeer: peer('identifying'),
      timeline: { open: Date.now() },
    } as unknown as Connection
    const service = internals(async () => {}, [old, fresh])
    let handed: (what: string) => void = () => {}
    const handedOver = new Promise<string>((resolve) => {
      handed = resolve
    })
    service.onPeerConnected = (peerId, conn) => {
      handed(`${peerId.toString()}@${(conn as unknown as { id: string }).id}`)
    }
    openOutboundStreamsConcurrently(service, silentLogger(), 4, 5)
    expect(await handedOver).toBe('unidentified@old')
    await service.stop()
  })

  it('relies on methods this gossipsub version has, and refuses an object without them', () => {
    const prototype = GossipSub.prototype as unknown as Partial<OutboundStreamOpener>
    expect(typeof prototype.createOutboundStream).toBe('function')
    expect(typeof prototype.onPeerDisconnected).toBe('function')
    expect(typeof prototype.onPeerConnected).toBe('function')
    expect(() => openOutboundStreamsConcurrently({}, silentLogger())).toThrow(/gossipsub 14/)
  })
})
