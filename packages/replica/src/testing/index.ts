// Acceptance suites every adapter runs from its own test file. A separate entry point
// (`@mendsync/replica/testing`) because they import vitest, which the engine must not.
export * from './network-suite.js'
export * from './storage-suite.js'
