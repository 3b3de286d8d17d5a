// The keepConnected service in real libp2p nodes over loopback: a client finds its bootstrap
// peer and a peer it dialled again after each restarted on the same port, a crowd bootstrapping
// at once gets past a small pending-connection limit, a local hang-up is not undone, and
// node.stop() leaves no redial scheduled.
import { afterEach, describe, expect, it } from 'vitest'
import {
  createNodeLibp2p,
  generateIdentity,
  keepConnectedOf,
  type MendsyncLibp2p,
  type NodeLibp2pOptions,
  type PrivateKey,
} from '../src/index.js'
import { dial, LOOPBACK, waitFor } from './helpers.js'

// Fast schedule: the test waits for reconnection, it does not time it.
const FAST = { baseMs: 100, capMs: 1000 }

const started: MendsyncLibp2p[] = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((node) => node.stop()))
})

async function node(options: Partial<NodeLibp2pOptions> & { privateKey?: PrivateKey } = {}) {
  const created = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: [LOOPBACK],
    reconnect: FAST,
    ...options,
  })
  started.push(created)
  return created
}

function connectedTo(from: MendsyncLibp2p, to: string): boolean {
  return from.getConnections().some((connection) => connection.remotePeer.toString() === to)
}

/** Resolves on `from`'s next connection to `peer`. */
function nextConnect(from: MendsyncLibp2p, peer: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<{ toString(): string }>) => {
      if (event.detail.toString() !== peer) return
      from.removeEventListener('peer:connect', listener)
      resolve()
    }
    from.addEventListener('peer:connect', listener)
  })
}

/** Stops `peer` and starts a new node with its key on the same port; returns it. */
async function restart(peer: MendsyncLibp2p, privateKey: PrivateKey, options = {}) {
  const address = peer.getMultiaddrs()[0]?.toString() ?? ''
  const port = /\/tcp\/(\d+)\//.exec(address)?.[1]
  if (port === undefined) throw new Error(`no port in ${address}`)
  await peer.stop()
  return await node({ privateKey, listen: [`/ip4/127.0.0.1/tcp/${port}/ws`], ...options })
}

describe('reconnect in real libp2p nodes', () => {
  it('reconnects a client to its bootstrap peer after the peer restarts on the same port', async () => {
    const relayKey = await generateIdentity()
    const relay = await node({ privateKey: relayKey })
    const relayId = relay.peerId.toString()
    const client = await node({ listen: [], bootstrap: [relay.getMultiaddrs()[0]!.toString()] })
    await waitFor('the first connection', () => connectedTo(client, relayId))

    let current = relay
    for (let round = 0; round < 2; round++) {
      const lost = new Promise((resolve) =>
        client.addEventListener('peer:disconnect', resolve, { once: true }),
      )
      const back = nextConnect(client, relayId)
      current = await restart(current, relayKey)
      await lost
      await back
      const restarted = current
      await waitFor('the restarted peer to see the client', () =>
        connectedTo(restarted, client.peerId.toString()),
      )
    }
    expect(keepConnectedOf(client)?.peers()).toMatchObject([
      { peer: relayId, bootstrap: true, connected: true },
    ])
  })

  it('reconnects to a peer it dialled itself after that peer restarts', async () => {
    const otherKey = await generateIdentity()
    const other = await node({ privateKey: otherKey })
    const client = await node()
    await dial(client, other)
    const otherId = other.peerId.toString()
    expect(
      keepConnectedOf(client)
        ?.peers()
        .map((peer) => peer.peer),
    ).toEqual([otherId])
    // The other side did not dial: it keeps nobody.
    expect(keepConnectedOf(other)?.peers()).toEqual([])
    const back = nextConnect(client, otherId)
    await restart(other, otherKey)
    await back
    expect(connectedTo(client, otherId)).toBe(true)
  })

  it('does not redial a peer the app hung up on, and does redial a bootstrap peer', async () => {
    const other = await node()
    const relay = await node()
    const relayId = relay.peerId.toString()
    const client = await node({ bootstrap: [relay.getMultiaddrs()[0]!.toString()] })
    await dial(client, other)
    await waitFor('the bootstrap connection', () => connectedTo(client, relayId))
    await client.hangUp(other.peerId)
    expect(
      keepConnectedOf(client)
        ?.peers()
        .map((peer) => peer.peer),
    ).toEqual([relayId])
    const back = nextConnect(client, relayId)
    await client.hangUp(relay.peerId)
    await back
    expect(connectedTo(client, other.peerId.toString())).toBe(false)
  })

  it('connects every one of a crowd bootstrapping at once past a pending-connection limit of 2', async () => {
    const hub = await node({ maxIncomingPendingConnections: 2, inboundConnectionThreshold: 1000 })
    const address = hub.getMultiaddrs()[0]!.toString()
    const crowd = await Promise.all(
      Array.from({ length: 24 }, () => node({ listen: [], bootstrap: [address] })),
    )
    const hubId = hub.peerId.toString()
    await waitFor('every client connected', () => crowd.every((c) => connectedTo(c, hubId)), 60_000)
    await waitFor('the hub to hold every client', () =>
      crowd.every((c) => connectedTo(hub, c.peerId.toString())),
    )
  }, 90_000)

  it('leaves no redial scheduled once the node stopped', async () => {
    const relay = await node()
    const client = await node({ listen: [], bootstrap: [relay.getMultiaddrs()[0]!.toString()] })
    await waitFor('connected', () => connectedTo(client, relay.peerId.toString()))
    const lost = new Promise((resolve) =>
      client.addEventListener('peer:disconnect', resolve, { once: true }),
    )
    await relay.stop()
    await lost
    await waitFor('a redial scheduled', () =>
      (keepConnectedOf(client)?.peers() ?? []).some((peer) => peer.nextDialAt !== undefined),
    )
    await client.stop()
    expect(keepConnectedOf(client)?.peers()).toMatchObject([
      { connected: false, nextDialAt: undefined },
    ])
  })
})
