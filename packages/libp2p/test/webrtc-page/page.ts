// The browser side of the WebRTC test: a mendsync libp2p peer that bootstraps to the relay in
// the URL fragment, joins the space, serves pulls of the keys it holds and gossips them. State
// for the test runner is on `window.mendsyncTest`, its actions on `window.mendsyncActions`.
import {
  createBrowserLibp2p,
  createLibp2pNetwork,
  generateIdentity,
  peerTransports,
} from '../../src/index.js'

interface TestState {
  peerId: string | null
  /** Per connected peer, how it is reached (`peerTransports`). */
  transports: Record<string, string>
  /** Peers of the space (the channel's). */
  peers: string[]
  /** Per replica id, how many of its gossip messages arrived (through any path). */
  heard: Record<string, number>
  error: string | null
}

const state: TestState = { peerId: null, transports: {}, peers: [], heard: {}, error: null }
const held = new Map<string, Uint8Array>()
const actions: {
  put?: (key: string, value: string) => Promise<void>
  pull?: (peer: string, key: string) => Promise<string | null>
} = {}
Object.assign(window, { mendsyncTest: state, mendsyncActions: actions })

async function main(): Promise<void> {
  const [relay, space, mode] = decodeURIComponent(location.hash.slice(1)).split(' ')
  if (!relay || !space) throw new Error('the URL fragment needs "<relay multiaddr> <space> [mode]"')
  const node = await createBrowserLibp2p({
    privateKey: await generateIdentity(),
    bootstrap: [relay],
    ...(mode === 'no-webrtc' ? { webrtc: false, relayTransport: true } : {}),
  })
  const network = await createLibp2pNetwork(node)
  state.peerId = network.peerId
  const channel = await network.join(space, {
    async pull(_peer, keys, pullMode) {
      const found = keys.map((key) => held.get(key) ?? null)
      return pullMode === 'digest'
        ? { mode: pullMode, digests: found }
        : { mode: pullMode, states: found }
    },
    async push() {},
    async reconcile() {
      throw new Error('not served in the page')
    },
  })
  channel.on('gossip', ({ message }) => {
    state.heard[message.replicaId] = (state.heard[message.replicaId] ?? 0) + 1
  })
  let counter = 0
  const gossip = async (): Promise<void> => {
    await channel.publish({
      replicaId: network.peerId,
      versionVector: new Map([[network.peerId, counter]]),
      summary: new Uint8Array(24),
      hints: [],
    })
  }
  actions.put = async (key, value) => {
    held.set(key, new TextEncoder().encode(value))
    counter += 1
    await gossip()
  }
  actions.pull = async (peer, key) => {
    const reply = await channel.pull(peer, [key], 'state')
    const found = reply.mode === 'state' ? reply.states[0] : null
    return found ? new TextDecoder().decode(found) : null
  }
  // A replica gossips its vector every few seconds; so does the page (how peers learn it).
  setInterval(() => {
    gossip().catch((error: unknown) => console.log(`gossip failed: ${String(error)}`))
  }, 1_000)
  setInterval(() => {
    state.transports = Object.fromEntries(peerTransports(node))
    state.peers = [...channel.peers()]
  }, 100)
}

main().catch((error: unknown) => {
  state.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
})
