// An in-process Network for tests: several networks attach to one hub, which carries gossip and
// requests between them with a configurable latency and lets a test take any link down or up
// (partition and heal). It follows the same contract as the libp2p network, checked by the same
// acceptance suite (`runNetworkAdapterTests`), so the engine can be tested without sockets; in a
// private space (`access`) each channel verifies a linked peer's proof once per link, with the
// rights cache the libp2p network uses, and enforces the same rights on calls and gossip.
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { READ, WRITE } from '@mendsync/core/access'
import { BoundedSet, defaultLogger, describeError, type Logger } from '@mendsync/core/toolbox'
import { Emitter } from '../emitter.js'
import {
  assertGossipMessage,
  copyGossipMessage,
  describeHandlerError,
  rejecter,
  remoteError,
  runCall,
} from '../network/call.js'
import { checkSpaceAccess, SpaceAccessCache } from '../network/space-access.js'
import { SPACE_EVENT_NAMES } from '../network/space-events.js'
import type {
  CallOptions,
  GossipMessage,
  JoinOptions,
  KeyState,
  Network,
  PeerId,
  PullMode,
  PullResult,
  ReconcileDriver,
  ReconcileOutcome,
  SpaceChannel,
  SpaceEvents,
  SpaceHandlers,
} from '../network/types.js'

/** Options of {@link createInProcessHub}. */
export interface InProcessHubOptions {
  /**
   * One-way delay of every gossip message, request and response, in milliseconds. Default `0`
   * (still asynchronous: delivered on a later macrotask, as on a real network).
   */
  readonly latencyMs?: number
  /** Link each new network to every network already attached. Default `true`. */
  readonly autoLink?: boolean
  /**
   * Most session messages one reconciliation may exchange before it fails with
   * `PROTOCOL_ERROR` (a runaway session). Default `10_000`.
   */
  readonly maxReconcileRounds?: number
  /**
   * Test hook: takes over the delivery of every message instead of the `latencyMs` timer. Each
   * gossip message (one per recipient) and each leg of a call (a pull or push request or
   * response, a reconciliation message) is handed to `schedule`, and arrives only when the test
   * calls its `deliver()`; `drop()` loses it. The test thus decides the order, the delay, the
   * loss and the duplication of every message. Default: none (deliver after `latencyMs`).
   */
  readonly schedule?: (message: ScheduledMessage) => void
  /**
   * Where the hub's networks log (a throwing event listener); each network logs through a
   * child named after its peer id. Default `defaultLogger('mendsync:in-process')`.
   */
  readonly logger?: Logger
}

/** One message in flight, as {@link InProcessHubOptions.schedule} receives it. */
export interface ScheduledMessage {
  /**
   * `gossip`: a gossip message to one peer. `request` / `response`: one leg of a call, from the
   * caller to the callee or back; for a reconciliation, every session message is a leg too.
   */
  readonly kind: 'gossip' | 'request' | 'response'
  /** The call this leg belongs to; `undefined` for gossip. */
  readonly call: 'pull' | 'push' | 'reconcile' | undefined
  readonly space: string
  readonly from: PeerId
  readonly to: PeerId
  /**
   * Delivers the message. A gossip message can be delivered more than once (a duplicate); a leg
   * of a call is delivered at most once (later calls, and calls after `drop()`, do nothing).
   */
  deliver(): void
  /**
   * Loses the message: later `deliver()` calls do nothing. A call whose leg is lost fails at once
   * with `TIMEOUT`, as it would at its deadline (for a lost response the callee's handler has
   * already run).
   */
  drop(): void
}

/** Where a hop goes, for the delivery hook. */
type Route = Omit<ScheduledMessage, 'deliver' | 'drop'>

/** Options of {@link InProcessHub.createNetwork}. */
export interface InProcessNetworkOptions {
  /**
   * The network's peer id. Default: `peer-<n>` with `n` counting networks of the hub. A network
   * that joins private spaces needs an Ed25519 libp2p peer id (a grant's subject is the key in
   * it): `peerIdOfPublicKey(key.publicKey.raw)` of `@mendsync/core/access`.
   */
  readonly peerId?: PeerId
  /** Deadline of `pull` and `push` when the caller gives none, ms. Default `10_000`. */
  readonly defaultTimeoutMs?: number
  /** Deadline of `reconcile` when the caller gives none, ms. Default `60_000`. */
  readonly reconcileTimeoutMs?: number
  /** Where this network logs. Default: the hub's logger's child named after the peer id. */
  readonly logger?: Logger
}

