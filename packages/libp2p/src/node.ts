// The Node factory: a libp2p node that listens on WebSockets, with noise, yamux, identify,
// gossipsub (StrictSign), bootstrap kept connected (reconnect/) and, optionally, a
// circuit-relay-v2 server.
import type { GossipsubOpts } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { webSockets } from '@libp2p/websockets'
import { assertNodeVersion } from '@mendsync/core'
import { createLibp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import type { MendsyncLibp2p } from './network.js'
import { cacheEd25519VerifyKeys } from './node-signature-keys.js'
import { PeerPenalties, type PeerPenaltyOptions, registerPenalties } from './penalties.js'
import type { KeepConnectedOptions } from './reconnect/keep-connected.js'
import {
  forgetPeersOnHangUp,
  KEEP_CONNECTED_SERVICE,
  keepConnectedService,
} from './reconnect/service.js'
import { ReservationGate, registerReservationGate } from './relay-reservations.js'
import { banningGater, mendsyncGossipsub } from './services.js'

/** Options of {@link createNodeLibp2p}. */
export interface NodeLibp2pOptions {
  /** The node's identity (required; see `generateIdentity` and `@mendsync/libp2p/node`). */
  readonly privateKey: PrivateKey
  /** Listen multiaddrs. Default `['/ip4/0.0.0.0/tcp/0/ws']` (every interface, a free port). */
  readonly listen?: readonly string[]
  /** Multiaddrs announced to peers instead of the listen addresses. Default: none (listen ones). */
  readonly announce?: readonly string[]
  /**
   * Peers (`.../p2p/<peer id>` multiaddrs) dialled at start and kept connected: redialled with
   * full-jitter exponential backoff (500 ms base, 30 s cap) whenever disconnected, for ever.
   * Default `[]`.
   */
  readonly bootstrap?: readonly string[]
  /**
   * How bootstrap peers, and the peers this node dialled (at most 64, see `maxKnownPeers`), are
   * kept connected (backoff base and cap, logger, ...). Default `{}`. See `keepConnectedOf`.
   */
  readonly reconnect?: KeepConnectedOptions
  /**
   * Serve circuit-relay-v2 reservations, so peers that cannot be dialled (browsers) reach each
   * other through this node. `true` or the server's options. When the network on this node
   * serves private spaces, reservations go only to peers of a space served here (proven in a
   * private one, on a named space's allowlist, anyone for a named space open to everyone) or on
   * the network's `reservationAllowlist`. Default `false`.
   */
  readonly relayServer?: boolean | { readonly maxReservations?: number }
  /** gossipsub options merged over mendsync's (see `mendsyncGossipsub`). Default `{}`. */
  readonly gossipsub?: Partial<GossipsubOpts>
  /** Penalty book settings (ban threshold 100 points, 5 minute bans, ...). Default `{}`. */
  readonly penalties?: PeerPenaltyOptions
  /** Extra connection gater rules; banned peers are always refused. Default: none. */
  readonly connectionGater?: ConnectionGater
  /** Most open connections. Default `300`. */
  readonly maxConnections?: number
  /**
   * Inbound connections accepted per second from one host (libp2p's flood guard). Raise it when
   * many peers share one address (tests, a NAT). Default `5`.
   */
  readonly inboundConnectionThreshold?: number
  /**
   * Inbound connections being upgraded (noise handshake, muxer) at once; more are refused at
   * once (the dialler backs off and retries). Default `10` (libp2p's); a relay raises it so a
   * reconnect storm is admitted quickly.
   */
  readonly maxIncomingPendingConnections?: number
  /** Deadline of an inbound connection's upgrade, ms. Default `10_000` (libp2p's). */
  readonly inboundUpgradeTimeoutMs?: number
  /**
   * Shortest wait for the answer to libp2p's liveness ping (sent on every connection every
   * 10 s; a connection whose ping times out is aborted), ms. Default `5_000` (libp2p's, adaptive
   * above it). A relay raises it: a burst of work that stalls its event loop for a few seconds
   * must not abort every client's connection at once (they would all dial again).
   */
  readonly pingTimeoutMs?: number
  /** Start the node before returning. Default `true`. */
  readonly start?: boolean
}

/** The oldest Node.js the libp2p 2.x stack runs on (it needs `Promise.withResolvers`). */
const MIN_NODE_VERSION = '22.0.0'

/**
 * Creates (and by default starts) a Node libp2p node for mendsync. Throws `UNSUPPORTED_RUNTIME`
 * on a Node older than {@link MIN_NODE_VERSION}.
 */
export async function createNodeLibp2p(options: NodeLibp2pOptions): Promise<MendsyncLibp2p> {
  assertNodeVersion(MIN_NODE_VERSION, '@mendsync/libp2p')
  cacheEd25519VerifyKeys()
  const penalties = new PeerPenalties(options.penalties)
  const reservations = new ReservationGate()
  const relay = options.relayServer
  const services: ServiceFactoryMap<Record<string, unknown>> = {
    identify: identify(),
    pubsub: mendsyncGossipsub(penalties, options.gossipsub),
    [KEEP_CONNECTED_SERVICE]: keepConnectedService({
      ...options.reconnect,
      bootstrap: options.bootstrap ?? [],
    }),
  }
  if (relay) {
    services.relay = circuitRelayServer(
      relay === true || relay.maxReservations === undefined
        ? {}
        : { reservations: { maxReservations: relay.maxReservations } },
    )
  }
  const config: Libp2pOptions<Record<string, unknown>> = {
    privateKey: options.privateKey,
    start: options.start ?? true,
    addresses: {
      listen: [...(options.listen ?? ['/ip4/0.0.0.0/tcp/0/ws'])],
      ...(options.announce ? { announce: [...options.announce] } : {}),
    },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: banningGater(penalties, options.connectionGater, reservations),
    ...(options.pingTimeoutMs === undefined
      ? {}
      : { connectionMonitor: { pingTimeout: { minTimeout: options.pingTimeoutMs } } }),
    connectionManager: {
      maxConnections: options.maxConnections ?? 300,
      inboundConnectionThreshold: options.inboundConnectionThreshold ?? 5,
      ...(options.maxIncomingPendingConnections === undefined
        ? {}
        : { maxIncomingPendingConnections: options.maxIncomingPendingConnections }),
      ...(options.inboundUpgradeTimeoutMs === undefined
        ? {}
        : { inboundUpgradeTimeout: options.inboundUpgradeTimeoutMs }),
    },
    services,
  }
  // libp2p's bootstrap dials once (after 1 s), tags the peers (the pruner keeps them) and emits
  // `peer:discovery`; the keepConnected service does every dial after that.
  if (options.bootstrap && options.bootstrap.length > 0) {
    config.peerDiscovery = [bootstrap({ list: [...options.bootstrap] })]
  }
  const node = (await createLibp2p(config)) as unknown as MendsyncLibp2p
  registerPenalties(node, penalties)
  registerReservationGate(node, reservations)
  forgetPeersOnHangUp(node)
  return node
}
