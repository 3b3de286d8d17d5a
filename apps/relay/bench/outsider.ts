// An outsider of a private space built from stock libp2p + gossipsub (not mendsync's network):
// it dials a relay, subscribes to the gossip topics of spaces it holds no grant for, and counts
// every byte of every message it receives on them. A relay that enforces contract 1 admits none
// of its subscriptions into the topics, so the count stays 0 while granted devices sync.
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { spaceTopic } from '@mendsync/libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

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
  const node = await createLibp2p({
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
  })
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