/** A hub of in-process networks with controllable links. */
export interface InProcessHub {
  /** Attaches a new network (linked to all others when `autoLink`). */
  createNetwork(options?: InProcessNetworkOptions): Network
  /** Brings the link between `a` and `b` up (both must be attached). */
  link(a: PeerId, b: PeerId): void
  /** Takes the link between `a` and `b` down: calls in flight over it fail `NETWORK_CLOSED`. */
  unlink(a: PeerId, b: PeerId): void
  isLinked(a: PeerId, b: PeerId): boolean
  /** Links every pair inside each group and unlinks every pair across groups. */
  partition(...groups: readonly (readonly PeerId[])[]): void
  /** Links every pair of attached networks. */
  heal(): void
  /** Peer ids of the attached (not closed) networks. */
  peers(): PeerId[]
}

/** Creates a hub that in-process networks attach to. */
export function createInProcessHub(options: InProcessHubOptions = {}): InProcessHub {
  return new Hub(options)
}

/** Attaches a new in-process network to `hub`; the same as `hub.createNetwork(options)`. */
export function createInProcessNetwork(
  hub: InProcessHub,
  options?: InProcessNetworkOptions,
): Network {
  return hub.createNetwork(options)
}

const RECENT_PEERS_LIMIT = 1024

class Hub implements InProcessHub {
  readonly nodes = new Map<PeerId, InProcessNode>()
  readonly links = new Set<string>()
  readonly latencyMs: number
  readonly autoLink: boolean
  readonly maxRounds: number
  readonly schedule: ((message: ScheduledMessage) => void) | undefined
  readonly logger: Logger
  private counter = 0

  constructor(options: InProcessHubOptions) {
    this.logger = options.logger ?? defaultLogger('mendsync:in-process')
    this.latencyMs = options.latencyMs ?? 0
    this.schedule = options.schedule
    this.autoLink = options.autoLink ?? true
    this.maxRounds = options.maxReconcileRounds ?? 10_000
    if (!(this.latencyMs >= 0 && Number.isFinite(this.latencyMs))) {
      throw new MendsyncError('INVALID_ARGUMENT', 'latencyMs must be a non-negative number')
    }
  }

  createNetwork(options: InProcessNetworkOptions = {}): Network {
    this.counter += 1
    const peerId = options.peerId ?? `peer-${this.counter}`
    if (typeof peerId !== 'string' || peerId.length === 0) {
      throw new MendsyncError('INVALID_ARGUMENT', 'peerId must be a non-empty string')
    }
    if (this.nodes.has(peerId)) {
      throw new MendsyncError('INVALID_ARGUMENT', `a network with peer id ${peerId} is attached`)
    }
    const node = new InProcessNode(this, peerId, options)
    if (this.autoLink) for (const other of this.nodes.keys()) this.links.add(linkKey(peerId, other))
    this.nodes.set(peerId, node)
    this.refresh()
    return node
  }

  link(a: PeerId, b: PeerId): void {
    this.require(a)
    this.require(b)
    if (a === b) return
    this.links.add(linkKey(a, b))
    this.refresh()
  }

  unlink(a: PeerId, b: PeerId): void {
    if (!this.links.delete(linkKey(a, b))) return
    const error = () => new MendsyncError('NETWORK_CLOSED', `the link ${a} <-> ${b} went down`)
    this.nodes.get(a)?.dropCalls(b, error())
    this.nodes.get(b)?.dropCalls(a, error())
    this.nodes.get(a)?.linkDown(b)
    this.nodes.get(b)?.linkDown(a)
    this.refresh()
  }

  isLinked(a: PeerId, b: PeerId): boolean {
    return this.nodes.has(a) && this.nodes.has(b) && this.links.has(linkKey(a, b))
  }

