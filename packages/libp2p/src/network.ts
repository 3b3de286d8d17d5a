// `Network` on a libp2p node. This file only wires the parts of `network/` together: the
// settings, the joined spaces' channels, the inbound protocol handlers, the outbound calls, the
// gossip validator and the peer events, with the penalty book and the logger they share.
import type { Libp2p, PubSub } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MendsyncError } from '@mendsync/core'
import { callListener, defaultLogger, describeError, type Logger } from '@mendsync/core/toolbox'
import {
  checkSpaceAccess,
  type JoinOptions,
  type Network,
  type PeerId,
  SpaceAccessCache,
  type SpaceChannel,
  type SpaceHandlers,
} from '@mendsync/replica/adapter'
import { MAX_SPACE_NAME_LENGTH } from './constants.defaults.js'
import { InboundBudget } from './framing/inbound-budget.js'
import { AccessExchange } from './network/access-exchange.js'
import { Libp2pChannel } from './network/channel.js'
import { GossipInbound } from './network/gossip-inbound.js'
import { InboundProtocols } from './network/inbound.js'
import type { Libp2pNetworkOptions, Libp2pNetworkStats, Refusal } from './network/options.js'
import { isConnected, OutboundCalls } from './network/outbound.js'
import { followPeerEvents } from './network/peer-events.js'
import { resolveSettings, type Settings } from './network/settings.js'
import { SpaceRequests } from './network/space-requests.js'
import { gossipsubIncompatibility, TopicGate } from './network/topic-gate.js'
import { type PeerPenalties, penaltiesOf } from './penalties.js'
import { type ReservationGate, reservationGateOf } from './relay-reservations.js'

/** A libp2p node the network can drive: it needs a gossipsub (or other PubSub) `pubsub` service. */
export type MendsyncLibp2p = Libp2p<{ pubsub: PubSub }>

/** The libp2p {@link Network}, with its node and diagnostics. */
export interface Libp2pNetwork extends Network {
  readonly node: MendsyncLibp2p
  stats(): Libp2pNetworkStats
}

/** Creates the mendsync network on a started libp2p node with a gossipsub `pubsub` service. */
export async function createLibp2pNetwork(
  node: MendsyncLibp2p,
  options: Libp2pNetworkOptions = {},
): Promise<Libp2pNetwork> {
  const network = new Libp2pNetworkImpl(node, options)
  await network.start()
  return network
}

class Libp2pNetworkImpl implements Libp2pNetwork {
  readonly node: MendsyncLibp2p
  readonly peerId: PeerId
  private readonly settings: Settings
  private readonly penalties: PeerPenalties
  private readonly logger: Logger
  private readonly penaltiesLogger: Logger
  private readonly lifetime = new AbortController()
  private readonly channels = new Map<string, Libp2pChannel>()
  private readonly byTopic = new Map<string, Libp2pChannel>()
  private readonly outbound: OutboundCalls
  private readonly inbound: InboundProtocols
  private readonly gossip: GossipInbound
  /** What peers may make this node buffer (per peer, for peers without a grant, in all). */
  private readonly budget: InboundBudget
  /** The proof exchange of private spaces. */
  private readonly access: AccessExchange
  /** Private spaces opened on demand, when `onSpaceRequested` is set. */
  private readonly requests: SpaceRequests | undefined
  /** Keeps private topics from peers that proved nothing; `null` when pubsub is not gossipsub. */
  private readonly gate: TopicGate | null
  /** The node's relay reservation check (nodes from `createNodeLibp2p`). */
  private readonly reservations: ReservationGate | undefined
  private readonly reservationAllowlist: ReadonlySet<PeerId>
  private stopFollowing: (() => void) | null = null

