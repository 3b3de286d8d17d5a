// `@mendsync/replica/testing`: the in-process network hub, the fakes and the acceptance suites
// every adapter runs from its own test file. A separate entry point because the suites import
// vitest, which the engine must not.
export {
  createInProcessHub,
  createInProcessNetwork,
  type InProcessHub,
  type InProcessHubOptions,
  type InProcessNetworkOptions,
  type ScheduledMessage,
} from './in-process/index.js'
export * from './network-suite/index.js'
export * from './storage-suite/index.js'
