// `Network` on a libp2p node: one gossipsub topic per space, the pull / push / reconcile
// protocols, per-space allowlists, peer lifecycle events and misbehaviour penalties.
import type {
  Connection,
  Libp2p,
  PeerId as Libp2pPeerId,
  Message,
  PubSub,
  Stream,
} from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import {
  assertGossipMessage,
  type CallOptions,
  Emitter,
  type GossipMessage,
  type JoinOptions,
  type KeyState,
  type Network,
  type PeerId,
  type PullMode,
  type PullResult,
  type ReconcileDriver,
  type ReconcileOutcome,
  remoteError,
  runCall,
  SPACE_EVENT_NAMES,
  type SpaceChannel,
  type SpaceEvents,
  type SpaceHandlers,
} from '@mendsync/replica'
import {
  asPullResults,
  chunkStates,
  DEFAULT_WIRE_LIMITS,
  decodePullRequest,
  decodePushRequest,
  encodePullRequest,
  encodePushRequest,
  type WireLimits,
} from './codec.js'
import { InboundBudget, type InboundBudgetOptions } from './framing/inbound-budget.js'
import {
  DEFAULT_GOSSIP_LIMITS,
  decodeGossip,
  encodeGossip,
  type GossipLimits,
  GossipReceiver,
  GossipSender,
} from './gossip.js'
import { BoundedMap } from './limits.js'
import { type PeerPenalties, penaltiesOf } from './penalties.js'
import { acceptReconcile, initiateReconcile, type ReconcileLimits } from './reconcile.js'
import {
  FramedStream,
  type InboundRequest,
  RpcClient,
  type RpcLimits,
  serveRequests,
} from './rpc.js'

/** Protocol id of `pull`: keys in, their states or digests out. */
export const PULL_PROTOCOL = '/mendsync/pull/1.0.0'
/** Protocol id of `push`: causal states to join, acknowledged. */
export const PUSH_PROTOCOL = '/mendsync/push/1.0.0'
/** Protocol id of `reconcile`: a reconciliation session, then the differing keys' states. */
export const RECONCILE_PROTOCOL = '/mendsync/reconcile/1.0.0'

/** The gossipsub topic of a space. */
export function spaceTopic(space: string): string {
  return `/mendsync/space/${space}/1`
}

/** A libp2p node the network can drive: it needs a gossipsub (or other PubSub) `pubsub` service. */
export type MendsyncLibp2p = Libp2p<{ pubsub: PubSub }>

