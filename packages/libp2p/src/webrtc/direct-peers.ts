// Direct WebRTC connections between browsers of the same space. Discovery: every gossip message
// of a space topic is signed by its author (StrictSign), so a validated message's `from` is a
// peer of that space; the relay forwards them, so each device learns the others within one
// gossip interval. A peer learned that way is dialled at `<relay>/p2p-circuit/webrtc/p2p/<peer>`
// through every relay this node holds a reservation on (its own `/p2p-circuit/webrtc` addresses
// name them): the circuit carries the WebRTC signalling only, the data then flows peer to peer.
// Only the peer with the smaller id dials (no two connections from both sides dialling at once),
// at most `maxDirectPeersPerSpace` per space, and a failed peer is left alone for `retryAfterMs`.
import type { Message } from '@libp2p/interface'
import { BoundedMap, defaultLogger, describeError, type Logger } from '@mendsync/core/toolbox'
import { multiaddr } from '@multiformats/multiaddr'
import { connectionTransport } from '../connection-transport.js'
import { DIRECT_DEFAULTS } from '../constants.defaults.js'
import type { MendsyncLibp2p } from '../network.js'
import { keepConnectedOf } from '../reconnect/service.js'

/** Options of {@link dialDirectPeers} (`BrowserLibp2pOptions.webrtc`). */
export interface DirectPeersOptions {
  /** Most peers of one space dialled directly. Default `DIRECT_DEFAULTS.maxDirectPeersPerSpace` (4). */
  readonly maxDirectPeersPerSpace?: number
  /** Deadline of one direct dial, ms. Default `DIRECT_DEFAULTS.dialTimeoutMs` (20 s). */
  readonly dialTimeoutMs?: number
  /** How long a peer whose dial failed is not dialled again, ms. Default 60 s. */
  readonly retryAfterMs?: number
  /** Where dials and their failures are logged. Default `mendsync:libp2p:webrtc`. */
  readonly logger?: Logger
}

const CIRCUIT_WEBRTC = '/p2p-circuit/webrtc'

/**
 * Dials the peers of this node's spaces directly over WebRTC as their gossip arrives, for the
 * life of `node` (a dial under way ends with its deadline, or when the node stops).
 */
export function dialDirectPeers(node: MendsyncLibp2p, options: DirectPeersOptions = {}): void {
  const logger = options.logger ?? defaultLogger('mendsync:libp2p:webrtc')
  const max = options.maxDirectPeersPerSpace ?? DIRECT_DEFAULTS.maxDirectPeersPerSpace
  const timeoutMs = options.dialTimeoutMs ?? DIRECT_DEFAULTS.dialTimeoutMs
  const retryAfterMs = options.retryAfterMs ?? DIRECT_DEFAULTS.retryAfterMs
  const self = node.peerId.toString()
  /** Per peer, the topics it was seen gossiping on. */
  const topicsOf = new BoundedMap<string, Set<string>>(DIRECT_DEFAULTS.maxTrackedPeers)
  /** Per peer whose dial failed, when it may be dialled again. */
  const failedUntil = new BoundedMap<string, number>(DIRECT_DEFAULTS.maxTrackedPeers)
  /** Peers this node connected to directly, until they disconnect. */
  const dialled = new BoundedMap<string, true>(DIRECT_DEFAULTS.maxTrackedPeers)
  /** Dials under way: peer -> the topic it was dialled for. */
  const dialing = new Map<string, string>()

  const directCount = (topic: string): number => {
    let count = 0
    for (const connection of node.getConnections()) {
      if (connection.status !== 'open' || connectionTransport(connection) !== 'webrtc') continue
      if (topicsOf.peek(connection.remotePeer.toString())?.has(topic)) count++
    }
    for (const dialled of dialing.values()) if (dialled === topic) count++
    return count
  }
  /** The peer's address behind every relay this node is reachable through. */
  const addressesOf = (peer: string): string[] =>
    node
      .getMultiaddrs()
      .map((address) => address.toString())
      .filter((address) => address.includes(CIRCUIT_WEBRTC))
      .map(
        (address) =>
          `${address.slice(0, address.indexOf(CIRCUIT_WEBRTC))}${CIRCUIT_WEBRTC}/p2p/${peer}`,
      )

  const dial = async (peer: string, topic: string, addresses: string[]): Promise<void> => {
    dialing.set(peer, topic)
    try {
      for (const address of addresses) {
        try {
          await node.dial(multiaddr(address), { signal: AbortSignal.timeout(timeoutMs) })
          dialled.set(peer, true)
          logger.debug('connected directly', { peer, topic, address })
          return
        } catch (error) {
          logger.debug('direct dial failed', { peer, address, error: describeError(error) })
        }
      }
      failedUntil.set(peer, Date.now() + retryAfterMs)
    } finally {
      dialing.delete(peer)
    }
  }

  const onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    if (message.type !== 'signed') return
    const peer = message.from.toString()
    if (peer === self) return
    let topics = topicsOf.get(peer)
    if (!topics) {
      topics = new Set()
      topicsOf.set(peer, topics)
    }
    topics.add(message.topic)
    // The larger id waits to be dialled: both sides dialling would open two connections.
    if (self > peer || dialing.has(peer)) return
    if ((failedUntil.peek(peer) ?? 0) > Date.now()) return
    // Already connected without limits (the relay itself, a Node peer, a direct peer).
    const connections = node.getConnections(message.from)
    if (connections.some((c) => c.status === 'open' && c.limits === undefined)) return
    if (directCount(message.topic) >= max) return
    const addresses = addressesOf(peer)
    if (addresses.length === 0) return
    void dial(peer, message.topic, addresses)
  }

  const pubsub = node.services.pubsub as unknown as EventTarget
  pubsub.addEventListener('message', onMessage as EventListener)
  // keepConnected would redial a departed direct peer for ever (it keeps the peers this node
  // dialled); direct peers are this module's: the next gossip of the space dials again.
  node.addEventListener('peer:disconnect', (event) => {
    const peer = event.detail.toString()
    if (dialled.delete(peer)) keepConnectedOf(node)?.forget(peer)
  })
}
