// An outsider of a private space built from stock libp2p + gossipsub (not mendsync's network):
// it dials a relay, subscribes to the gossip topics of spaces it holds no grant for, and counts
// every byte of every message it receives on them. A relay that enforces contract 1 admits none
// of its subscriptions into the topics, so the count stays 0 while granted devices sync.
import { spaceTopic } from '@mendsync/libp2p'
import { startStockNode } from '@mendsync/libp2p/testing'
import { multiaddr } from '@multiformats/multiaddr'

/** A running outsider. */
export interface Outsider {
  readonly peerId: string
  /** Bytes of the messages received on the watched topics. */
  bytesReceived(): number
  /** Messages received on the watched topics. */
  messagesReceived(): number
  /** Whether `peer` announced to the outsider that it subscribes to `spaceId`'s topic. */
  seesSubscriber(spaceId: string, peer: string): boolean
  stop(): Promise<void>
}

/** Starts an outsider subscribed to the topics of `spaceIds` and dials `relayAddress`. */
export async function startOutsider(
  relayAddress: string,
  spaceIds: readonly string[],
): Promise<Outsider> {
  const node = await startStockNode()
  const topics = new Set(spaceIds.map(spaceTopic))
  let bytes = 0
  let messages = 0
  node.services.pubsub.addEventListener('message', (event) => {
    if (!topics.has(event.detail.topic)) return
    bytes += event.detail.data.byteLength
    messages += 1
  })
  for (const topic of topics) node.services.pubsub.subscribe(topic)
  await node.dial(multiaddr(relayAddress))
  return {
    peerId: node.peerId.toString(),
    bytesReceived: () => bytes,
    messagesReceived: () => messages,
    seesSubscriber: (spaceId, peer) =>
      node.services.pubsub
        .getSubscribers(spaceTopic(spaceId))
        .some((subscriber) => subscriber.toString() === peer),
    stop: async () => {
      await node.stop()
    },
  }
}
