// One joined space: its peers (connected, subscribed to its topic and allowed), its events, its
// gossip sender and receiver, and the outbound pull / push / reconcile calls of the space.
import type { PubSub } from '@libp2p/interface'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { READ, WRITE } from '@mendsync/core/access'
import { BoundedSet, Listeners, type Logger } from '@mendsync/core/toolbox'
import {
  assertGossipMessage,
  assertPullArguments,
  type CallOptions,
  type GossipMessage,
  type KeyState,
  type PeerId,
  type PullMode,
  type PullResult,
  type ReconcileDriver,
  type ReconcileOutcome,
  remoteError,
  runCall,
  SPACE_EVENT_NAMES,
  type SpaceAccessCache,
  type SpaceChannel,
  type SpaceEvents,
  type SpaceHandlers,
} from '@mendsync/replica/adapter'
import { asPullResults, chunkStates, encodePullRequest, encodePushRequest } from '../codec.js'
import { RECENT_PEERS_PER_SPACE } from '../constants.defaults.js'
import { decodeGossip, encodeGossip, GossipReceiver, GossipSender } from '../gossip.js'
import { initiateReconcile } from '../reconcile.js'
import type { BadFrameReporter, FramedStream } from '../rpc.js'
import type { OutboundCalls } from './outbound.js'
import { spaceTopic } from './protocols.js'
import type { Settings } from './settings.js'

/** What a {@link Libp2pChannel} needs from its network. */
export interface ChannelContext {
  /** This node's peer id. */
  readonly peerId: PeerId
  readonly pubsub: PubSub
  readonly settings: Settings
  /** Aborted when the network closes. */
  readonly lifetime: AbortSignal
  readonly outbound: OutboundCalls
  readonly report: BadFrameReporter
  /** `mendsync:libp2p:channel`. */
  readonly logger: Logger
  /** Forgets the channel (its topic, validator and subscription); called once it is shut down. */
  detach(channel: Libp2pChannel): void
}

type EventListeners = { [E in keyof SpaceEvents]: Listeners<SpaceEvents[E]> }

/** The {@link SpaceChannel} of one space on libp2p. */
export class Libp2pChannel implements SpaceChannel {
  readonly space: string
  readonly topic: string
  readonly handlers: SpaceHandlers
  readonly receiver: GossipReceiver
  private readonly context: ChannelContext
  private readonly sender: GossipSender
  private readonly allow: ReadonlySet<PeerId> | null
  /** The proofs peers showed, for a private space; `null` for an open space. */
  readonly access: SpaceAccessCache | null
  private readonly lifetime = new AbortController()
  private readonly current = new Set<PeerId>()
  /**
   * Peers that joined and were not sent a full vector yet: a delta is useless to them, so the
   * next message is full until one reached each (gossipsub drops a message for a peer whose
   * stream is not open yet, so reaching them is checked, not assumed).
   */
  private readonly needFull = new Set<PeerId>()
  private readonly recent = new BoundedSet<PeerId>(RECENT_PEERS_PER_SPACE)
  private readonly outbound = new Set<FramedStream>()
  private readonly events: EventListeners

  constructor(
    context: ChannelContext,
    space: string,
    handlers: SpaceHandlers,
    allow: readonly PeerId[] | undefined,
    access: SpaceAccessCache | null,
  ) {
    this.context = context
    this.access = access
    this.space = space
    this.topic = spaceTopic(space)
    this.handlers = handlers
    this.allow = allow ? new Set(allow) : null
    const settings = context.settings
    this.sender = new GossipSender(settings.fullVectorEvery)
    this.receiver = new GossipReceiver({
      limits: settings.gossip,
      ratePerSecond: settings.gossipRatePerSecond,
      rateBurst: settings.gossipBurst,
      maxSenders: settings.maxTrackedPeers,
    })
    this.events = Object.fromEntries(
      SPACE_EVENT_NAMES.map((name) => [name, new Listeners(context.logger)]),
    ) as unknown as EventListeners
  }

  /** Whether the space was left or the network closed. */
  get closed(): boolean {
    return this.lifetime.signal.aborted || this.context.lifetime.aborted
  }

  /**
   * Whether `peer` holds a grant here: on the allowlist of an open space, or trusted or holding
   * a verified proof in a private one (the inbound budget's "authorised").
   */
  allows(peer: PeerId): boolean {
    if (this.access) return this.access.rights(peer) !== 0
    return this.allow === null || this.allow.has(peer)
  }

  /** Whether `peer` is a peer of the space when connected and subscribed (it may read). */
  admits(peer: PeerId): boolean {
    return this.access ? this.access.can(peer, READ) : this.allows(peer)
  }

  /**
   * Resolves when `peer` may do what needs `right` (`READ` or `WRITE`) in the space: an open
   * space asks its allowlist, a private one the proof the peer showed, re-checked now.
   * `ACCESS_DENIED` otherwise, saying which right is missing.
   */
  async authorize(peer: PeerId, right: number): Promise<void> {
    if (this.access) {
      await this.access.require(peer, right)
      return
    }
    if (!this.allows(peer)) {
      throw new MendsyncError('ACCESS_DENIED', `${peer} is not allowed in space ${this.space}`)
    }
  }