  partition(...groups: readonly (readonly PeerId[])[]): void {
    const groupOf = new Map<PeerId, number>()
    groups.forEach((group, index) => {
      for (const peer of group) groupOf.set(peer, index)
    })
    const ids = [...this.nodes.keys()]
    for (const a of ids) {
      for (const b of ids) {
        if (a >= b) continue
        const ga = groupOf.get(a)
        const gb = groupOf.get(b)
        if (ga !== undefined && ga === gb) this.links.add(linkKey(a, b))
        else if (ga !== undefined || gb !== undefined) this.unlink(a, b)
      }
    }
    this.refresh()
  }

  heal(): void {
    const ids = [...this.nodes.keys()]
    for (const a of ids) for (const b of ids) if (a < b) this.links.add(linkKey(a, b))
    this.refresh()
  }

  peers(): PeerId[] {
    return [...this.nodes.keys()]
  }

  detach(peerId: PeerId): void {
    if (!this.nodes.delete(peerId)) return
    for (const other of [...this.nodes.keys()]) {
      if (this.links.delete(linkKey(peerId, other))) {
        const node = this.nodes.get(other)
        node?.dropCalls(peerId, new MendsyncError('NETWORK_CLOSED', `${peerId} closed its network`))
        node?.linkDown(peerId)
      }
    }
    this.refresh()
  }

  /** Recomputes every channel's peer set; channels emit the differences. */
  refresh(): void {
    for (const node of this.nodes.values()) node.refreshSpaces()
  }

  /** Waits the configured one-way latency (at least one macrotask). */
  delay(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.latencyMs))
  }

  /**
   * Carries one message along `route`: waits the configured one-way latency (at least one
   * macrotask), or, with a `schedule` hook, until the test delivers it (rejects when it drops it).
   */
  hop(route: Route): Promise<void> {
    const schedule = this.schedule
    if (schedule === undefined) return this.delay()
    return new Promise((resolve, reject) => {
      let done = false
      schedule({
        ...route,
        deliver: () => {
          if (done) return
          done = true
          resolve()
        },
        drop: () => {
          if (done) return
          done = true
          reject(
            new MendsyncError(
              'TIMEOUT',
              `the ${route.call} ${route.kind} from ${route.from} to ${route.to} was lost`,
            ),
          )
        },
      })
    })
  }

  private require(peer: PeerId): void {
    if (!this.nodes.has(peer)) {
      throw new MendsyncError('INVALID_ARGUMENT', `no network with peer id ${peer} is attached`)
    }
  }
}

function linkKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}

class InProcessNode implements Network {
  readonly peerId: PeerId
  readonly spaces = new Map<string, InProcessChannel>()
  readonly hub: Hub
  readonly defaultTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly lifetime = new AbortController()
  readonly logger: Logger
  /** Calls in flight per remote peer: each entry fails its call when the link drops. */
  private readonly calls = new Map<PeerId, Set<(error: MendsyncError) => void>>()

  constructor(hub: Hub, peerId: PeerId, options: InProcessNetworkOptions) {
    this.hub = hub
    this.peerId = peerId
    this.logger = options.logger ?? hub.logger.child(peerId)
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000
    this.reconcileTimeoutMs = options.reconcileTimeoutMs ?? 60_000
  }

  async join(space: string, handlers: SpaceHandlers, options?: JoinOptions): Promise<SpaceChannel> {
    if (this.lifetime.signal.aborted) throw new MendsyncError('CLOSED', 'the network is closed')
    if (typeof space !== 'string' || space.length === 0) {
      throw new MendsyncError('INVALID_ARGUMENT', 'space must be a non-empty string')
    }
    if (this.spaces.has(space)) {
      throw new MendsyncError('INVALID_ARGUMENT', `space ${space} is already joined`)
    }
    checkSpaceAccess(space, options?.access, options?.allow)
    const channel = new InProcessChannel(this, space, handlers, options)
    this.spaces.set(space, channel)
    this.hub.refresh()
    return channel
  }

  async close(): Promise<void> {
    if (this.lifetime.signal.aborted) return
    this.lifetime.abort(new MendsyncError('NETWORK_CLOSED', 'the network was closed'))
    for (const channel of [...this.spaces.values()]) channel.shutdown()
    this.spaces.clear()
    this.hub.detach(this.peerId)
  }

  refreshSpaces(): void {
    for (const channel of this.spaces.values()) channel.refresh()
  }

  /** The link to `peer` went down: what it proved over the link is forgotten. */
  linkDown(peer: PeerId): void {
    for (const channel of this.spaces.values()) channel.linkDown(peer)
  }

