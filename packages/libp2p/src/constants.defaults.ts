// Every default of @mendsync/libp2p, once. The option interfaces' docs, the settings resolution
// and the README's option tables take their values from here (`test/readme.test.ts` checks the
// tables against these objects).

/** Limits every decoder enforces. All are counts or lengths of peer input. */
export interface WireLimits {
  /** Largest frame, bytes. */
  readonly maxFrameBytes: number
  /** Most keys in one pull, or states in one push or reconcile chunk. */
  readonly maxKeysPerFrame: number
  /** Longest key, replica id or space name, in UTF-16 code units. */
  readonly maxKeyLength: number
}

/** Limits of gossip messages (defaults: `DEFAULT_GOSSIP_LIMITS`). */
export interface GossipLimits {
  /** Largest encoded gossip message, bytes. */
  readonly maxGossipBytes: number
  /** Most hints in one message. */
  readonly maxHints: number
  /** Most dots in one hint. */
  readonly maxDotsPerHint: number
  /** Most version vector entries in one message. */
  readonly maxVectorEntries: number
  /** Longest key or replica id. */
  readonly maxKeyLength: number
}

/** The wire limits a network applies unless its options of the same names say otherwise. */
export const DEFAULT_WIRE_LIMITS: WireLimits = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxKeysPerFrame: 10_000,
  maxKeyLength: 1024,
}

/** The gossip limits a network applies unless `Libp2pNetworkOptions.gossipLimits` overrides them. */
export const DEFAULT_GOSSIP_LIMITS: GossipLimits = {
  maxGossipBytes: 64 * 1024,
  maxHints: 256,
  maxDotsPerHint: 64,
  maxVectorEntries: 4096,
  maxKeyLength: DEFAULT_WIRE_LIMITS.maxKeyLength,
}

/**
 * The default of every scalar option of `createLibp2pNetwork` (`Libp2pNetworkOptions`), by
 * option name. Times in ms, sizes in bytes.
 */
export const NETWORK_DEFAULTS = {
  defaultTimeoutMs: 10_000,
  reconcileTimeoutMs: 60_000,
  handlerTimeoutMs: 30_000,
  maxFrameBytes: DEFAULT_WIRE_LIMITS.maxFrameBytes,
  maxKeysPerFrame: DEFAULT_WIRE_LIMITS.maxKeysPerFrame,
  maxKeyLength: DEFAULT_WIRE_LIMITS.maxKeyLength,
  maxInFlight: 32,
  maxQueued: 256,
  maxInboundStreams: 4,
  maxInboundReconcileStreams: 8,
  maxReconcileMessages: 10_000,
  maxReconcileStateBytes: 64 * 1024 * 1024,
  fullVectorEvery: 8,
  gossipRatePerSecond: 20,
  gossipBurst: 40,
  maxTrackedPeers: 4096,
  penaltyPoints: 10,
  runOnLimitedConnection: false,
  stopNodeOnClose: false,
  reuseStreams: true,
} as const

/** The defaults of `PeerPenaltyOptions`, by option name. */
export const PENALTY_DEFAULTS = {
  /** Points at which a peer is disconnected and banned. */
  banThreshold: 100,
  /** How long a ban lasts, ms (5 minutes). */
  banMs: 300_000,
  /** Points forgiven per second. */
  decayPerSecond: 1,
  /** Most peers tracked. */
  capacity: 4096,
} as const

/** Peers remembered per space to tell a reconnect from a first connect (`peer:connect`). */
export const RECENT_PEERS_PER_SPACE = 1024

/** Frames queued for writing on one reconciliation stream before it is reset as not read. */
export const RECONCILE_MAX_QUEUED_WRITES = 64

/**
 * How long opening a stream of a direct protocol (pull, push, reconcile; protocol negotiation
 * included) may take, ms.
 */
export const STREAM_OPEN_TIMEOUT_MS = 10_000

/** Longest space name a network joins. */
export const MAX_SPACE_NAME_LENGTH = 256

/**
 * Largest message gossipsub accepts from a peer, bytes: the largest gossip payload
 * (`maxGossipBytes`, 64 KiB) with room for gossipsub's framing and the signature.
 */
export const GOSSIPSUB_MAX_INBOUND_DATA_BYTES = 256 * 1024

/**
 * The numbers of private spaces (the access exchange, the gossip gate, spaces opened on demand,
 * relay reservations), by name. Times in ms, sizes in bytes.
 */
export const ACCESS_DEFAULTS = {
  /** Largest access frame (a request with the largest proof, or a reply), bytes. */
  maxAccessFrameBytes: 4608,
  /** Deadline of one access exchange (open, request, verify, reply), ms. */
  accessTimeoutMs: 10_000,
  /** Access exchanges one peer may start per second (refill of its token bucket). */
  accessRatePerSecond: 10,
  /** Access exchanges one peer may start in a burst. */
  accessBurst: 64,
  /** Access streams one connection may have open at once. */
  maxInboundAccessStreams: 8,
  /** Private-topic subscriptions held back per peer until it proves `read`; more are dropped. */
  maxHeldSubscriptionsPerPeer: 64,
  /** `onSpaceRequested` calls running at once. */
  spaceRequestConcurrency: 8,
  /** `onSpaceRequested` calls waiting for a slot; one more is refused `OVERLOADED`. */
  maxQueuedSpaceRequests: 256,
  /** How long a request for a space being opened waits for it, ms. */
  spaceOpenWaitMs: 10_000,
  /** How long a relay reservation waits for its peer to prove a right, ms. */
  reservationProofWaitMs: 5_000,
  /** Relay reservations waiting for a proof at once; one more is refused. */
  maxWaitingReservations: 1024,
} as const

/** The @chainsafe/libp2p-gossipsub release whose internals the topic gate was checked against. */
export const GOSSIPSUB_VERSION_CHECKED = '14.1.2'

/**
 * gossipsub outbound streams negotiated at once (see gossipsub-outbound.ts): enough that a relay
 * restarted under hundreds of clients tells them all its subscriptions within a few round trips,
 * few enough that a burst does not starve the other protocols.
 */
export const GOSSIPSUB_OUTBOUND_STREAM_CONCURRENCY = 32

/** How often dead gossipsub outbound streams of still-connected peers are replaced, ms. */
export const GOSSIPSUB_DEAD_STREAM_SWEEP_MS = 2_000

/**
 * The defaults of direct (WebRTC) connections between browsers (`BrowserLibp2pOptions.webrtc`),
 * by option name. Times in ms.
 */
export const DIRECT_DEFAULTS = {
  /**
   * Most peers of one space this node dials directly (the relay stays connected besides): a few
   * direct peers carry a space's writes quickly; more would cost every device a data channel,
   * a gossipsub mesh slot and a reconciliation each for little gain.
   */
  maxDirectPeersPerSpace: 4,
  /** Deadline of one direct dial (circuit, signalling, ICE, noise), ms. */
  dialTimeoutMs: 20_000,
  /** How long a peer whose direct dial failed is not dialled again, ms. */
  retryAfterMs: 60_000,
  /** Most peers remembered (per space membership and failed dials), LRU. */
  maxTrackedPeers: 1024,
} as const