  /** Whether gossip signed by `origin` and forwarded by `forwarder` is accepted here. */
  acceptsGossip(origin: PeerId, forwarder: PeerId): boolean {
    return this.access ? this.access.acceptsGossip(origin, forwarder) : this.allows(origin)
  }

  peers(): readonly PeerId[] {
    return [...this.current]
  }

  /** `peer` is connected and subscribed to the topic: a peer of the space when allowed. */
  add(peer: PeerId): void {
    if (
      this.closed ||
      peer === this.context.peerId ||
      this.current.has(peer) ||
      !this.admits(peer)
    ) {
      return
    }
    this.current.add(peer)
    this.needFull.add(peer)
    const reconnect = this.recent.has(peer)
    this.recent.add(peer)
    this.emit('peer:connect', { peer, reconnect })
  }

  /** `peer` unsubscribed or disconnected. */
  remove(peer: PeerId): void {
    this.needFull.delete(peer)
    if (!this.current.delete(peer)) return
    this.emit('peer:disconnect', { peer })
  }

  on<E extends keyof SpaceEvents>(
    event: E,
    listener: (detail: SpaceEvents[E]) => void,
  ): () => void {
    const listeners = (this.events as Partial<EventListeners>)[event]
    if (!SPACE_EVENT_NAMES.includes(event) || listeners === undefined) {
      throw new MendsyncError('INVALID_ARGUMENT', `unknown event ${String(event)}`)
    }
    return listeners.add(listener)
  }

  /** Tells the listeners of `event`, unless the channel is closed. */
  emit<E extends keyof SpaceEvents>(event: E, detail: SpaceEvents[E]): void {
    if (this.closed) return
    ;(this.events[event] as Listeners<SpaceEvents[E]>).emit(detail)
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
        this.context.settings.gossip,
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
      const sent = await this.context.pubsub.publish(this.topic, encodeGossip(payload))
      if (payload.base === null) {
        for (const peer of sent?.recipients ?? []) this.needFull.delete(peer.toString())
      }
    } catch (error) {
      const text = `${(error as Error)?.name} ${(error as Error)?.message}`
      if (/NoPeersSubscribedToTopic|no peers/i.test(text)) {
        // Best effort: no subscribed peer (yet) is not a failure of the caller.
        this.context.logger.debug('gossip reached no peer', { topic: this.topic, error: text })
        return
      }
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
    try {
      assertPullArguments(keys, mode)
    } catch (error) {
      return Promise.reject(error)
    }
    const wire = this.context.settings.rpc.wire
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
    return this.call(
      peer,
      WRITE,
      options,
      this.context.settings.defaultTimeoutMs,
      async (signal) => {
        const client = this.context.outbound.client(peer, 'pull')
        const reply = await client.call(
          (id) => encodePullRequest(id, this.space, mode, requested),
          signal,
        )
        if (reply.kind === 'error') throw remoteError(reply.code, reply.message)
        let results: (Uint8Array | null)[]
        try {
          results = asPullResults(reply.body, requested.length)
        } catch (error) {
          this.context.report(peer, 'malformed pull reply')
          client.reset(error)
          throw error
        }
        return mode === 'digest' ? { mode, digests: results } : { mode, states: results }
      },
    )
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
      const wire = this.context.settings.rpc.wire
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
    return this.call(
      peer,
      READ,
      options,
      this.context.settings.defaultTimeoutMs,
      async (signal) => {
        const client = this.context.outbound.client(peer, 'push')
        for (const chunk of chunks) {
          const reply = await client.call((id) => encodePushRequest(id, this.space, chunk), signal)
          if (reply.kind === 'error') throw remoteError(reply.code, reply.message)
          if (reply.body.length !== 0) {
            this.context.report(peer, 'malformed push reply')
            throw new MendsyncError('PROTOCOL_ERROR', 'malformed push acknowledgement')
          }
        }
      },
    )
  }

  reconcile(
    peer: PeerId,
    driver: ReconcileDriver,
    options?: CallOptions,
  ): Promise<ReconcileOutcome> {
    const settings = this.context.settings
    return this.call(peer, WRITE, options, settings.reconcileTimeoutMs, async (signal) => {
      const framed = await this.context.outbound.openReconcile(peer, signal)
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
          this.context.report,
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
  }

  /** Ends the channel: calls in flight fail `NETWORK_CLOSED`, its streams reset, it detaches. */
  shutdown(): void {
    if (this.lifetime.signal.aborted) return
    const error = new MendsyncError('NETWORK_CLOSED', `space ${this.space} was left`)
    this.lifetime.abort(error)
    for (const framed of this.outbound) framed.reset(error)
    this.outbound.clear()
    this.current.clear()
    this.needFull.clear()
    this.access?.close()
    this.context.detach(this)
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new MendsyncError('CLOSED', `space ${this.space} was left or the network closed`)
    }
  }

  /**
   * Runs an outbound call to `peer`, which must hold `right` here: a private space pulls from
   * and reconciles with peers that may write (what they send is joined), pushes to peers that
   * may read.
   */
  private call<T>(
    peer: PeerId,
    right: number,
    options: CallOptions | undefined,
    timeoutMs: number,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return runCall(options, timeoutMs, this.lifetime.signal, async (signal) => {
      await this.authorize(peer, right)
      return await work(signal)
    })
  }
}