  dropCalls(peer: PeerId, error: MendsyncError): void {
    const entries = this.calls.get(peer)
    if (!entries) return
    this.calls.delete(peer)
    for (const fail of entries) fail(error)
  }

  /**
   * Runs `exchange` as a call to `peer`: it fails with `NETWORK_CLOSED` when the link drops
   * (the signal passed by runCall covers deadline, abort and close).
   */
  async overLink<T>(peer: PeerId, signal: AbortSignal, exchange: () => Promise<T>): Promise<T> {
    const { promise: dropped, reject } = rejecter()
    let entries = this.calls.get(peer)
    if (!entries) {
      entries = new Set()
      this.calls.set(peer, entries)
    }
    entries.add(reject)
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      // Both promises are raced at once, which handles whichever rejects second.
      return await Promise.race([exchange(), dropped])
    } finally {
      signal.removeEventListener('abort', onAbort)
      entries.delete(reject)
      if (entries.size === 0 && this.calls.get(peer) === entries) this.calls.delete(peer)
    }
  }
}

class InProcessChannel implements SpaceChannel {
  readonly space: string
  readonly handlers: SpaceHandlers
  private readonly node: InProcessNode
  private readonly allow: ReadonlySet<PeerId> | null
  /** The proofs linked peers showed, for a private space; `null` for an open space. */
  readonly access: SpaceAccessCache | null
  /** Linked peers whose proof was presented to this channel (once per link, as on libp2p). */
  private readonly presented = new Set<PeerId>()
  private readonly lifetime = new AbortController()
  private readonly current = new Set<PeerId>()
  /** Peers seen earlier, to tell a reconnect from a first connect. */
  private readonly recent = new BoundedSet<PeerId>(RECENT_PEERS_LIMIT)
  private readonly events: Emitter<SpaceEvents>

  constructor(
    node: InProcessNode,
    space: string,
    handlers: SpaceHandlers,
    options: JoinOptions | undefined,
  ) {
    this.node = node
    this.space = space
    this.handlers = handlers
    this.allow = options?.allow ? new Set(options.allow) : null
    this.events = new Emitter(node.logger.child(space))
    this.access = options?.access
      ? new SpaceAccessCache(options.access, node.logger.child(space).child('access'))
      : null
    this.access?.onChange(() => node.hub.refresh())
  }

  get closed(): boolean {
    return this.lifetime.signal.aborted
  }

  /** Whether `peer` may take part: on the allowlist, or (private) trusted or proved read. */
  allows(peer: PeerId): boolean {
    if (this.access) return this.access.can(peer, READ)
    return this.allow === null || this.allow.has(peer)
  }

  /**
   * Resolves when `peer` may do what needs `right` here; `ACCESS_DENIED` otherwise (the same
   * rules as the libp2p network: allowlist, or the proof the peer showed, re-checked now).
   */
  async authorize(peer: PeerId, right: number, refusal: string): Promise<void> {
    if (this.access) {
      await this.access.require(peer, right)
      return
    }
    if (!this.allows(peer)) throw new MendsyncError('ACCESS_DENIED', refusal)
  }

  /** Whether gossip signed by `origin` and forwarded by `forwarder` is accepted here. */
  acceptsGossip(origin: PeerId, forwarder: PeerId): boolean {
    return this.access ? this.access.acceptsGossip(origin, forwarder) : this.allows(origin)
  }

  /** Whether this channel forwards gossip of `origin` it holds (from `from`) to `to`. */
  forwardsTo(to: PeerId, origin: PeerId, from: PeerId): boolean {
    if (this.access) return this.access.can(to, READ)
    return from !== origin || this.allows(to)
  }

  /**
   * Presents `remote`'s proof to this channel, once per link: the in-process form of the access
   * exchange (this channel verifies it against the remote's peer id).
   */
  private present(peer: PeerId, remote: InProcessChannel): void {
    const access = this.access
    const proof = remote.access?.proof
    if (!access || !proof || this.presented.has(peer)) return
    this.presented.add(peer)
    const exchange = access.record(peer, 'link', proof).catch((error: unknown) => {
      this.node.logger.debug('a presented proof was refused', {
        peer,
        space: this.space,
        error: describeError(error),
      })
    })
    access.track(peer, exchange)
  }