/** Options of {@link createLibp2pNetwork}; every one has a default. */
export interface Libp2pNetworkOptions {
  /** Deadline of `pull` and `push` when the caller gives none, ms. Default `10_000`. */
  readonly defaultTimeoutMs?: number
  /** Deadline of `reconcile` (initiator) and of an inbound session (responder), ms. Default `60_000`. */
  readonly reconcileTimeoutMs?: number
  /** How long an inbound pull or push handler may run before the peer gets an error, ms. Default `30_000`. */
  readonly handlerTimeoutMs?: number
  /**
   * Largest frame of the direct protocols, bytes (length prefix excluded). Pushes and reconcile
   * states are split to fit; a pull whose answer would not fit fails `FRAME_TOO_LARGE` (ask for
   * fewer keys). Default `4 MiB`.
   */
  readonly maxFrameBytes?: number
  /** Most keys in one pull, or states in one push or reconcile frame. Default `10_000`. */
  readonly maxKeysPerFrame?: number
  /** Longest key, replica id or space name accepted from a peer. Default `1024`. */
  readonly maxKeyLength?: number
  /** Requests in flight per peer and protocol (one stream); both directions. Default `32`. */
  readonly maxInFlight?: number
  /** Calls that may wait for an in-flight slot per peer and protocol before `OVERLOADED`. Default `256`. */
  readonly maxQueued?: number
  /** Inbound pull (and push) streams per connection. Default `4`. */
  readonly maxInboundStreams?: number
  /** Concurrent inbound reconciliation sessions per connection. Default `8`. */
  readonly maxInboundReconcileStreams?: number
  /** Most session messages in one reconciliation. Default `10_000`. */
  readonly maxReconcileMessages?: number
  /** Most state bytes received in one reconciliation. Default `64 MiB`. */
  readonly maxReconcileStateBytes?: number
  /** Gossip message limits (see {@link DEFAULT_GOSSIP_LIMITS}: 64 KiB, 256 hints, ...). */
  readonly gossipLimits?: Partial<GossipLimits>
  /** A full version vector every this many gossip messages of a space (deltas between). Default `8`. */
  readonly fullVectorEvery?: number
  /** Gossip messages accepted per second from one sender (beyond: ignored). Default `20`. */
  readonly gossipRatePerSecond?: number
  /** Gossip burst one sender may send at once. Default `40`. */
  readonly gossipBurst?: number
  /** Most senders / peers tracked per space (sequence numbers, buckets, recent peers). Default `4096`. */
  readonly maxTrackedPeers?: number
  /** Penalty points for one bad frame or rejected gossip message. Default `10`. */
  readonly penaltyPoints?: number
  /** The penalty book. Default: the node's (wired into gossipsub scoring and the gater by the factories). */
  readonly penalties?: PeerPenalties
  /** Run the direct protocols over limited (relayed) connections too. Default `false`. */
  readonly runOnLimitedConnection?: boolean
  /** Stop the libp2p node when the network closes. Default `false` (the caller owns it). */
  readonly stopNodeOnClose?: boolean
  /**
   * Reuse one long-lived stream per peer and protocol for pulls and pushes. `false` opens a new
   * stream per request (the benchmark's baseline; slower). Default `true`.
   */
  readonly reuseStreams?: boolean
  /**
   * Called whenever a space's allowlist refuses a peer: an inbound pull, push or reconcile
   * request (the peer gets `ACCESS_DENIED`), or a gossip message it signed (rejected by the topic
   * validator). For logging and metrics; a throwing listener is ignored. Default: none.
   */
  readonly onRefused?: (refusal: Refusal) => void
  /** Caps on inbound bytes buffered at once (per peer, without a grant, global): see README "Inbound limits". */
  readonly inboundBudget?: InboundBudgetOptions
}

/** What {@link Libp2pNetworkOptions.onRefused} receives. */
export interface Refusal {
  readonly peer: PeerId
  readonly space: string
  readonly protocol: 'pull' | 'push' | 'reconcile' | 'gossip'
}

/** Counters for diagnostics and tests. */
export interface Libp2pNetworkStats {
  /** Bad frames and rejected gossip seen, by peer. */
  readonly penalties: PeerPenalties
  readonly gossipAccepted: number
  readonly gossipRejected: number
  readonly gossipIgnored: number
  readonly inboundStreams: number
  /** Inbound frame bytes admitted and not yet handled, all peers. */
  readonly inboundBufferedBytes: number
}

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

interface Settings {
  readonly defaultTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly rpc: RpcLimits
  readonly reconcile: ReconcileLimits
  readonly gossip: GossipLimits
  readonly fullVectorEvery: number
  readonly gossipRatePerSecond: number
  readonly gossipBurst: number
  readonly maxTrackedPeers: number
  readonly penaltyPoints: number
  readonly maxInboundStreams: number
  readonly maxInboundReconcileStreams: number
  readonly runOnLimitedConnection: boolean
  readonly stopNodeOnClose: boolean
  readonly reuseStreams: boolean
  readonly onRefused: ((refusal: Refusal) => void) | undefined
}

