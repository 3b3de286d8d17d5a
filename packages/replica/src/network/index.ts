export {
  assertGossipMessage,
  copyGossipMessage,
  describeHandlerError,
  MAX_SUMMARY_BYTES,
  remoteError,
  runCall,
} from './call.js'
export {
  createInProcessHub,
  createInProcessNetwork,
  type InProcessHub,
  type InProcessHubOptions,
  type InProcessNetworkOptions,
  type ScheduledMessage,
} from './in-process.js'
export { SPACE_EVENT_NAMES } from './space-events.js'
export type * from './types.js'