  /** The link to `peer` went down. */
  linkDown(peer: PeerId): void {
    this.presented.delete(peer)
    this.access?.forget(peer)
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
      this.present(peerId, remote)
      if (this.allows(peerId)) next.add(peerId)
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
    // Flood through linked nodes that joined the space and accept the originator, the way
    // gossipsub forwards through subscribed peers whose validator accepted the message.
    const reached = new Set<PeerId>([origin])
    let frontier: PeerId[] = [origin]
    const deliveries: [PeerId, InProcessChannel][] = []
    while (frontier.length > 0) {
      const next: PeerId[] = []
      for (const from of frontier) {
        for (const [peerId, other] of hub.nodes) {
          if (reached.has(peerId) || !hub.isLinked(from, peerId)) continue
          const channel = other.spaces.get(this.space)
          const sender = hub.nodes.get(from)?.spaces.get(this.space)
          if (!channel || channel.closed || !sender || !channel.acceptsGossip(origin, from))
            continue
          if (!sender.forwardsTo(peerId, origin, from)) continue
          reached.add(peerId)
          next.push(peerId)
          deliveries.push([peerId, channel])
        }
      }
      frontier = next
    }
    const deliver = (channel: InProcessChannel) => {
      if (!channel.closed)
        channel.emit('gossip', { peer: origin, message: copyGossipMessage(copy) })
    }
    const schedule = hub.schedule
    if (schedule !== undefined) {
      for (const [to, channel] of deliveries) {
        let lost = false
        schedule({
          ...({ kind: 'gossip', call: undefined, space: this.space, from: origin, to } as const),
          deliver: () => {
            if (!lost) deliver(channel)
          },
          drop: () => {
            lost = true
          },
        })
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
    if (mode !== 'digest' && mode !== 'state') {
      return Promise.reject(new MendsyncError('INVALID_ARGUMENT', `unknown pull mode ${mode}`))
    }
    if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) {
      return Promise.reject(new MendsyncError('INVALID_ARGUMENT', 'keys must be strings'))
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
      this.runReconcile(remote, driver, signal),
    )
  }

  private async runReconcile(
    remote: InProcessChannel,
    driver: ReconcileDriver,
    signal: AbortSignal,
  ): Promise<ReconcileOutcome> {
    const hub = this.node.hub
    const me = this.node.peerId
    const space = this.space
    const there = remote.node.peerId
    const toPeer: Route = { kind: 'request', call: 'reconcile', space, from: me, to: there }
    const back: Route = { kind: 'response', call: 'reconcile', space, from: there, to: me }
    const responder = await remoteCall(() => remote.handlers.reconcile(me))
    // A reader reconciles to catch up; the states it sends are dropped, never joined.
    const joins = (): boolean => remote.access === null || remote.access.can(me, WRITE)
    let bytesSent = 0
    let bytesReceived = 0
    let rounds = 1
    let outgoing: Uint8Array | null = driver.session.initiate().slice()
    bytesSent += outgoing.byteLength
    let localDiff: readonly string[] | null = null
    let remoteDiff: readonly string[] | null = null
    let messages = 1
    // Alternate session messages until one side has nothing more to say; that side must be done,
    // and so must the other (the same rule the libp2p wire protocol enforces).
    for (;;) {
      await hub.hop(toPeer)
      signal.throwIfAborted()
      const input: Uint8Array = outgoing
      const answer = await remoteCall(async () => responder.session.receive(input.slice()))
      if (answer.done) remoteDiff = answer.differing ?? []
      if (answer.reply === null) {
        if (!answer.done) throw new MendsyncError('REMOTE_ERROR', 'peer session stalled')
        if (localDiff === null) {
          throw new MendsyncError('PROTOCOL_ERROR', 'peer ended the session before this side')
        }
        break
      }
      const reply = answer.reply.slice()
      bytesReceived += reply.byteLength
      messages += 1
      await hub.hop(back)
      signal.throwIfAborted()
      const step = driver.session.receive(reply)
      if (step.done) localDiff = step.differing ?? []
      if (step.reply === null) {
        if (!step.done) {
          throw new MendsyncError('RECONCILE_PROTOCOL', 'the local session has nothing to send')
        }
        if (remoteDiff === null) {
          throw new MendsyncError('PROTOCOL_ERROR', 'this side ended before the peer was done')
        }
        break
      }
      outgoing = step.reply.slice()
      bytesSent += outgoing.byteLength
      rounds += 1
      messages += 1
      if (messages > hub.maxRounds) {
        throw new MendsyncError(
          'PROTOCOL_ERROR',
          `reconciliation exceeded ${hub.maxRounds} messages`,
        )
      }
    }
    const differing = [...(localDiff ?? [])]
    const mine = copyStates(await driver.statesFor(differing))
    bytesSent += stateBytes(mine)
    await hub.hop(toPeer)
    signal.throwIfAborted()
    // The responder reads its states before joining ours, so each side sends what it had.
    const theirs = copyStates(await remoteCall(() => responder.statesFor([...(remoteDiff ?? [])])))
    await remoteCall(() => responder.accept(joins() ? copyStates(mine) : []))
    bytesReceived += stateBytes(theirs)
    await hub.hop(back)
    return { differing, received: theirs, rounds, bytesSent, bytesReceived }
  }

  async leave(): Promise<void> {
    if (this.closed) return
    this.shutdown()
    if (this.node.spaces.get(this.space) === this) this.node.spaces.delete(this.space)
    this.node.hub.refresh()
  }

  /** Stops the channel without touching the hub (the network is closing). */
  shutdown(): void {
    if (this.closed) return
    this.lifetime.abort(new MendsyncError('NETWORK_CLOSED', 'the channel was left'))
    this.current.clear()
    this.access?.close()
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
    exchange: (remote: InProcessChannel, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const node = this.node
    return runCall(options, defaultTimeoutMs, this.lifetime.signal, (signal) =>
      node.overLink(peer, signal, async () => {
        // Pull and reconcile join what the peer sends (it must write); a push is read by it.
        const theirs = call === 'push' ? READ : WRITE
        await this.authorize(peer, theirs, `${peer} is not allowed in space ${this.space}`)
        const remoteNode = node.hub.nodes.get(peer)
        const remote = remoteNode?.spaces.get(this.space)
        if (!node.hub.isLinked(node.peerId, peer) || !remote || remote.closed) {
          throw new MendsyncError('PEER_UNAVAILABLE', `${peer} is not serving ${this.space}`)
        }
        const space = this.space
        await node.hub.hop({ kind: 'request', call, space, from: node.peerId, to: peer })
        signal.throwIfAborted()
        const mine = call === 'push' ? WRITE : READ
        await remote.authorize(node.peerId, mine, `${peer} refuses this peer in ${this.space}`)
        const result = await exchange(remote, signal)
        await node.hub.hop({ kind: 'response', call, space, from: peer, to: node.peerId })
        return result
      }),
    )
  }
}

async function remoteCall<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (isMendsyncError(error) && error.code === 'NETWORK_CLOSED') throw error
    const { code, message } = describeHandlerError(error)
    throw remoteError(code, message)
  }
}