function settingsOf(options: Libp2pNetworkOptions): Settings {
  const positive = (name: keyof Libp2pNetworkOptions, fallback: number): number => {
    const value = options[name] ?? fallback
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new MendsyncError('INVALID_ARGUMENT', `${name} must be a positive number`)
    }
    return value
  }
  const wire: WireLimits = {
    maxFrameBytes: positive('maxFrameBytes', DEFAULT_WIRE_LIMITS.maxFrameBytes),
    maxKeysPerFrame: positive('maxKeysPerFrame', DEFAULT_WIRE_LIMITS.maxKeysPerFrame),
    maxKeyLength: positive('maxKeyLength', DEFAULT_WIRE_LIMITS.maxKeyLength),
  }
  const reconcileTimeoutMs = positive('reconcileTimeoutMs', 60_000)
  return {
    defaultTimeoutMs: positive('defaultTimeoutMs', 10_000),
    reconcileTimeoutMs,
    rpc: {
      wire,
      maxInFlight: positive('maxInFlight', 32),
      maxQueued: positive('maxQueued', 256),
      handlerTimeoutMs: positive('handlerTimeoutMs', 30_000),
    },
    reconcile: {
      wire,
      maxMessages: positive('maxReconcileMessages', 10_000),
      maxStateBytes: positive('maxReconcileStateBytes', 64 * 1024 * 1024),
    },
    gossip: { ...DEFAULT_GOSSIP_LIMITS, maxKeyLength: wire.maxKeyLength, ...options.gossipLimits },
    fullVectorEvery: positive('fullVectorEvery', 8),
    gossipRatePerSecond: positive('gossipRatePerSecond', 20),
    gossipBurst: positive('gossipBurst', 40),
    maxTrackedPeers: positive('maxTrackedPeers', 4096),
    penaltyPoints: positive('penaltyPoints', 10),
    maxInboundStreams: positive('maxInboundStreams', 4),
    maxInboundReconcileStreams: positive('maxInboundReconcileStreams', 8),
    runOnLimitedConnection: options.runOnLimitedConnection ?? false,
    stopNodeOnClose: options.stopNodeOnClose ?? false,
    reuseStreams: options.reuseStreams ?? true,
    onRefused: options.onRefused,
  }
}

class Libp2pNetworkImpl implements Libp2pNetwork {
  readonly node: MendsyncLibp2p
  readonly peerId: PeerId
  readonly settings: Settings
  readonly penalties: PeerPenalties
  readonly lifetime = new AbortController()
  readonly channels = new Map<string, Libp2pChannel>()
  private readonly byTopic = new Map<string, Libp2pChannel>()
  private readonly clients = new Map<string, { pull: RpcClient; push: RpcClient }>()
  readonly inbound = new Set<FramedStream>()
  readonly budget: InboundBudget
  private readonly cleanups: (() => void)[] = []
  counters = { accepted: 0, rejected: 0, ignored: 0 }

