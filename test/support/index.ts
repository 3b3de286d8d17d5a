// Shared support of the cross-package tests and benches: the network shaper.
export * from './link-schedule.ts'
export * from './shaping-proxy.ts'
