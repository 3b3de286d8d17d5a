import type { Dot, ReplicaId, VersionVector } from '@mendsync/core'
import type { AccessProof, AccessVerifier } from '@mendsync/core/access'

/** A network-level peer identity (a libp2p peer id string for the libp2p network). */
export type PeerId = string

/**
 * What the engine needs from any transport. The libp2p adapter implements it for real peers;
 * the in-process network implements it for tests. The engine only ever talks to this interface.
 */
export interface Network {
  /** This node's own peer id. */
  readonly peerId: PeerId

  /**
   * Starts serving `space`: subscribes to its gossip topic and answers inbound `pull`, `push`
   * and `reconcile` requests for it with `handlers`. Joining the same space twice fails with
   * `INVALID_ARGUMENT`.
   */
  join(space: string, handlers: SpaceHandlers, options?: JoinOptions): Promise<SpaceChannel>

  /** Leaves every space, aborts calls in flight (`NETWORK_CLOSED`) and releases the transport. */
  close(): Promise<void>
}

/** Options of {@link Network.join}. */
export interface JoinOptions {
  /**
   * Peer ids allowed to read and write the space. Absent: the space is open to every peer.
   * Everyone else is refused on every protocol (`ACCESS_DENIED`) and their gossip is dropped.
   */
  readonly allow?: readonly PeerId[]
  /**
   * Makes the space private: who may do what is decided by signed proofs (see
   * {@link SpaceAccess}). The space id joined must be `access.verifier.spaceId`.
   */
  readonly access?: SpaceAccess
}

/**
 * How a peer takes part in a private space. Every remote peer presents its proof once per
 * connection; it is verified offline with `verifier` (signature, chain, expiry, the space's
 * revocations), cached per connection, dropped on disconnect and at once when
 * `verifier.addRevocation` revokes it, and re-checked on every call. `read` is needed to pull,
 * reconcile and receive the space's gossip, `write` to push and to have states or gossip
 * accepted; a peer is a peer of the space (`peers()`, `peer:connect`) once trusted or proved
 * `read`. Outbound, a node pulls from and reconciles with peers that are trusted or hold
 * `write`, and pushes to peers that are trusted or hold `read`. Refusals are `ACCESS_DENIED`
 * naming the missing right. Implemented once in `SpaceAccessCache` (network/space-access.ts).
 */
export interface SpaceAccess {
  /** The space's verifier: its descriptor, the revocations known, the clock. */
  readonly verifier: AccessVerifier
  /** This peer's own proof, presented to every peer of the space; absent on a relay, which holds
   * no grant and only serves. */
  readonly proof?: AccessProof
  /**
   * Peers accepted without a proof, with read and write rights: the relays the application chose
   * to trust with its data (a relay reads a private space's data; see the threat model).
   */
  readonly trustedPeers?: readonly PeerId[]
}

/** One space as seen through the network. */
export interface SpaceChannel {
  readonly space: string

  /** Peers currently connected that have joined this space. */
  peers(): readonly PeerId[]

  /** Publishes a gossip message to every peer of the space (delivery is best effort). */
  publish(message: GossipMessage): Promise<void>

  /**
   * Asks `peer` for `keys`: their digests (`mode: 'digest'`) or their full encoded causal states
   * (`mode: 'state'`). One round trip for the whole batch. A key the peer does not have comes back
   * with `null`.
   */
  pull(
    peer: PeerId,
    keys: readonly string[],
    mode: PullMode,
    options?: CallOptions,
  ): Promise<PullResult>

  /** Sends encoded causal states for `peer` to join; resolves when the peer acknowledged them. */
  push(peer: PeerId, states: readonly KeyState[], options?: CallOptions): Promise<void>

  /**
   * Runs a reconciliation session with `peer`, then exchanges the states of the differing keys
   * both ways: `driver.statesFor` supplies what is sent, the outcome holds what was received.
   */
  reconcile(peer: PeerId, driver: ReconcileDriver, options?: CallOptions): Promise<ReconcileOutcome>

  /** Subscribes to a channel event; returns a function that unsubscribes. */
  on<E extends keyof SpaceEvents>(event: E, listener: (detail: SpaceEvents[E]) => void): () => void

  /** Stops serving the space and unsubscribes from its topic. */
  leave(): Promise<void>
}

/** Events of a {@link SpaceChannel}. */
export interface SpaceEvents {
  /**
   * A peer of the space connected (or reconnected): it is connected, has joined the space and is
   * allowed by this side's allowlist. `reconnect` is true when the same peer was a peer of this
   * space earlier in this channel's life (a bounded memory of recent peers).
   */
  'peer:connect': { readonly peer: PeerId; readonly reconnect: boolean }
  /** A peer of the space disconnected. */
  'peer:disconnect': { readonly peer: PeerId }
  /**
   * A validated gossip message arrived. `peer` is the peer that signed (originated) it, which may
   * have reached us through another peer of the space. It carries the sender's summary.
   */
  gossip: { readonly peer: PeerId; readonly message: GossipMessage }
}

