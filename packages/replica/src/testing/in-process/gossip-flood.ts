// Where one gossip message goes: flooded through linked networks that joined the space and
// accept the originator, the way gossipsub forwards through subscribed peers whose validator
// accepted the message.
import type { PeerId } from '../../network/types.js'
import type { ChannelPart, HubPart } from './parts.js'

/** Every channel of `space` that gossip published by `origin` reaches, with its peer id. */
export function floodTargets(hub: HubPart, space: string, origin: PeerId): [PeerId, ChannelPart][] {
  const reached = new Set<PeerId>([origin])
  let frontier: PeerId[] = [origin]
  const deliveries: [PeerId, ChannelPart][] = []
  while (frontier.length > 0) {
    const next: PeerId[] = []
    for (const from of frontier) {
      for (const [peerId, other] of hub.nodes) {
        if (reached.has(peerId) || !hub.isLinked(from, peerId)) continue
        const channel = other.spaces.get(space)
        const sender = hub.nodes.get(from)?.spaces.get(space)
        if (!channel || channel.closed || !sender || !channel.access.acceptsGossip(origin, from))
          continue
        if (!sender.access.forwardsTo(peerId, origin, from)) continue
        reached.add(peerId)
        next.push(peerId)
        deliveries.push([peerId, channel])
      }
    }
    frontier = next
  }
  return deliveries
}
