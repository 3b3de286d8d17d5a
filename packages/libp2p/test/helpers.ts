// Test helpers: libp2p nodes on 127.0.0.1 and the acceptance-suite harness over them.
import type { NetworkTestHarness } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  type MendsyncLibp2p,
  type NodeLibp2pOptions,
} from '../src/index.js'

export const LOOPBACK = '/ip4/127.0.0.1/tcp/0/ws'

export async function startNode(options: Partial<NodeLibp2pOptions> = {}): Promise<MendsyncLibp2p> {
  return await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: [LOOPBACK],
    ...options,
  })
}

export async function startNetwork(
  options: Libp2pNetworkOptions = {},
  nodeOptions: Partial<NodeLibp2pOptions> = {},
): Promise<Libp2pNetwork> {
  const node = await startNode(nodeOptions)
  return await createLibp2pNetwork(node, { stopNodeOnClose: true, ...options })
}

/** Dials `to` from `from` on its first listen address. */
export async function dial(from: MendsyncLibp2p, to: MendsyncLibp2p): Promise<void> {
  const address = to.getMultiaddrs()[0]
  if (!address) throw new Error('the node does not listen')
  await from.dial(multiaddr(address.toString()))
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function libp2pHarness(
  options: Libp2pNetworkOptions = {},
): () => Promise<NetworkTestHarness> {
  return async () => {
    const networks: Libp2pNetwork[] = []
    const find = (peerId: string): Libp2pNetwork => {
      const network = networks.find((candidate) => candidate.peerId === peerId)
      if (!network) throw new Error(`unknown network ${peerId}`)
      return network
    }
    return {
      async createNetwork() {
        const network = await startNetwork(options)
        networks.push(network)
        return network
      },
      async connect(a, b) {
        await dial(find(a.peerId).node, find(b.peerId).node)
      },
      async disconnect(a, b) {
        const nodeA = find(a.peerId).node
        await nodeA.hangUp(find(b.peerId).node.peerId)
      },
      async teardown() {
        await Promise.all(networks.map((network) => network.close()))
      },
    }
  }
}
