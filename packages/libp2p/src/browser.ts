// The browser factory: a libp2p node that dials Node peers over WebSockets (ws:// only to the
// local machine, wss:// anywhere), with noise, yamux, identify, gossipsub (StrictSign),
// bootstrap kept connected (reconnect/) and, by default, WebRTC to the browsers of its spaces
// (signalled through the relay's circuit, see webrtc/direct-peers.ts), the circuit-relay-v2
// transport being their signalling path and the fallback.
import type { GossipsubOpts } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { webSockets } from '@libp2p/websockets'
import { defaultLogger } from '@mendsync/core/toolbox'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import type { MendsyncLibp2p } from './network.js'
import { PeerPenalties, type PeerPenaltyOptions, registerPenalties } from './penalties.js'
import type { KeepConnectedOptions } from './reconnect/keep-connected.js'
import {
  forgetPeersOnHangUp,
  KEEP_CONNECTED_SERVICE,
  keepConnectedService,
} from './reconnect/service.js'
import { banningGater, mendsyncGossipsub } from './services.js'
import { type DirectPeersOptions, dialDirectPeers } from './webrtc/direct-peers.js'
import { loadWebRTCTransport } from './webrtc/transport.js'

/** Options of {@link createBrowserLibp2p}. */
export interface BrowserLibp2pOptions {
  /** The node's identity (required; keep its bytes, e.g. in IndexedDB, to keep the peer id). */
  readonly privateKey: PrivateKey
  /**
   * Peers (`.../p2p/<peer id>` multiaddrs) dialled at start and kept connected: redialled with
   * full-jitter exponential backoff (500 ms base, 30 s cap) whenever disconnected, for ever.
   * Default `[]`.
   */
  readonly bootstrap?: readonly string[]
  /**
   * How bootstrap peers, and the peers this node dialled (at most 64, see `maxKnownPeers`), are
   * kept connected. Default `{}`. `keepConnectedOf(node).redialNow()` dials at once (e.g. when
   * the page learns it is online again).
   */
  readonly reconnect?: KeepConnectedOptions
  /**
   * Hosts that may be dialled over plain `ws://`; every other host needs `wss://`. Default
   * `['localhost', '127.0.0.1', '::1']`.
   */
  readonly insecureHosts?: readonly string[]
  /**
   * Add the circuit-relay-v2 transport (reach peers through a relay server, listen on
   * `/p2p-circuit` for a reservation). Default `false`; WebRTC adds it anyway.
   */
  readonly relayTransport?: boolean
  /**
   * Direct WebRTC connections to the browsers of this node's spaces, signalled through the
   * relay's circuit (the node listens on `/p2p-circuit` and `/webrtc`, so the relay must serve
   * circuit-relay reservations): `true`, the dialling options, or `false` for WebSockets (and
   * the relay) only. Default `true` (at most `DIRECT_DEFAULTS.maxDirectPeersPerSpace`, 4,
   * direct peers dialled per space). Where `@libp2p/webrtc` cannot load (Node without the
   * native `node-datachannel` build) the node goes on without it.
   */
  readonly webrtc?: boolean | DirectPeersOptions
  /** gossipsub options merged over mendsync's. Default `{}`. */
  readonly gossipsub?: Partial<GossipsubOpts>
  /** Penalty book settings. Default `{}`. */
  readonly penalties?: PeerPenaltyOptions
  /** Extra connection gater rules (the WebSocket rule and bans always apply). Default: none. */
  readonly connectionGater?: ConnectionGater
  /** Start the node before returning. Default `true`. */
  readonly start?: boolean
}

const DEFAULT_INSECURE_HOSTS = ['localhost', '127.0.0.1', '::1']

/**
 * True when a browser should not dial `address`: plain ws:// to a host outside `insecureHosts`,
 * or anything that is not a WebSocket address (a relayed `/p2p-circuit` address is allowed).
 */
export function denyBrowserDial(address: Multiaddr, insecureHosts: readonly string[]): boolean {
  const text = address.toString()
  if (text.includes('/p2p-circuit')) return false
  const parts = text.split('/')
  const host = parts[2] ?? ''
  if (parts.includes('wss') || (parts.includes('tls') && parts.includes('ws'))) return false
  if (parts.includes('ws')) return !insecureHosts.includes(host)
  return true
}

/** Creates (and by default starts) a browser libp2p node for mendsync. */
export async function createBrowserLibp2p(options: BrowserLibp2pOptions): Promise<MendsyncLibp2p> {
  const penalties = new PeerPenalties(options.penalties)
  const insecureHosts = options.insecureHosts ?? DEFAULT_INSECURE_HOSTS
  const extra = options.connectionGater ?? {}
  const gater: ConnectionGater = {
    ...banningGater(penalties, extra),
    denyDialMultiaddr: async (address) =>
      denyBrowserDial(address, insecureHosts) ||
      ((await extra.denyDialMultiaddr?.(address)) ?? false),
  }
  const direct =
    options.webrtc === false ? undefined : options.webrtc === true ? {} : (options.webrtc ?? {})
  const webRTC =
    direct === undefined
      ? undefined
      : await loadWebRTCTransport(direct.logger ?? defaultLogger('mendsync:libp2p:webrtc'))
  const relayed = webRTC !== undefined || options.relayTransport === true
  const transports = [
    webSockets(),
    ...(relayed ? [circuitRelayTransport()] : []),
    ...(webRTC ? [webRTC()] : []),
  ]
  const listen = [...(relayed ? ['/p2p-circuit'] : []), ...(webRTC ? ['/webrtc'] : [])]
  const config: Libp2pOptions<Record<string, unknown>> = {
    privateKey: options.privateKey,
    start: options.start ?? true,
    addresses: { listen },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    services: {
      identify: identify(),
      pubsub: mendsyncGossipsub(penalties, options.gossipsub),
      [KEEP_CONNECTED_SERVICE]: keepConnectedService({
        ...options.reconnect,
        bootstrap: options.bootstrap ?? [],
      }),
    } satisfies ServiceFactoryMap<Record<string, unknown>>,
  }
  // As in node.ts: libp2p's bootstrap dials once; keepConnected does every later dial.
  if (options.bootstrap && options.bootstrap.length > 0) {
    config.peerDiscovery = [bootstrap({ list: [...options.bootstrap] })]
  }
  const node = (await createLibp2p(config)) as unknown as MendsyncLibp2p
  registerPenalties(node, penalties)
  forgetPeersOnHangUp(node)
  if (webRTC && direct) dialDirectPeers(node, direct)
  return node
}
