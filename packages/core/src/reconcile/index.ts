// Range-fingerprint tree and rateless set reconciliation (issue #3). See docs/reconcile.md.

export { DEFAULT_RECENT_WINDOW } from './recent.js'
export {
  MIN_MESSAGE_SIZE,
  PROTOCOL_VERSION,
  RECENCY_VERSION,
  ReconcileSession,
  type ReconcileSessionOptions,
  type ReconcileStats,
  type ReconcileStep,
} from './session.js'
export {
  DEFAULT_SYMBOL_CACHE,
  decodeSummary,
  MAX_RECENT_WINDOW,
  MAX_SYMBOL_CACHE,
  type RangeFingerprint,
  ReconcileTree,
  type ReconcileTreeBuildOptions,
  type ReconcileTreeOptions,
  SUMMARY_VERSION,
  type Summary,
  summariesEqual,
} from './tree.js'
