// The browser side of the Browser <-> Node test: a mendsync libp2p peer in the page. It dials the
// Node peer whose multiaddr is in the URL fragment, joins the space, records gossip and serves
// pulls of `k-browser`. State for the test runner is on `window.mendsyncTest`.

import { multiaddr } from '@multiformats/multiaddr'
import { createBrowserLibp2p, createLibp2pNetwork, generateIdentity } from '../../src/index.js'

interface TestState {
  peerId: string | null
  peers: string[]
  gossip: { peer: string; counter: number }[]
  pulls: number
  error: string | null
}

const state: TestState = { peerId: null, peers: [], gossip: [], pulls: 0, error: null }
;(window as unknown as { mendsyncTest: TestState }).mendsyncTest = state

async function main(): Promise<void> {
  const [address, space] = decodeURIComponent(location.hash.slice(1)).split(' ')
  if (!address || !space) throw new Error('the URL fragment needs "<multiaddr> <space>"')
  const node = await createBrowserLibp2p({ privateKey: await generateIdentity() })
  const network = await createLibp2pNetwork(node)
  state.peerId = network.peerId
  const value = new TextEncoder().encode('from-browser')
  const channel = await network.join(space, {
    async pull(_peer, keys, mode) {
      state.pulls += 1
      const found = keys.map((key) => (key === 'k-browser' ? value : null))
      return mode === 'digest' ? { mode, digests: found } : { mode, states: found }
    },
    async push() {},
    async reconcile() {
      throw new Error('not served in the page')
    },
  })
  channel.on('peer:connect', () => {
    state.peers = [...channel.peers()]
  })
  channel.on('peer:disconnect', () => {
    state.peers = [...channel.peers()]
  })
  channel.on('gossip', ({ peer, message }) => {
    state.gossip.push({ peer, counter: message.versionVector.get('node') ?? -1 })
  })
  await node.dial(multiaddr(address))
}

main().catch((error: unknown) => {
  state.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
})