function checkPullResult(result: PullResult, mode: PullMode, count: number): PullResult {
  const values: unknown = mode === 'digest' ? (result as { digests?: unknown }).digests : undefined
  const states: unknown = mode === 'state' ? (result as { states?: unknown }).states : undefined
  const list = mode === 'digest' ? values : states
  if (
    result?.mode !== mode ||
    !Array.isArray(list) ||
    list.length !== count ||
    !list.every((entry) => entry === null || entry instanceof Uint8Array)
  ) {
    throw new MendsyncError(
      'PROTOCOL_ERROR',
      `peer answered a ${mode} pull with a malformed result`,
    )
  }
  const copied = (list as (Uint8Array | null)[]).map((entry) => entry?.slice() ?? null)
  return mode === 'digest' ? { mode, digests: copied } : { mode, states: copied }
}

function copyStates(states: readonly KeyState[]): KeyState[] {
  if (!Array.isArray(states)) throw new MendsyncError('INVALID_ARGUMENT', 'states must be an array')
  return states.map((entry) => {
    if (typeof entry?.key !== 'string' || !(entry.state instanceof Uint8Array)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'each state needs a string key and bytes')
    }
    return { key: entry.key, state: entry.state.slice() }
  })
}

function stateBytes(states: readonly KeyState[]): number {
  let total = 0
  for (const entry of states) total += entry.state.byteLength
  return total
}
