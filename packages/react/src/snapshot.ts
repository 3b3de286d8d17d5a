/** Where a hook's data stands: still loading, or failed (the last good data stays shown). */
export interface Progress {
  /** True until the first read answered. */
  readonly loading: boolean
  /** Why the last read failed; cleared by the next read that succeeds. */
  readonly error: Error | undefined
}

/**
 * What a store holds for its watchers: a snapshot object replaced (never mutated) on change, so
 * `useSyncExternalStore` re-renders exactly when it is replaced.
 */
export interface Snapshot<T> extends Progress {
  /** The last successful read (kept while a later read fails). */
  readonly data: T | undefined
}

/** The snapshot before the first read (one shared object, so React sees no change). */
export const LOADING: Snapshot<never> = Object.freeze({
  loading: true,
  error: undefined,
  data: undefined,
})