  constructor(node: MendsyncLibp2p, options: Libp2pNetworkOptions) {
    this.node = node
    this.peerId = node.peerId.toString()
    this.settings = settingsOf(options)
    this.penalties = options.penalties ?? penaltiesOf(node)
    this.budget = new InboundBudget(
      options.inboundBudget ?? {},
      this.settings.rpc.wire.maxFrameBytes,
      (peer) => [...this.channels.values()].some((channel) => channel.allows(peer)),
    )
    if (!node.services?.pubsub) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        'the libp2p node needs a gossipsub `pubsub` service',
      )
    }
  }

  get pubsub(): PubSub {
    return this.node.services.pubsub
  }

  async start(): Promise<void> {
    const { settings, node } = this
    const track = this.inbound
    const report = this.report
    const requestProtocols = [
      [PULL_PROTOCOL, (bytes: Uint8Array, peer: PeerId) => this.decodePull(bytes, peer)],
      [PUSH_PROTOCOL, (bytes: Uint8Array, peer: PeerId) => this.decodePush(bytes, peer)],
    ] as const
    for (const [protocol, decode] of requestProtocols) {
      await node.handle(
        protocol,
        ({ stream, connection }) => {
          void serveRequests(
            stream,
            connection,
            settings.rpc,
            (bytes) => decode(bytes, connection.remotePeer.toString()),
            report,
            track,
            this.budget,
          ).catch(() => {})
        },
        {
          maxInboundStreams: settings.maxInboundStreams,
          runOnLimitedConnection: settings.runOnLimitedConnection,
        },
      )
    }
    await node.handle(
      RECONCILE_PROTOCOL,
      ({ stream, connection }) => {
        void this.serveReconcile(stream, connection)
      },
      {
        maxInboundStreams: settings.maxInboundReconcileStreams,
        runOnLimitedConnection: settings.runOnLimitedConnection,
      },
    )

    const onSubscription = (
      event: CustomEvent<{
        peerId: Libp2pPeerId
        subscriptions: { topic: string; subscribe: boolean }[]
      }>,
    ): void => {
      const peer = event.detail.peerId.toString()
      for (const { topic, subscribe } of event.detail.subscriptions) {
        const channel = this.byTopic.get(topic)
        if (!channel) continue
        if (subscribe && this.isConnected(event.detail.peerId)) channel.add(peer)
        else if (!subscribe) channel.remove(peer)
      }
    }
    const onMessage = (event: CustomEvent<Message>): void => this.onGossip(event.detail)
    const onDisconnect = (event: CustomEvent<Libp2pPeerId>): void => {
      const peer = event.detail.toString()
      for (const channel of this.channels.values()) channel.remove(peer)
      const clients = this.clients.get(peer)
      if (clients) {
        this.clients.delete(peer)
        const error = new MendsyncError('NETWORK_CLOSED', `disconnected from ${peer}`)
        clients.pull.close(error)
        clients.push.close(error)
      }
    }
    const pubsub = this.pubsub as unknown as EventTarget
    pubsub.addEventListener('subscription-change', onSubscription as EventListener)
    pubsub.addEventListener('message', onMessage as EventListener)
    node.addEventListener('peer:disconnect', onDisconnect)
    const offBan = this.penalties.onBan((peer) => {
      void node.hangUp(peerIdFromString(peer)).catch(() => {})
    })
    this.cleanups.push(
      () => pubsub.removeEventListener('subscription-change', onSubscription as EventListener),
      () => pubsub.removeEventListener('message', onMessage as EventListener),
      () => node.removeEventListener('peer:disconnect', onDisconnect),
      offBan,
    )
  }

  stats(): Libp2pNetworkStats {
    return {
      penalties: this.penalties,
      gossipAccepted: this.counters.accepted,
      gossipRejected: this.counters.rejected,
      gossipIgnored: this.counters.ignored,
      inboundStreams: this.inbound.size,
      inboundBufferedBytes: this.budget.inUse,
    }
  }

  /** A peer broke the protocol: penalise it (its gossipsub score drops; a ban disconnects it). */
  readonly report = (peer: string, reason: string): void => {
    this.penalties.penalize(peer, this.settings.penaltyPoints, reason)
  }

  isConnected(peer: Libp2pPeerId): boolean {
    return this.node.getConnections(peer).some((connection) => connection.status === 'open')
  }

  async join(space: string, handlers: SpaceHandlers, options?: JoinOptions): Promise<SpaceChannel> {
    if (this.lifetime.signal.aborted) throw new MendsyncError('CLOSED', 'the network is closed')
    if (typeof space !== 'string' || space.length === 0 || space.length > 256) {
      throw new MendsyncError('INVALID_ARGUMENT', 'space must be a string of 1 to 256 characters')
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
    const channel = new Libp2pChannel(this, space, handlers, allow)
    this.channels.set(space, channel)
    this.byTopic.set(channel.topic, channel)
    this.pubsub.topicValidators.set(channel.topic, (peer, message) =>
      this.validateGossip(channel, peer, message),
    )
    this.pubsub.subscribe(channel.topic)
    for (const peer of this.pubsub.getSubscribers(channel.topic)) {
      if (this.isConnected(peer)) channel.add(peer.toString())
    }
    return channel
  }

  /** Called by a channel's leave(). */
  detach(channel: Libp2pChannel): void {
    if (this.channels.get(channel.space) !== channel) return
    this.channels.delete(channel.space)
    this.byTopic.delete(channel.topic)
    this.pubsub.topicValidators.delete(channel.topic)
    try {
      this.pubsub.unsubscribe(channel.topic)
    } catch {
      // the node is stopping
    }
  }

  async close(): Promise<void> {
    if (this.lifetime.signal.aborted) return
    const error = new MendsyncError('NETWORK_CLOSED', 'the network was closed')
    this.lifetime.abort(error)
    for (const channel of [...this.channels.values()]) channel.shutdown()
    for (const cleanup of this.cleanups.splice(0)) cleanup()
    await Promise.all(
      [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL].map((protocol) =>
        this.node.unhandle(protocol).catch(() => {}),
      ),
    )
    for (const clients of this.clients.values()) {
      clients.pull.close(error)
      clients.push.close(error)
    }
    this.clients.clear()
    for (const framed of [...this.inbound]) framed.reset(error)
    this.inbound.clear()
    this.budget.close(error)
    if (this.settings.stopNodeOnClose) await this.node.stop()
  }

  // --- gossip -------------------------------------------------------------------------------

  private readonly validated = new WeakMap<Message, GossipMessage | null>()

  private validateGossip(
    channel: Libp2pChannel,
    propagationSource: Libp2pPeerId,
    message: Message,
  ): TopicValidatorResult {
    try {
      const signed = message.type === 'signed'
      const from = signed ? message.from.toString() : propagationSource.toString()
      const allowed = channel.allows(from)
      const result = channel.receiver.validate(from, signed, allowed, message.data)
      if (signed && !allowed) this.refused({ peer: from, space: channel.space, protocol: 'gossip' })
      if (result.verdict === 'reject') {
        this.counters.rejected += 1
        this.report(propagationSource.toString(), `gossip rejected: ${result.reason}`)
        return TopicValidatorResult.Reject
      }
      if (result.verdict === 'ignore') {
        this.counters.ignored += 1
        return TopicValidatorResult.Ignore
      }
      this.counters.accepted += 1
      this.validated.set(message, result.message)
      return TopicValidatorResult.Accept
    } catch {
      this.counters.rejected += 1
      return TopicValidatorResult.Reject
    }
  }

  private onGossip(message: Message): void {
    if (message.type !== 'signed') return
    const channel = this.byTopic.get(message.topic)
    if (!channel) return
    const decoded = this.validated.get(message)
    this.validated.delete(message)
    if (!decoded) return
    channel.emit('gossip', { peer: message.from.toString(), message: decoded })
  }

  // --- outbound -----------------------------------------------------------------------------

  client(peer: PeerId, kind: 'pull' | 'push'): RpcClient {
    let clients = this.clients.get(peer)
    if (!clients) {
      let remote: Libp2pPeerId
      try {
        remote = peerIdFromString(peer)
      } catch (cause) {
        throw new MendsyncError('PEER_UNAVAILABLE', `${peer} is not a peer id`, { cause })
      }
      if (!this.isConnected(remote)) {
        throw new MendsyncError('PEER_UNAVAILABLE', `not connected to ${peer}`)
      }
      const make = (protocol: string) =>
        new RpcClient({
          protocol,
          peer: remote,
          connections: () => this.node.getConnections(remote),
          limits: this.settings.rpc,
          report: this.report,
          runOnLimitedConnection: this.settings.runOnLimitedConnection,
          reuseStreams: this.settings.reuseStreams,
        })
      clients = { pull: make(PULL_PROTOCOL), push: make(PUSH_PROTOCOL) }
      this.clients.set(peer, clients)
    }
    return clients[kind]
  }

  connectionTo(peer: PeerId): Connection {
    let remote: Libp2pPeerId
    try {
      remote = peerIdFromString(peer)
    } catch (cause) {
      throw new MendsyncError('PEER_UNAVAILABLE', `${peer} is not a peer id`, { cause })
    }
    const open = this.node
      .getConnections(remote)
      .filter((connection) => connection.status === 'open')
      .filter(
        (connection) => this.settings.runOnLimitedConnection || connection.limits === undefined,
      )
    const connection = open[0]
    if (!connection) throw new MendsyncError('PEER_UNAVAILABLE', `not connected to ${peer}`)
    return connection
  }

  // --- inbound ------------------------------------------------------------------------------

  /** The channel serving `space` for `peer`, or the refusal the peer gets. */
  access(space: string, peer: PeerId, protocol: Refusal['protocol']): Libp2pChannel {
    const channel = this.channels.get(space)
    if (!channel || channel.closed) {
      throw new MendsyncError('PEER_UNAVAILABLE', `space ${space} is not served here`)
    }
    if (!channel.allows(peer)) {
      this.refused({ peer, space, protocol })
      throw new MendsyncError('ACCESS_DENIED', `not allowed in space ${space}`)
    }
    return channel
  }

  refused(refusal: Refusal): void {
    try {
      this.settings.onRefused?.(refusal)
    } catch {
      // the listener's problem
    }
  }

  private decodePull(bytes: Uint8Array, peer: PeerId): InboundRequest {
    const request = decodePullRequest(bytes, this.settings.rpc.wire)
    return {
      id: request.id,
      run: async () => {
        const channel = this.access(request.space, peer, 'pull')
        const result = await channel.handlers.pull(peer, request.keys, request.mode)
        const list: unknown = result?.mode === 'digest' ? result.digests : result?.states
        if (
          result?.mode !== request.mode ||
          !Array.isArray(list) ||
          list.length !== request.keys.length ||
          !list.every((entry) => entry === null || entry instanceof Uint8Array)
        ) {
          throw new MendsyncError(
            'INVALID_ARGUMENT',
            'the pull handler returned a malformed result',
          )
        }
        return [list]
      },
    }
  }

  private decodePush(bytes: Uint8Array, peer: PeerId): InboundRequest {
    const request = decodePushRequest(bytes, this.settings.rpc.wire)
    return {
      id: request.id,
      run: async () => {
        const channel = this.access(request.space, peer, 'push')
        await channel.handlers.push(peer, request.states)
        return []
      },
    }
  }

  private async serveReconcile(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const framed = new FramedStream(stream, this.settings.reconcile.wire.maxFrameBytes, 64, {
      admit: (bytes) => this.budget.reserve(peer, bytes),
    })
    this.inbound.add(framed)
    const timer = setTimeout(
      () => framed.reset(new MendsyncError('TIMEOUT', 'reconciliation took too long')),
      this.settings.reconcileTimeoutMs,
    )
    try {
      await acceptReconcile(framed, this.settings.reconcile, peer, this.report, async (space) => {
        const channel = this.access(space, peer, 'reconcile')
        return await channel.handlers.reconcile(peer)
      })
    } catch (error) {
      framed.reset(error instanceof Error ? error : new Error(String(error)))
    } finally {
      clearTimeout(timer)
      this.inbound.delete(framed)
    }
  }
}