  constructor(node: MendsyncLibp2p, options: Libp2pNetworkOptions) {
    this.node = node
    this.peerId = node.peerId.toString()
    this.logger = options.logger ?? defaultLogger('mendsync:libp2p')
    this.settings = resolveSettings(options, this.logger)
    this.penalties = options.penalties ?? penaltiesOf(node)
    this.penaltiesLogger = this.logger.child('penalties')
    if (!node.services?.pubsub) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        'the libp2p node needs a gossipsub `pubsub` service',
      )
    }
    this.budget = new InboundBudget(
      options.inboundBudget ?? {},
      this.settings.rpc.wire.maxFrameBytes,
      (peer) => [...this.channels.values()].some((channel) => channel.allows(peer)),
    )
    this.outbound = new OutboundCalls({
      node,
      settings: this.settings,
      report: this.report,
      logger: this.logger.child('outbound'),
    })
    this.inbound = new InboundProtocols({
      node,
      settings: this.settings,
      report: this.report,
      logger: this.logger.child('inbound'),
      budget: this.budget,
      channel: (space) => this.channels.get(space),
      opening: (space) => this.requests?.settled(space) ?? Promise.resolve(),
      refused: (refusal) => this.refused(refusal),
    })
    this.gossip = new GossipInbound({
      report: this.report,
      logger: this.logger.child('gossip'),
      channelOf: (topic) => this.byTopic.get(topic),
      refused: (refusal) => this.refused(refusal),
    })
    this.requests = options.onSpaceRequested
      ? new SpaceRequests(
          options.onSpaceRequested,
          (space) => this.channels.has(space),
          this.logger.child('spaces'),
        )
      : undefined
    this.access = new AccessExchange({
      node,
      settings: this.settings,
      report: this.report,
      logger: this.logger.child('access'),
      budget: this.budget,
      channel: (space) => this.channels.get(space),
      requests: this.requests,
    })
    this.gate =
      gossipsubIncompatibility(node.services.pubsub) === null
        ? new TopicGate(
            node.services.pubsub,
            {
              admits: (peer, topic) => this.byTopic.get(topic)?.admits(peer) ?? false,
              announces: (topic) => this.byTopic.get(topic)?.access?.proof !== undefined,
              held: (peer, topic) => {
                const channel = this.byTopic.get(topic)
                if (channel?.access) this.access.present(peer, channel)
              },
            },
            this.logger.child('gate'),
          )
        : null
    this.reservationAllowlist = new Set(options.reservationAllowlist ?? [])
    this.reservations = reservationGateOf(node)
    this.reservations?.setPolicy({
      restricted: () =>
        this.requests !== undefined ||
        [...this.channels.values()].some((channel) => channel.access !== null),
      // A peer of any space served here may hold one: a proven peer of a private space, a peer
      // on a named space's allowlist, anyone when a named space is open to everyone.
      allows: (peer) =>
        this.reservationAllowlist.has(peer) ||
        [...this.channels.values()].some((channel) => channel.allows(peer)),
    })
  }

  private get pubsub(): PubSub {
    return this.node.services.pubsub
  }

  async start(): Promise<void> {
    await this.inbound.start()
    await this.access.start()
    this.stopFollowing = followPeerEvents({
      node: this.node,
      pubsub: this.pubsub,
      penalties: this.penalties,
      penaltiesLogger: this.penaltiesLogger,
      channelOf: (topic) => this.byTopic.get(topic),
      channels: () => this.channels.values(),
      isConnected: (peer) => isConnected(this.node, peer),
      onGossip: (message) => this.gossip.deliver(message),
      onDisconnect: (peer) => this.outbound.disconnected(peer),
      onConnect: (peer) => {
        for (const channel of this.channels.values()) {
          if (channel.access?.isTrusted(peer)) this.access.present(peer, channel)
        }
      },
      onConnectionClose: (peer, connectionId) => {
        this.access.connectionClosed(connectionId)
        for (const channel of this.channels.values()) channel.access?.forget(peer, connectionId)
      },
    })
  }

  stats(): Libp2pNetworkStats {
    const counts = this.gossip.counts
    return {
      penalties: this.penalties,
      gossipAccepted: counts.accepted,
      gossipRejected: counts.rejected,
      gossipIgnored: counts.ignored,
      inboundStreams: this.inbound.streams.size,
      inboundBufferedBytes: this.budget.inUse,
      ...this.access.counts,
      heldSubscriptions: this.gate?.heldCount ?? 0,
    }
  }

  /** A peer broke the protocol: penalise it (its gossipsub score drops; a ban disconnects it). */
  private readonly report = (peer: string, reason: string): void => {
    this.penaltiesLogger.debug('penalised a peer', {
      peer,
      reason,
      points: this.settings.penaltyPoints,
    })
    this.penalties.penalize(peer, this.settings.penaltyPoints, reason)
  }

  /** Tells `onRefused` about a refusal; a listener that throws is logged, never rethrown. */
  private refused(refusal: Refusal): void {
    const listener = this.settings.onRefused
    if (listener) callListener(this.logger, listener, refusal)
  }

  async join(space: string, handlers: SpaceHandlers, options?: JoinOptions): Promise<SpaceChannel> {
    if (this.lifetime.signal.aborted) throw new MendsyncError('CLOSED', 'the network is closed')
    if (typeof space !== 'string' || space.length === 0 || space.length > MAX_SPACE_NAME_LENGTH) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `space must be a string of 1 to ${MAX_SPACE_NAME_LENGTH} characters`,
      )
    }
    if (this.channels.has(space)) {
      throw new MendsyncError('INVALID_ARGUMENT', `space ${space} is already joined`)
    }
    const allow = options?.allow
    if (
      allow !== undefined &&
      (!Array.isArray(allow) || !allow.every((p) => typeof p === 'string'))
    ) {
      throw new MendsyncError('INVALID_ARGUMENT', 'allow must be a list of peer ids')
    }
    const access = options?.access
    checkSpaceAccess(space, access, allow)
    if (access !== undefined && this.gate === null) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `private spaces need gossipsub as the pubsub service: ${gossipsubIncompatibility(this.pubsub)}`,
      )
    }
    const cache = access ? new SpaceAccessCache(access, this.logger.child('access')) : null
    const channel = new Libp2pChannel(
      {
        peerId: this.peerId,
        pubsub: this.pubsub,
        settings: this.settings,
        lifetime: this.lifetime.signal,
        outbound: this.outbound,
        report: this.report,
        logger: this.logger.child('channel'),
        detach: (left) => this.detach(left),
      },
      space,
      handlers,
      allow,
      cache,
    )
    cache?.onChange((peer) => this.accessChanged(channel, peer))
    this.channels.set(space, channel)
    this.byTopic.set(channel.topic, channel)
    this.pubsub.topicValidators.set(channel.topic, (peer, message) =>
      this.gossip.validate(channel, peer, message),
    )
    this.pubsub.subscribe(channel.topic)
    for (const peer of this.pubsub.getSubscribers(channel.topic)) {
      if (isConnected(this.node, peer)) channel.add(peer.toString())
    }
    if (cache) {
      this.gate?.updateTopic(channel.topic)
      const presentTo = new Set(this.gate?.heldPeers(channel.topic) ?? [])
      for (const connection of this.node.getConnections()) {
        const peer = connection.remotePeer.toString()
        if (cache.isTrusted(peer)) presentTo.add(peer)
      }
      for (const peer of presentTo) this.access.present(peer, channel)
    }
    return channel
  }

  /** `peer`'s rights in `channel`'s space may have changed: apply them to gossip and peers. */
  private accessChanged(channel: Libp2pChannel, peer: PeerId): void {
    if (channel.closed) return
    this.gate?.update(peer, channel.topic)
    const subscribed = this.gate?.isSubscribed(peer, channel.topic) ?? false
    if (channel.admits(peer) && subscribed && isConnected(this.node, peerIdFromString(peer))) {
      channel.add(peer)
    } else if (!channel.admits(peer)) {
      channel.remove(peer)
    }
    this.reservations?.changed(peer)
  }

  /** Forgets a channel that shut down: its topic, validator and subscription. */
  private detach(channel: Libp2pChannel): void {
    if (this.channels.get(channel.space) !== channel) return
    this.channels.delete(channel.space)
    this.byTopic.delete(channel.topic)
    this.pubsub.topicValidators.delete(channel.topic)
    if (channel.access) this.gate?.updateTopic(channel.topic)
    try {
      this.pubsub.unsubscribe(channel.topic)
    } catch (error) {
      // gossipsub throws once the node is stopping; the subscription ends with it.
      this.logger.debug('unsubscribing from a space topic failed', {
        topic: channel.topic,
        error: describeError(error),
      })
    }
  }

  async close(): Promise<void> {
    if (this.lifetime.signal.aborted) return
    const error = new MendsyncError('NETWORK_CLOSED', 'the network was closed')
    this.lifetime.abort(error)
    for (const channel of [...this.channels.values()]) channel.shutdown()
    this.stopFollowing?.()
    this.stopFollowing = null
    await this.inbound.stop(error)
    await this.access.stop(error)
    this.reservations?.setPolicy(null)
    this.budget.close(error)
    this.outbound.close(error)
    if (this.settings.stopNodeOnClose) await this.node.stop()
  }
}
