// @mendsync/libp2p: the mendsync Network on libp2p. Browser-safe; Node-only helpers (identity
// files) are in `@mendsync/libp2p/node`.
export { type BrowserLibp2pOptions, createBrowserLibp2p, denyBrowserDial } from './browser.js'
export { DEFAULT_WIRE_LIMITS, type WireLimits } from './codec.js'
export { DEFAULT_GOSSIP_LIMITS, type GossipLimits } from './gossip.js'
export {
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  type PrivateKey,
  peerIdOf,
} from './identity.js'
export {
  createLibp2pNetwork,
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  type Libp2pNetworkStats,
  type MendsyncLibp2p,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
  type Refusal,
  spaceTopic,
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
  RECONNECT_DIAL_TIMEOUT_MS,
  RECONNECT_STABLE_MS,
  type ReconnectClock,
  type ReconnectDialer,
} from './reconnect/keep-connected.js'
export {
  type KeepConnectedHandle,
  keepConnectedOf,
} from './reconnect/service.js'
