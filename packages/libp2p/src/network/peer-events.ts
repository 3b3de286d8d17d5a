// The libp2p events the network follows: gossipsub subscription changes (a peer joins or leaves a
// space), gossip messages, disconnections, and bans from the penalty book (the banned peer is
// hung up on). Returns the function that stops following them.
import type { Connection, Libp2p, PeerId as Libp2pPeerId, Message, PubSub } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { describeError, type Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import type { PeerPenalties } from '../penalties.js'
import type { Libp2pChannel } from './channel.js'

/** What {@link followPeerEvents} needs from the network. */
export interface PeerEventsContext {
  readonly node: Libp2p
  readonly pubsub: PubSub
  readonly penalties: PeerPenalties
  /** `mendsync:libp2p:penalties`, where failed hang-ups of banned peers go. */
  readonly penaltiesLogger: Logger
  /** The channel of a topic, if joined. */
  channelOf(topic: string): Libp2pChannel | undefined
  /** Every open channel. */
  channels(): Iterable<Libp2pChannel>
  /** Whether the node has an open connection to `peer`. */
  isConnected(peer: Libp2pPeerId): boolean
  /** A gossipsub `message` event (validated already). */
  onGossip(message: Message): void
  /** `peer` disconnected from the node. */
  onDisconnect(peer: PeerId): void
  /** `peer` connected to the node (its first connection). */
  onConnect(peer: PeerId): void
  /** One connection to `peer` closed (the peer may hold others). */
  onConnectionClose(peer: PeerId, connectionId: string): void
}

type SubscriptionChange = CustomEvent<{
  peerId: Libp2pPeerId
  subscriptions: { topic: string; subscribe: boolean }[]
}>

/** Starts following the events; returns the function that stops. */
export function followPeerEvents(context: PeerEventsContext): () => void {
  const { node, penalties, penaltiesLogger } = context
  const onSubscription = (event: SubscriptionChange): void => {
    const peer = event.detail.peerId.toString()
    for (const { topic, subscribe } of event.detail.subscriptions) {
      const channel = context.channelOf(topic)
      if (!channel) continue
      if (subscribe && context.isConnected(event.detail.peerId)) channel.add(peer)
      else if (!subscribe) channel.remove(peer)
    }
  }
  const onMessage = (event: CustomEvent<Message>): void => context.onGossip(event.detail)
  const onDisconnect = (event: CustomEvent<Libp2pPeerId>): void => {
    const peer = event.detail.toString()
    for (const channel of context.channels()) channel.remove(peer)
    context.onDisconnect(peer)
  }
  const onConnect = (event: CustomEvent<Libp2pPeerId>): void =>
    context.onConnect(event.detail.toString())
  const onConnectionClose = (event: CustomEvent<Connection>): void =>
    context.onConnectionClose(event.detail.remotePeer.toString(), event.detail.id)
  const pubsub = context.pubsub as unknown as EventTarget
  pubsub.addEventListener('subscription-change', onSubscription as EventListener)
  pubsub.addEventListener('message', onMessage as EventListener)
  node.addEventListener('peer:disconnect', onDisconnect)
  node.addEventListener('peer:connect', onConnect)
  node.addEventListener('connection:close', onConnectionClose)
  const offBan = penalties.onBan((peer) => {
    node.hangUp(peerIdFromString(peer)).catch((error: unknown) => {
      // The connection may be gone already; the gater refuses the peer from now on anyway.
      penaltiesLogger.debug('hanging up on a banned peer failed', {
        peer,
        error: describeError(error),
      })
    })
  })
  return () => {
    pubsub.removeEventListener('subscription-change', onSubscription as EventListener)
    pubsub.removeEventListener('message', onMessage as EventListener)
    node.removeEventListener('peer:disconnect', onDisconnect)
    node.removeEventListener('peer:connect', onConnect)
    node.removeEventListener('connection:close', onConnectionClose)
    offBan()
  }
}
