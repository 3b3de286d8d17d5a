// Tombstone collection, retired replicas and stale handoff cursors (issue 18).
export {
  GarbageCollector,
  type GcPassResult,
  type GcStatus,
} from './garbage-collector.js'
export { DEFAULT_GC_OPTIONS, type GcOptions, resolveGcOptions } from './gc-options.js'
