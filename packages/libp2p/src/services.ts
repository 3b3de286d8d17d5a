// What the Node and browser factories share: gossipsub configured for mendsync, and a connection
// gater that refuses banned peers.
import { type GossipsubOpts, gossipsub } from '@chainsafe/libp2p-gossipsub'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { defaultLogger } from '@mendsync/core/toolbox'
import { GOSSIPSUB_MAX_INBOUND_DATA_BYTES } from './constants.defaults.js'
import { openOutboundStreamsConcurrently } from './gossipsub-outbound.js'
import type { PeerPenalties } from './penalties.js'
import type { ReservationGate } from './relay-reservations.js'

/**
 * gossipsub with: StrictSign (every message signed, unsigned ones dropped), no error when a
 * space has no subscribed peer yet (gossip is best effort), no self-delivery, and the penalty
 * book as the application-specific score, loopback addresses exempt from the IP colocation
 * penalty, and outbound streams opened concurrently (gossipsub-outbound.ts). `overrides` are
 * merged last.
 */
export function mendsyncGossipsub(
  penalties: PeerPenalties,
  overrides: Partial<GossipsubOpts> = {},
) {
  const factory = gossipsub({
    globalSignaturePolicy: 'StrictSign',
    allowPublishToZeroTopicPeers: true,
    emitSelf: false,
    fallbackToFloodsub: false,
    maxInboundDataLength: GOSSIPSUB_MAX_INBOUND_DATA_BYTES,
    ...overrides,
    scoreParams: {
      appSpecificScore: (peer: string) => penalties.score(peer),
      appSpecificWeight: 1,
      // Peers on the local machine (tests, a reverse proxy in front of a relay) share one IP;
      // gossipsub's IP colocation penalty would prune them all from the mesh.
      IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']),
      ...overrides.scoreParams,
    },
  })
  return (components: Parameters<typeof factory>[0]) => {
    const service = factory(components)
    openOutboundStreamsConcurrently(service, defaultLogger('mendsync:libp2p:gossipsub'))
    return service
  }
}

/**
 * `gater` with the ban list of `penalties` in front of its peer checks and, with `reservations`,
 * circuit-relay reservations restricted to peers that proved a right (see relay-reservations.ts).
 */
export function banningGater(
  penalties: PeerPenalties,
  gater: ConnectionGater = {},
  reservations?: ReservationGate,
): ConnectionGater {
  const banned = (peer: PeerId): boolean => penalties.isBanned(peer.toString())
  return {
    ...gater,
    denyDialPeer: async (peer) => banned(peer) || ((await gater.denyDialPeer?.(peer)) ?? false),
    denyInboundEncryptedConnection: async (peer, connection) =>
      banned(peer) || ((await gater.denyInboundEncryptedConnection?.(peer, connection)) ?? false),
    denyOutboundEncryptedConnection: async (peer, connection) =>
      banned(peer) || ((await gater.denyOutboundEncryptedConnection?.(peer, connection)) ?? false),
    denyInboundRelayReservation: async (peer) =>
      banned(peer) ||
      ((await gater.denyInboundRelayReservation?.(peer)) ?? false) ||
      ((await reservations?.denies(peer.toString())) ?? false),
  }
}
