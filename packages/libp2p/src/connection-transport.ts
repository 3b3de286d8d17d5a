import type { Connection } from '@libp2p/interface'
import type { MendsyncLibp2p } from './network.js'

/**
 * How a connection reaches its peer: `webrtc` a direct browser-to-browser (or Node) WebRTC
 * connection, `circuit-relay` piped through a relay's circuit, `websockets` / `tcp` a direct
 * transport connection (a browser's connection to its relay is `websockets`).
 */
export type PeerTransport = 'webrtc' | 'circuit-relay' | 'websockets' | 'tcp' | 'other'

// Better first: a peer with several connections is reported by its most direct one.
const PREFERENCE: readonly PeerTransport[] = [
  'webrtc',
  'websockets',
  'tcp',
  'circuit-relay',
  'other',
]

/** The transport of one connection, read from its remote address. */
export function connectionTransport(connection: Pick<Connection, 'remoteAddr'>): PeerTransport {
  const protocols = connection.remoteAddr.protoNames()
  // A WebRTC connection set up through a relay's circuit names both; it is direct once up.
  if (protocols.includes('webrtc') || protocols.includes('webrtc-direct')) return 'webrtc'
  if (protocols.includes('p2p-circuit')) return 'circuit-relay'
  if (protocols.includes('ws') || protocols.includes('wss') || protocols.includes('tls'))
    return 'websockets'
  if (protocols.includes('tcp')) return 'tcp'
  return 'other'
}

/** Per connected peer, the most direct transport it is connected by. */
export function peerTransports(
  node: Pick<MendsyncLibp2p, 'getConnections'>,
): Map<string, PeerTransport> {
  const transports = new Map<string, PeerTransport>()
  for (const connection of node.getConnections()) {
    if (connection.status !== 'open') continue
    const peer = connection.remotePeer.toString()
    const transport = connectionTransport(connection)
    const known = transports.get(peer)
    if (known === undefined || PREFERENCE.indexOf(transport) < PREFERENCE.indexOf(known))
      transports.set(peer, transport)
  }
  return transports
}