const RECENT_PEERS = 1024

class Libp2pChannel implements SpaceChannel {
  readonly space: string
  readonly topic: string
  readonly handlers: SpaceHandlers
  readonly receiver: GossipReceiver
  private readonly network: Libp2pNetworkImpl
  private readonly sender: GossipSender
  private readonly allow: ReadonlySet<PeerId> | null
  private readonly lifetime = new AbortController()
  private readonly current = new Set<PeerId>()
  /**
   * Peers that joined and were not sent a full vector yet: a delta is useless to them, so the
   * next message is full until one reached each (gossipsub drops a message for a peer whose
   * stream is not open yet, so reaching them is checked, not assumed).
   */
  private readonly needFull = new Set<PeerId>()
  private readonly recent = new BoundedMap<PeerId, true>(RECENT_PEERS)
  private readonly outbound = new Set<FramedStream>()
  private readonly events = new Emitter<SpaceEvents>()

  constructor(
    network: Libp2pNetworkImpl,
    space: string,
    handlers: SpaceHandlers,
    allow: readonly PeerId[] | undefined,
  ) {
    this.network = network
    this.space = space
    this.topic = spaceTopic(space)
    this.handlers = handlers
    this.allow = allow ? new Set(allow) : null
    const settings = network.settings
    this.sender = new GossipSender(settings.fullVectorEvery)
    this.receiver = new GossipReceiver({
      limits: settings.gossip,
      ratePerSecond: settings.gossipRatePerSecond,
      rateBurst: settings.gossipBurst,
      maxSenders: settings.maxTrackedPeers,
    })
  }

