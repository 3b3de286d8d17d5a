// `@mendsync/replica/adapter`: what the authors of a Storage or Network adapter need (the
// interfaces, the shared argument checks, record integrity, call handling). Applications do
// not need it: they use `@mendsync/replica`.
export { Emitter } from '../emitter.js'
export {
  assertGossipMessage,
  assertPullArguments,
  copyGossipMessage,
  describeHandlerError,
  MAX_SUMMARY_BYTES,
  remoteError,
  runCall,
} from '../network/call.js'
export { checkSpaceAccess, SpaceAccessCache } from '../network/space-access.js'
export { SPACE_EVENT_NAMES } from '../network/space-events.js'
export type * from '../network/types.js'
export * from '../storage/integrity.js'
export * from '../storage/scan-all.js'
export * from '../storage/types.js'
export * from '../storage/validate.js'
