// The gossip gate of private spaces: a private space's gossipsub topic reaches only the peers
// that proved `read` in it (or are trusted). gossipsub has no hook for "who may subscribe", so
// the gate wraps a few methods of the gossipsub instance. It relies on these internals of
// @chainsafe/libp2p-gossipsub 14.1.x (dist/src/index.js), checked at install and by
// test/topic-gate.test.ts (which fails when an upgrade changes them):
// - `topics: Map<topic, Set<peer>>`, `mesh`, `fanout`: the tables every send path reads (mesh
//   maintenance, fanout, flood publish, forwarding, IHAVE gossip all pick peers from `topics`);
// - `handleReceivedSubscription(from, topic, subscribe)`: the only writer of `topics` for a peer;
// - `handleGraft(id, graft[])`: adds a peer to `mesh` without looking at `topics`;
// - `handleIHave(id, ihave[])`: answers with IWANT (which tells the peer we are subscribed);
// - `sendRpc(id, rpc)`, `sendRpcInBatch(tosend, rpc)`, `piggybackGossip(id, rpc, ihave[])`,
//   `piggybackControl(id, rpc, control)`: every RPC a peer receives goes through them;
// - `removePeer(peerId)`: a peer left (disconnect).
// Ingress: a subscription to a private topic from a peer the gate does not admit is held back
// (remembered, bounded) instead of entering `topics`, and its GRAFTs and IHAVEs are dropped.
// Egress (defence in depth): no message, IHAVE, GRAFT or PRUNE of a private topic is sent to a
// peer not admitted, nor this node's own subscription to it unless this node holds a proof (a
// member presents itself; a relay, which holds none, reveals no space to an outsider).
import { MendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import { ACCESS_DEFAULTS, GOSSIPSUB_VERSION_CHECKED } from '../constants.defaults.js'
import { isPrivateSpaceTopic } from './protocols.js'

/** What the gate asks the network about a private topic. */
export interface TopicGatePolicy {
  /** Whether `peer` may receive `topic` (it proved `read` in the space, or is trusted). */
  admits(peer: PeerId, topic: string): boolean
  /** Whether this node announces its own subscription to `topic` to peers not admitted yet. */
  announces(topic: string): boolean
  /** A peer asked to subscribe to `topic` and was held back (the network may ask for a proof). */
  held(peer: PeerId, topic: string): void
}

interface Rpc {
  subscriptions?: { topic?: string; subscribe?: boolean }[]
  messages?: { topic?: string }[]
  control?: ControlMessage
}

interface ControlMessage {
  ihave?: { topicID?: string }[]
  graft?: { topicID?: string }[]
  prune?: { topicID?: string }[]
  [other: string]: unknown
}

/** The gossipsub internals the gate touches (see the file's header). */
interface GossipsubInternals {
  topics: Map<string, Set<string>>
  mesh: Map<string, Set<string>>
  fanout: Map<string, Set<string>>
  subscriptions: Set<string>
  peers: Map<string, unknown>
  handleReceivedSubscription(from: { toString(): string }, topic: string, subscribe: boolean): void
  handleGraft(id: string, graft: { topicID?: string }[]): Promise<unknown[]>
  handleIHave(id: string, ihave: { topicID?: string }[]): unknown[]
  sendRpc(id: string, rpc: Rpc): boolean
  sendRpcInBatch(tosend: Set<string>, rpc: Rpc): void
  piggybackGossip(id: string, rpc: Rpc, ihave: { topicID?: string }[]): void
  piggybackControl(id: string, rpc: Rpc, control: ControlMessage): void
  removePeer(peerId: { toString(): string }): void
  sendSubscriptions(id: string, topics: string[], subscribe: boolean): void
}

const METHODS = [
  'handleReceivedSubscription',
  'handleGraft',
  'handleIHave',
  'sendRpc',
  'sendRpcInBatch',
  'piggybackGossip',
  'piggybackControl',
  'removePeer',
  'sendSubscriptions',
] as const
const TABLES = ['topics', 'mesh', 'fanout', 'peers'] as const

/**
 * Why `pubsub` cannot be gated (a missing method or table), or `null` when it can: the check
 * the gate runs at install, exported for the test that guards against a gossipsub upgrade.
 */
export function gossipsubIncompatibility(pubsub: unknown): string | null {
  const candidate = pubsub as Record<string, unknown> | null
  if (typeof candidate !== 'object' || candidate === null) return 'pubsub is not an object'
  for (const method of METHODS) {
    if (typeof candidate[method] !== 'function') return `gossipsub has no ${method}()`
  }
  for (const table of TABLES) {
    if (!(candidate[table] instanceof Map)) return `gossipsub has no ${table} map`
  }
  if (!(candidate.subscriptions instanceof Set)) return 'gossipsub has no subscriptions set'
  return null
}

/** The installed gate of one gossipsub instance. */
export class TopicGate {
  private readonly gossipsub: GossipsubInternals
  private readonly policy: TopicGatePolicy
  private readonly logger: Logger
  /** Subscriptions to private topics held back, per peer (bounded per peer). */
  private readonly heldBack = new Map<PeerId, Set<string>>()

  /** Wraps `pubsub`'s methods; `INVALID_ARGUMENT` when it is not a compatible gossipsub. */
  constructor(pubsub: unknown, policy: TopicGatePolicy, logger: Logger) {
    const problem = gossipsubIncompatibility(pubsub)
    if (problem !== null) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `private spaces need @chainsafe/libp2p-gossipsub ${GOSSIPSUB_VERSION_CHECKED} as the pubsub service: ${problem}`,
      )
    }
    this.gossipsub = pubsub as GossipsubInternals
    this.policy = policy
    this.logger = logger
    this.install()
  }

  /** Subscriptions held back now (diagnostics). */
  get heldCount(): number {
    let total = 0
    for (const topics of this.heldBack.values()) total += topics.size
    return total
  }

  /** Whether `peer` is in gossipsub's table of `topic` (it receives the topic). */
  isSubscribed(peer: PeerId, topic: string): boolean {
    return this.gossipsub.topics.get(topic)?.has(peer) ?? false
  }

  /** Peers whose subscription to `topic` is held back. */
  heldPeers(topic: string): PeerId[] {
    const peers: PeerId[] = []
    for (const [peer, topics] of this.heldBack) if (topics.has(topic)) peers.push(peer)
    return peers
  }

  /**
   * Re-applies the policy to `peer` for `topic`: admits a held-back subscription (and announces
   * this node's own subscription to it) or evicts the peer from the topic's tables.
   */
  update(peer: PeerId, topic: string): void {
    const gossipsub = this.gossipsub
    if (this.policy.admits(peer, topic)) {
      const held = this.heldBack.get(peer)
      if (held?.delete(topic)) {
        if (held.size === 0) this.heldBack.delete(peer)
        this.originalSubscription(peer, topic, true)
      }
      if (gossipsub.subscriptions.has(topic) && gossipsub.peers.has(peer)) {
        gossipsub.sendSubscriptions(peer, [topic], true)
      }
      return
    }
    if (gossipsub.topics.get(topic)?.delete(peer)) this.hold(peer, topic)
    gossipsub.mesh.get(topic)?.delete(peer)
    gossipsub.fanout.get(topic)?.delete(peer)
  }

  /** Re-applies the policy to every peer of `topic` (a space was joined or left). */
  updateTopic(topic: string): void {
    const peers = new Set([...(this.gossipsub.topics.get(topic) ?? []), ...this.heldPeers(topic)])
    for (const peer of peers) this.update(peer, topic)
  }

  private hold(peer: PeerId, topic: string): void {
    let topics = this.heldBack.get(peer)
    if (!topics) {
      topics = new Set()
      this.heldBack.set(peer, topics)
    }
    if (topics.size >= ACCESS_DEFAULTS.maxHeldSubscriptionsPerPeer && !topics.has(topic)) {
      this.logger.debug('dropped a held-back subscription: the peer holds too many', {
        peer,
        topic,
      })
      return
    }
    topics.add(topic)
  }

  /** Whether `peer` may see anything of `topic`. */
  private passes(peer: PeerId, topic: string | undefined): boolean {
    return topic === undefined || !isPrivateSpaceTopic(topic) || this.policy.admits(peer, topic)
  }

  private originalSubscription!: (peer: PeerId, topic: string, subscribe: boolean) => void

  private install(): void {
    const gossipsub = this.gossipsub
    const original = {
      handleReceivedSubscription: gossipsub.handleReceivedSubscription.bind(gossipsub),
      handleGraft: gossipsub.handleGraft.bind(gossipsub),
      handleIHave: gossipsub.handleIHave.bind(gossipsub),
      sendRpc: gossipsub.sendRpc.bind(gossipsub),
      sendRpcInBatch: gossipsub.sendRpcInBatch.bind(gossipsub),
      piggybackGossip: gossipsub.piggybackGossip.bind(gossipsub),
      piggybackControl: gossipsub.piggybackControl.bind(gossipsub),
      removePeer: gossipsub.removePeer.bind(gossipsub),
    }
    this.originalSubscription = (peer, topic, subscribe) =>
      original.handleReceivedSubscription({ toString: () => peer }, topic, subscribe)

    gossipsub.handleReceivedSubscription = (from, topic, subscribe) => {
      const peer = from.toString()
      if (!isPrivateSpaceTopic(topic) || this.policy.admits(peer, topic)) {
        original.handleReceivedSubscription(from, topic, subscribe)
        return
      }
      if (subscribe) {
        this.hold(peer, topic)
        this.policy.held(peer, topic)
      } else {
        const held = this.heldBack.get(peer)
        held?.delete(topic)
        if (held?.size === 0) this.heldBack.delete(peer)
        gossipsub.topics.get(topic)?.delete(peer)
      }
    }
    gossipsub.handleGraft = (id, graft) =>
      original.handleGraft(
        id,
        graft.filter((entry) => this.passes(id, entry.topicID)),
      )
    gossipsub.handleIHave = (id, ihave) =>
      original.handleIHave(
        id,
        ihave.filter((entry) => this.passes(id, entry.topicID)),
      )
    gossipsub.piggybackGossip = (id, rpc, ihave) =>
      original.piggybackGossip(
        id,
        rpc,
        ihave.filter((entry) => this.passes(id, entry.topicID)),
      )
    gossipsub.piggybackControl = (id, rpc, control) =>
      original.piggybackControl(id, rpc, this.filterControl(id, control))
    gossipsub.sendRpc = (id, rpc) => original.sendRpc(id, this.filterRpc(id, rpc))
    gossipsub.sendRpcInBatch = (tosend, rpc) => {
      for (const peer of [...tosend]) {
        if (!(rpc.messages ?? []).every((message) => this.passes(peer, message.topic))) {
          tosend.delete(peer)
        }
      }
      original.sendRpcInBatch(tosend, rpc)
    }
    gossipsub.removePeer = (peerId) => {
      this.heldBack.delete(peerId.toString())
      original.removePeer(peerId)
    }
  }

  private filterControl(peer: PeerId, control: ControlMessage): ControlMessage {
    const keep = (entries?: { topicID?: string }[]) =>
      entries?.filter((entry) => this.passes(peer, entry.topicID))
    return {
      ...control,
      ...(control.ihave ? { ihave: keep(control.ihave) } : {}),
      ...(control.graft ? { graft: keep(control.graft) } : {}),
      ...(control.prune ? { prune: keep(control.prune) } : {}),
    }
  }

  private filterRpc(peer: PeerId, rpc: Rpc): Rpc {
    const subscriptions = rpc.subscriptions?.filter(
      ({ topic }) =>
        topic === undefined ||
        !isPrivateSpaceTopic(topic) ||
        this.policy.admits(peer, topic) ||
        this.policy.announces(topic),
    )
    const messages = rpc.messages?.filter((message) => this.passes(peer, message.topic))
    return {
      ...rpc,
      ...(subscriptions ? { subscriptions } : {}),
      ...(messages ? { messages } : {}),
      ...(rpc.control ? { control: this.filterControl(peer, rpc.control) } : {}),
    }
  }
}
