// The browser side of the WebRTC test: a mendsync libp2p peer that bootstraps to the relay the
// runner passes to `window.mendsyncStart`, joins the space (a private one with the identity and
// proof given), serves pulls of the keys it holds and gossips them. State for the test runner is
// on `window.mendsyncTest`, its actions on `window.mendsyncActions`.
import { AccessVerifier, proofFromWire } from '@mendsync/core/access'
import { multiaddr } from '@multiformats/multiaddr'
import { decode } from 'cborg'
import {
  createBrowserLibp2p,
  createLibp2pNetwork,
  generateIdentity,
  identityFromBytes,
  peerTransports,
} from '../../src/index.js'

/** The page's state, polled by the runner. */
export interface TestState {
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
  dial?: (peer: string) => Promise<void>
} = {}

/** What the runner starts the page with (plain arrays: they cross `page.evaluate`). */
export interface PageConfig {
  readonly relay: string
  readonly space: string
  readonly webrtc: boolean
  /** Identity bytes (`identityToBytes`); default a fresh identity. */
  readonly key?: number[]
  /** A private space: its owner's public key, name, the trusted relay and the CBOR of a proof. */
  readonly access?: { owner: number[]; name: string; trusted: string[]; proof?: number[] }
}

async function main(config: PageConfig): Promise<void> {
  const node = await createBrowserLibp2p({
    privateKey: config.key
      ? identityFromBytes(new Uint8Array(config.key))
      : await generateIdentity(),
    bootstrap: [config.relay],
    ...(config.webrtc ? {} : { webrtc: false, relayTransport: true }),
  })
  const network = await createLibp2pNetwork(node)
  state.peerId = network.peerId
  const access = config.access
  const store: Parameters<typeof network.join>[1] = {
    async pull(_peer, keys, pullMode) {
      const found = keys.map((key) => held.get(key) ?? null)
      return pullMode === 'digest'
        ? { mode: pullMode, digests: found }
        : { mode: pullMode, states: found }
    },
    async push() {},
    async reconcile(): Promise<never> {
      throw new Error('not served in the page')
    },
  }
  const channel = await network.join(
    config.space,
    store,
    access
      ? {
          access: {
            verifier: new AccessVerifier({
              owner: new Uint8Array(access.owner),
              name: access.name,
            }),
            trustedPeers: access.trusted,
            ...(access.proof ? { proof: proofFromWire(decode(new Uint8Array(access.proof))) } : {}),
          },
        }
      : {},
  )
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
  actions.dial = async (peer) => {
    await node.dial(multiaddr(`${config.relay}/p2p-circuit/webrtc/p2p/${peer}`))
  }
  actions.pull = async (peer, key) => {
    try {
      const reply = await channel.pull(peer, [key], 'state')
      const found = reply.mode === 'state' ? reply.states[0] : null
      return found ? new TextDecoder().decode(found) : null
    } catch (error) {
      return `refused: ${(error as { code?: string }).code ?? String(error)}`
    }
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

Object.assign(window, {
  mendsyncTest: state,
  mendsyncActions: actions,
  mendsyncStart(config: PageConfig) {
    main(config).catch((error: unknown) => {
      state.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    })
  },
})
