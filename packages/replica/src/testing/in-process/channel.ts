// One space joined on an in-process network: its peer set (linked, joined, allowed), its events,
// and its calls (pull, push, reconcile) and gossip across the hub.
import { MendsyncError } from '@mendsync/core'
import { READ, WRITE } from '@mendsync/core/access'
import { BoundedSet } from '@mendsync/core/toolbox'
import { Emitter } from '../../emitter.js'
import {
  assertGossipMessage,
  assertPullArguments,
  copyGossipMessage,
  describeHandlerError,
  remoteError,
  runCall,
} from '../../network/call.js'
import { SPACE_EVENT_NAMES } from '../../network/space-events.js'
import type {
  CallOptions,
  GossipMessage,
  JoinOptions,
  KeyState,
  PeerId,
  PullMode,
  PullResult,
  ReconcileDriver,
  ReconcileOutcome,
  SpaceChannel,
  SpaceEvents,
  SpaceHandlers,
} from '../../network/types.js'
import { ChannelAccess } from './access.js'
import { scheduledGossip } from './fault-injection.js'
import { floodTargets } from './gossip-flood.js'
import type { ChannelPart, NodePart } from './parts.js'
import { checkPullResult, copyStates } from './payloads.js'
import { runReconcile } from './reconcile.js'

const RECENT_PEERS_LIMIT = 1024

/** A space channel of an in-process network. */
export class InProcessChannel implements SpaceChannel, ChannelPart {
  readonly space: string
  readonly handlers: SpaceHandlers
  readonly node: NodePart
  readonly access: ChannelAccess
  private readonly lifetime = new AbortController()
  private readonly current = new Set<PeerId>()
  /** Peers seen earlier, to tell a reconnect from a first connect. */
  private readonly recent = new BoundedSet<PeerId>(RECENT_PEERS_LIMIT)
  private readonly events: Emitter<SpaceEvents>

  constructor(
    node: NodePart,
    space: string,
    handlers: SpaceHandlers,
    options: JoinOptions | undefined,
  ) {
    this.node = node
    this.space = space
    this.handlers = handlers
    this.events = new Emitter(node.logger.child(space))
    this.access = new ChannelAccess(options, space, node.logger)
    this.access.onChange(() => node.hub.refresh())
  }

  get closed(): boolean {
    return this.lifetime.signal.aborted
  }

  /** The link to `peer` went down. */
  linkDown(peer: PeerId): void {
    this.access.linkDown(peer)
  }

  peers(): readonly PeerId[] {
    return [...this.current]
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
    this.events.emit(event, detail)
  }

  /** The peers this channel should see now: linked, joined the same space, allowed here. */
  refresh(): void {
    if (this.closed) return
    const hub = this.node.hub
    const next = new Set<PeerId>()
    for (const [peerId, other] of hub.nodes) {
      if (peerId === this.node.peerId || !hub.isLinked(this.node.peerId, peerId)) continue
      const remote = other.spaces.get(this.space)
      if (!remote || remote.closed) continue
      this.access.present(peerId, remote.access)
      if (this.access.allows(peerId)) next.add(peerId)
    }
    for (const peer of [...this.current]) {
      if (next.has(peer)) continue
      this.current.delete(peer)
      this.emit('peer:disconnect', { peer })
    }
    for (const peer of next) {
      if (this.current.has(peer)) continue
      this.current.add(peer)
      const reconnect = this.recent.has(peer)
      this.recent.add(peer)
      this.emit('peer:connect', { peer, reconnect })
    }
  }

  async publish(message: GossipMessage): Promise<void> {
    this.assertOpen()
    assertGossipMessage(message)
    const copy = copyGossipMessage(message)
    const origin = this.node.peerId
    const hub = this.node.hub
    const deliveries = floodTargets(hub, this.space, origin)
    const deliver = (channel: ChannelPart) => {
      if (!channel.closed)
        channel.emit('gossip', { peer: origin, message: copyGossipMessage(copy) })
    }
    const schedule = hub.schedule
    if (schedule !== undefined) {
      for (const [to, channel] of deliveries) {
        scheduledGossip(schedule, { space: this.space, from: origin, to }, () => deliver(channel))
      }
      return
    }
    await hub.delay()
    for (const [, channel] of deliveries) deliver(channel)
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
    const requested = [...keys]
    return this.call('pull', peer, options, this.node.defaultTimeoutMs, async (remote) => {
      let result: PullResult
      try {
        result = await remote.handlers.pull(this.node.peerId, [...requested], mode)
      } catch (error) {
        const { code, message } = describeHandlerError(error)
        throw remoteError(code, message)
      }
      return checkPullResult(result, mode, requested.length)
    })
  }

  push(peer: PeerId, states: readonly KeyState[], options?: CallOptions): Promise<void> {
    let sent: KeyState[]
    try {
      sent = copyStates(states)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.call('push', peer, options, this.node.defaultTimeoutMs, async (remote) => {
      try {
        await remote.handlers.push(this.node.peerId, copyStates(sent))
      } catch (error) {
        const { code, message } = describeHandlerError(error)
        throw remoteError(code, message)
      }
    })
  }

  reconcile(
    peer: PeerId,
    driver: ReconcileDriver,
    options?: CallOptions,
  ): Promise<ReconcileOutcome> {
    return this.call('reconcile', peer, options, this.node.reconcileTimeoutMs, (remote, signal) =>
      runReconcile(this, remote, driver, signal),
    )
  }

  async leave(): Promise<void> {
    if (this.closed) return
    this.shutdown()
    this.node.forget(this.space, this)
    this.node.hub.refresh()
  }

  /** Stops the channel without touching the hub (the network is closing). */
  shutdown(): void {
    if (this.closed) return
    this.lifetime.abort(new MendsyncError('NETWORK_CLOSED', 'the channel was left'))
    this.current.clear()
    this.access.close()
  }

  private assertOpen(): void {
    if (this.closed || this.node.lifetime.signal.aborted) {
      throw new MendsyncError('CLOSED', `space ${this.space} was left or the network closed`)
    }
  }

  /** Access checks, deadline, link and close handling common to pull, push and reconcile. */
  private call<T>(
    call: 'pull' | 'push' | 'reconcile',
    peer: PeerId,
    options: CallOptions | undefined,
    defaultTimeoutMs: number,
    exchange: (remote: ChannelPart, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const node = this.node
    return runCall(options, defaultTimeoutMs, this.lifetime.signal, (signal) =>
      node.overLink(peer, signal, async () => {
        // Pull and reconcile join what the peer sends (it must write); a push is read by it.
        const theirs = call === 'push' ? READ : WRITE
        await this.access.authorize(peer, theirs, `${peer} is not allowed in space ${this.space}`)
        const remoteNode = node.hub.nodes.get(peer)
        const remote = remoteNode?.spaces.get(this.space)
        if (!node.hub.isLinked(node.peerId, peer) || !remote || remote.closed) {
          throw new MendsyncError('PEER_UNAVAILABLE', `${peer} is not serving ${this.space}`)
        }
        const space = this.space
        await node.hub.hop({ kind: 'request', call, space, from: node.peerId, to: peer })
        signal.throwIfAborted()
        const mine = call === 'push' ? WRITE : READ
        await remote.access.authorize(
          node.peerId,
          mine,
          `${peer} refuses this peer in ${this.space}`,
        )
        const result = await exchange(remote, signal)
        await node.hub.hop({ kind: 'response', call, space, from: peer, to: node.peerId })
        return result
      }),
    )
  }
}
