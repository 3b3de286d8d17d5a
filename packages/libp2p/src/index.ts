// @mendsync/libp2p: the mendsync Network on libp2p. Browser-safe; Node-only helpers (identity
// files) are in `@mendsync/libp2p/node`, the wire-level helpers of adversarial tests in
// `@mendsync/libp2p/testing`.
export { type BrowserLibp2pOptions, createBrowserLibp2p } from './browser.js'
export type { WireLimits } from './codec.js'
export {
  connectionTransport,
  type PeerTransport,
  peerTransports,
} from './connection-transport.js'
export {
  ACCESS_DEFAULTS,
  DEFAULT_GOSSIP_LIMITS,
  DEFAULT_WIRE_LIMITS,
  DIRECT_DEFAULTS,
  NETWORK_DEFAULTS,
  PENALTY_DEFAULTS,
} from './constants.defaults.js'
export type { GossipLimits } from './gossip.js'
export {
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  type PrivateKey,
  peerIdOf,
} from './identity.js'
export type {
  Libp2pNetworkOptions,
  Libp2pNetworkStats,
  Refusal,
  SpaceRequest,
} from './network/options.js'
export {
  ACCESS_PROTOCOL,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
  spaceTopic,
} from './network/protocols.js'
export {
  createLibp2pNetwork,
  type Libp2pNetwork,
  type MendsyncLibp2p,
} from './network.js'
export { createNodeLibp2p, type NodeLibp2pOptions } from './node.js'
export { PeerPenalties, type PeerPenaltyOptions, penaltiesOf } from './penalties.js'
export {
  backoffCeiling,
  fullJitterDelay,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
} from './reconnect/backoff.js'
export {
  DEFAULT_MAX_KNOWN_PEERS,
  KeepConnected,
  type KeepConnectedOptions,
  type KeptPeer,
  RECONNECT_AUDIT_MS,
  RECONNECT_DIAL_TIMEOUT_MS,
  RECONNECT_STABLE_MS,
  type ReconnectClock,
  type ReconnectDialer,
} from './reconnect/keep-connected.js'
export {
  type KeepConnectedHandle,
  keepConnectedOf,
} from './reconnect/service.js'
export type { DirectPeersOptions } from './webrtc/direct-peers.js'
