// The public shapes of the in-process network: the hub's and each network's options, the hub's
// controls, and the message a test's delivery hook receives.
import type { Logger } from '@mendsync/core/toolbox'
import type { Network, PeerId } from '../../network/types.js'

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
export type Route = Omit<ScheduledMessage, 'deliver' | 'drop'>

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
