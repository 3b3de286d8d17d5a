// The toolbox of mendsync (`@mendsync/core/toolbox`): the primitives every package takes instead
// of writing its own. Each is here once, with its tests in `packages/core/test/toolbox`.
export * from './bounded-map.js'
export * from './listeners.js'
export * from './logger.js'
export * from './lower-bound.js'
export * from './random-id.js'
export * from './seeded-random.js'
export * from './semaphore.js'
export * from './token-bucket.js'
