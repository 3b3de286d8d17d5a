// The in-process network for tests: several networks attach to one hub, which carries gossip and
// requests between them with a configurable latency and lets a test take any link down or up
// (partition and heal). It follows the same contract as the libp2p network, checked by the same
// acceptance suite (`runNetworkAdapterTests`), so the engine can be tested without sockets; in a
// private space (`access`) each channel verifies a linked peer's proof once per link, with the
// rights cache the libp2p network uses, and enforces the same rights on calls and gossip.
export { createInProcessHub, createInProcessNetwork } from './hub.js'
export type {
  InProcessHub,
  InProcessHubOptions,
  InProcessNetworkOptions,
  ScheduledMessage,
} from './options.js'
