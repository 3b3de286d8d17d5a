// What a caller of `createLibp2pNetwork` may set, and what the network reports back. Every
// default is in `NETWORK_DEFAULTS` (constants.defaults.ts).
import type { SpaceDescriptor } from '@mendsync/core/access'
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
/** Options of `createLibp2pNetwork`; every one has a default (`NETWORK_DEFAULTS`). */
import type { InboundBudgetOptions } from '../framing/inbound-budget.js'
import type { GossipLimits } from '../gossip.js'
import type { PeerPenalties } from '../penalties.js'

export interface Libp2pNetworkOptions {
  /** Caps on what peers may make this node buffer (see the README's "Inbound limits"). Defaults: `DEFAULT_INBOUND_BUDGET` of `framing/inbound-budget.ts`. */
  readonly inboundBudget?: InboundBudgetOptions
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
  /** Requests in flight per peer and protocol (one stream); both directions. An integer. Default `32`. */
  readonly maxInFlight?: number
  /** Calls that may wait for an in-flight slot per peer and protocol before `OVERLOADED`. An integer. Default `256`. */
  readonly maxQueued?: number
  /** Inbound pull (and push) streams per connection. Default `4`. */
  readonly maxInboundStreams?: number
  /** Concurrent inbound reconciliation sessions per connection. Default `8`. */
  readonly maxInboundReconcileStreams?: number
  /** Most session messages in one reconciliation. Default `10_000`. */
  readonly maxReconcileMessages?: number
  /** Most state bytes received in one reconciliation. Default `64 MiB`. */
  readonly maxReconcileStateBytes?: number
  /** Gossip message limits (see `DEFAULT_GOSSIP_LIMITS`: 64 KiB, 256 hints, ...). */
  readonly gossipLimits?: Partial<GossipLimits>
  /** A full version vector every this many gossip messages of a space (deltas between). Default `8`. */
  readonly fullVectorEvery?: number
  /** Gossip messages accepted per second from one sender (beyond: ignored). Default `20`. */
  readonly gossipRatePerSecond?: number
  /** Gossip burst one sender may send at once; at least 1. Default `40`. */
  readonly gossipBurst?: number
  /** Most senders / peers tracked per space (sequence numbers, buckets, recent peers). An integer. Default `4096`. */
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
   * validator). For logging and metrics; a throwing listener is logged and otherwise ignored.
   * Default: none.
   */
  readonly onRefused?: (refusal: Refusal) => void
  /**
   * Where the network logs what it handles: rejected gossip (`:gossip`), bad frames and
   * penalties (`:penalties`), failed inbound streams (`:inbound`), channel events (`:channel`).
   * Default `defaultLogger('mendsync:libp2p')` (silent unless `DEBUG` / `localStorage.debug`
   * enables the namespace).
   */
  readonly logger?: Logger
  /**
   * A peer presented a valid proof for a private space this network has not joined. Join it
   * (resolve true) or refuse (false); the proof is then re-checked with the joined verifier.
   * The proof is verified (signature, chain, expiry) before the hook is called; calls are
   * bounded (`ACCESS_DEFAULTS.spaceRequestConcurrency` at once, a bounded queue, `OVERLOADED`
   * beyond) and deduplicated per space; requests for a space being opened wait for it. A hook
   * that throws or does not answer within `ACCESS_DEFAULTS.spaceOpenWaitMs` refuses. Default:
   * none (a proof for a space not joined gets `PEER_UNAVAILABLE`).
   */
  readonly onSpaceRequested?: (request: SpaceRequest) => Promise<boolean>
  /**
   * Peers granted circuit-relay reservations without proving a right, when this node serves
   * private spaces (it has joined one, or has `onSpaceRequested`); every other peer must be a
   * peer of a space served here (prove a right in a private one, be on a named space's allowlist;
   * a named space open to everyone admits everyone). Default: none.
   */
  readonly reservationAllowlist?: readonly PeerId[]
}

/** What {@link Libp2pNetworkOptions.onSpaceRequested} receives. */
export interface SpaceRequest {
  readonly spaceId: string
  readonly space: SpaceDescriptor
  readonly peer: PeerId
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
  /** Inbound frame bytes reserved in the inbound budget now. */
  readonly inboundBufferedBytes: number
  /** Proofs accepted on the access protocol. */
  readonly accessAccepted: number
  /** Access exchanges refused (bad proof, malformed frame, rate limit, space not served). */
  readonly accessRefused: number
  /** Private-topic subscriptions held back by the topic gate now (peers that proved nothing). */
  readonly heldSubscriptions: number
}