  get closed(): boolean {
    return this.lifetime.signal.aborted || this.network.lifetime.signal.aborted
  }

  allows(peer: PeerId): boolean {
    return this.allow === null || this.allow.has(peer)
  }

  peers(): readonly PeerId[] {
    return [...this.current]
  }

  add(peer: PeerId): void {
    if (
      this.closed ||
      peer === this.network.peerId ||
      this.current.has(peer) ||
      !this.allows(peer)
    ) {
      return
    }
    this.current.add(peer)
    this.needFull.add(peer)
    const reconnect = this.recent.has(peer)
    this.recent.set(peer, true)
    this.emit('peer:connect', { peer, reconnect })
  }

  remove(peer: PeerId): void {
    this.needFull.delete(peer)
    if (!this.current.delete(peer)) return
    this.emit('peer:disconnect', { peer })
  }

  on<E extends keyof SpaceEvents>(
    event: E,
    listener: (detail: SpaceEvents[E]) => void,
  ): () => void {
    if (!SPACE_EVENT_NAMES.includes(event)) {
      throw new MendsyncError('INVALID_ARGUMENT', `unknown event ${String(event)}`)
    }
    return this.events.on(event, listener)
  }

  emit<E extends keyof SpaceEvents>(event: E, detail: SpaceEvents[E]): void {
    if (this.closed) return
    this.events.emit(event, detail)
  }

