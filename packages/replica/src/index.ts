export { Emitter, reportListenerError } from './emitter.js'
export * from './network/index.js'
export * from './replica/index.js'
export * from './storage/index.js'