/** How the local replica answers inbound requests for one space. */
export interface SpaceHandlers {
  /** Answers a pull: one result per requested key, in order. */
  pull(peer: PeerId, keys: readonly string[], mode: PullMode): Promise<PullResult>
  /** Joins pushed states into the local replica; resolving acknowledges them. */
  push(peer: PeerId, states: readonly KeyState[]): Promise<void>
  /** Starts the responder side of a reconciliation requested by `peer`. */
  reconcile(peer: PeerId): Promise<ReconcileResponder>
}

/**
 * Per-call controls. Every call of a {@link SpaceChannel} fails with a MendsyncError: `TIMEOUT`,
 * `ABORTED`, `NETWORK_CLOSED` (this network or the connection closed mid-call), `CLOSED` (the
 * channel was left or the network closed before the call), `PEER_UNAVAILABLE` (not connected, or
 * the peer does not serve the space), `ACCESS_DENIED` (either side's allowlist refuses),
 * `REMOTE_ERROR` (the peer's handler failed; `OVERLOADED` passes through as itself),
 * `PROTOCOL_ERROR` / `FRAME_TOO_LARGE` (the exchange broke the wire protocol).
 */
export interface CallOptions {
  /** Deadline in milliseconds; the call fails with `TIMEOUT` after it. Default: the network's. */
  readonly timeoutMs?: number
  /** Aborts the call with `ABORTED`. */
  readonly signal?: AbortSignal
}

export type PullMode = 'digest' | 'state'

/** One key's encoded causal state (the canonical encoding of packages/core). */
export interface KeyState {
  readonly key: string
  readonly state: Uint8Array
}

/** Result of a pull: digests or states, `null` where the peer has no such key. */
export type PullResult =
  | { readonly mode: 'digest'; readonly digests: readonly (Uint8Array | null)[] }
  | { readonly mode: 'state'; readonly states: readonly (Uint8Array | null)[] }

/** A change hint in gossip: `key` changed and now carries these dots. */
export interface Hint {
  readonly key: string
  readonly dots: readonly Dot[]
}

/**
 * What a replica gossips about itself. The transport may encode the version vector as a delta
 * against the sender's previous message; receivers always see the full vector.
 */
export interface GossipMessage {
  readonly replicaId: ReplicaId
  readonly versionVector: VersionVector
  /** The reconciliation summary (root fingerprint and item count), at most 24 bytes. */
  readonly summary: Uint8Array
  /** Keys changed recently, with their dots. */
  readonly hints: readonly Hint[]
}

/**
 * The message-level interface of a reconciliation session of packages/core: the transport moves
 * its messages and never looks inside them.
 */
export interface ReconcileSessionLike {
  /** The initiator's first message. */
  initiate(): Uint8Array
  /**
   * Processes one message from the other side. `reply` is the message to send back (`null` when
   * there is nothing to send); when `done`, `differing` lists the local keys whose state the
   * other side lacks or holds differently.
   */
  receive(message: Uint8Array): {
    readonly reply: Uint8Array | null
    readonly done: boolean
    readonly differing: readonly string[] | null
  }
}

/** The initiator's side of a `reconcile` call. */
export interface ReconcileDriver {
  readonly session: ReconcileSessionLike
  /** The local states to send for the keys the session found differing. */
  statesFor(keys: readonly string[]): Promise<readonly KeyState[]>
  /**
   * Optional progress hook: a network that receives the peer's states in parts calls it with
   * each part as it arrives (libp2p: per states frame), before `reconcile` resolves. It only
   * reports; the outcome's `received` still holds every state. A network that receives the
   * states at once need not call it.
   */
  readonly onStates?: (states: readonly KeyState[]) => void
}

/** The responder's side: the same as the driver, plus where received states go. */
export interface ReconcileResponder extends ReconcileDriver {
  /** Joins the states the initiator sent (called after this side's `statesFor`). */
  accept(states: readonly KeyState[]): Promise<void>
}

/** What a reconciliation achieved, for the engine's metrics. */
export interface ReconcileOutcome {
  /** Local keys found differing (their states were sent). */
  readonly differing: readonly string[]
  /** States received from the peer, to be joined locally. */
  readonly received: readonly KeyState[]
  readonly rounds: number
  readonly bytesSent: number
  readonly bytesReceived: number
}