  async publish(message: GossipMessage): Promise<void> {
    this.assertOpen()
    assertGossipMessage(message)
    try {
      // What peers will check, checked here first (on the full vector, before the sender's
      // sequence advances): a message they would reject is never sent.
      decodeGossip(
        encodeGossip({
          epoch: 0,
          seq: 1,
          replicaId: message.replicaId,
          base: null,
          vector: [...message.versionVector],
          summary: message.summary,
          hints: [...message.hints],
        }),
        this.network.settings.gossip,
      )
    } catch (cause) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `gossip message exceeds the gossip limits (${(cause as Error).message}); send fewer hints`,
        { cause },
      )
    }
    if (this.needFull.size > 0) this.sender.sendFullNext()
    const payload = this.sender.next(message)
    try {
      const sent = await this.network.node.services.pubsub.publish(
        this.topic,
        encodeGossip(payload),
      )
      if (payload.base === null) {
        for (const peer of sent?.recipients ?? []) this.needFull.delete(peer.toString())
      }
    } catch (error) {
      // Best effort: no subscribed peer (yet) is not a failure of the caller.
      const text = `${(error as Error)?.name} ${(error as Error)?.message}`
      if (/NoPeersSubscribedToTopic|no peers/i.test(text)) return
      if (this.closed) throw new MendsyncError('CLOSED', 'the channel closed')
      throw new MendsyncError('PEER_UNAVAILABLE', `gossip publish failed: ${text}`, {
        cause: error,
      })
    }
  }

  pull(
    peer: PeerId,
    keys: readonly string[],
    mode: PullMode,
    options?: CallOptions,
  ): Promise<PullResult> {
    if (mode !== 'digest' && mode !== 'state') {
      return Promise.reject(new MendsyncError('INVALID_ARGUMENT', `unknown pull mode ${mode}`))
    }
    if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) {
      return Promise.reject(new MendsyncError('INVALID_ARGUMENT', 'keys must be strings'))
    }
    const wire = this.network.settings.rpc.wire
    if (keys.length > wire.maxKeysPerFrame) {
      return Promise.reject(
        new MendsyncError('INVALID_ARGUMENT', `at most ${wire.maxKeysPerFrame} keys per pull`),
      )
    }
    if (!keys.every((key) => key.length > 0 && key.length <= wire.maxKeyLength)) {
      return Promise.reject(
        new MendsyncError(
          'INVALID_ARGUMENT',
          `keys must have 1 to ${wire.maxKeyLength} characters`,
        ),
      )
    }
    const requested = [...keys]
    return this.call(peer, options, this.network.settings.defaultTimeoutMs, async (signal) => {
      const client = this.network.client(peer, 'pull')
      const reply = await client.call(
        (id) => encodePullRequest(id, this.space, mode, requested),
        signal,
      )
      if (reply.kind === 'error') throw remoteError(reply.code, reply.message)
      let results: (Uint8Array | null)[]
      try {
        results = asPullResults(reply.body, requested.length)
      } catch (error) {
        this.network.report(peer, 'malformed pull reply')
        client.reset(error)
        throw error
      }
      return mode === 'digest' ? { mode, digests: results } : { mode, states: results }
    })
  }

  push(peer: PeerId, states: readonly KeyState[], options?: CallOptions): Promise<void> {
    let chunks: KeyState[][]
    try {
      if (
        !Array.isArray(states) ||
        !states.every(
          (entry) => typeof entry?.key === 'string' && entry.state instanceof Uint8Array,
        )
      ) {
        throw new MendsyncError('INVALID_ARGUMENT', 'each state needs a string key and bytes')
      }
      const wire = this.network.settings.rpc.wire
      if (!states.every(({ key }) => key.length > 0 && key.length <= wire.maxKeyLength)) {
        throw new MendsyncError(
          'INVALID_ARGUMENT',
          `keys must have 1 to ${wire.maxKeyLength} characters`,
        )
      }
      chunks = chunkStates(states, wire.maxFrameBytes, wire.maxKeysPerFrame)
      if (chunks.length === 0) chunks = [[]]
    } catch (error) {
      return Promise.reject(error)
    }
    return this.call(peer, options, this.network.settings.defaultTimeoutMs, async (signal) => {
      const client = this.network.client(peer, 'push')
      for (const chunk of chunks) {
        const reply = await client.call((id) => encodePushRequest(id, this.space, chunk), signal)
        if (reply.kind === 'error') throw remoteError(reply.code, reply.message)
        if (reply.body.length !== 0) {
          this.network.report(peer, 'malformed push reply')
          throw new MendsyncError('PROTOCOL_ERROR', 'malformed push acknowledgement')
        }
      }
    })
  }

  reconcile(
    peer: PeerId,
    driver: ReconcileDriver,
    options?: CallOptions,
  ): Promise<ReconcileOutcome> {
    const settings = this.network.settings
    return this.call(peer, options, settings.reconcileTimeoutMs, async (signal) => {
      const connection = this.network.connectionTo(peer)
      let stream: Stream
      try {
        // Not the call's signal: libp2p keeps the negotiation signal for the stream's first
        // read, and an abort after that would surface as an unhandled rejection inside it.
        const opening = connection.newStream(RECONCILE_PROTOCOL, {
          signal: AbortSignal.timeout(10_000),
          runOnLimitedConnection: settings.runOnLimitedConnection,
        })
        opening.then(
          (late) => {
            if (signal.aborted) late.abort(new Error('reconciliation aborted'))
          },
          () => {},
        )
        stream = await Promise.race([opening, abortPromise(signal)])
      } catch (cause) {
        if (signal.aborted) throw signal.reason
        throw new MendsyncError('PEER_UNAVAILABLE', `${peer} does not serve reconciliation`, {
          cause,
        })
      }
      const framed = new FramedStream(stream, settings.reconcile.wire.maxFrameBytes, 64)
      this.outbound.add(framed)
      const onAbort = (): void => framed.reset(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        return await initiateReconcile(
          framed,
          this.space,
          driver,
          settings.reconcile,
          peer,
          this.network.report,
        )
      } catch (error) {
        if (isMendsyncError(error) && error.code === 'NETWORK_CLOSED' && signal.aborted) {
          throw signal.reason
        }
        throw error
      } finally {
        signal.removeEventListener('abort', onAbort)
        this.outbound.delete(framed)
      }
    })
  }

  async leave(): Promise<void> {
    if (this.lifetime.signal.aborted) return
    this.shutdown()
    this.network.detach(this)
  }

  shutdown(): void {
    if (this.lifetime.signal.aborted) return
    const error = new MendsyncError('NETWORK_CLOSED', `space ${this.space} was left`)
    this.lifetime.abort(error)
    for (const framed of this.outbound) framed.reset(error)
    this.outbound.clear()
    this.current.clear()
    this.needFull.clear()
    this.network.detach(this)
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new MendsyncError('CLOSED', `space ${this.space} was left or the network closed`)
    }
  }

  private call<T>(
    peer: PeerId,
    options: CallOptions | undefined,
    timeoutMs: number,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return runCall(options, timeoutMs, this.lifetime.signal, async (signal) => {
      if (!this.allows(peer)) {
        throw new MendsyncError('ACCESS_DENIED', `${peer} is not allowed in space ${this.space}`)
      }
      return await work(signal)
    })
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}
