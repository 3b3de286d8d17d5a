export * from './errors.js'
export * from './model/index.js'
export * from './reconcile/index.js'
export * from './runtime.js'
