// The defaults of the tabs coordination, named once; the options' docs and the README cite them.

/** Default of `TabsOptions.requestTimeoutMs`: how long a follower waits for the leader. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000
/** Default of `TabsOptions.recentWrites`: write ids remembered to apply each write once. */
export const DEFAULT_RECENT_WRITES = 10_000
/** Default of `TabsOptions.retryDelayMs`: the pause before a failed takeover queues again. */
export const DEFAULT_RETRY_DELAY_MS = 1_000
/** How long the leader batches its replica's metric events before posting them to the others. */
export const METRIC_FLUSH_MS = 20
/**
 * The least time the write journal keeps a record (it keeps them for twice the request timeout
 * when that is longer: a follower retries a write until its call times out).
 */
export const MIN_JOURNAL_RETENTION_MS = 60_000
/** Random bytes of a tab id. */
export const TAB_ID_BYTES = 16

/** Default of `TabsOptions.channelName`. */
export function defaultChannelName(space: string): string {
  return `mendsync-tabs:${space}`
}

/** Default of `TabsOptions.lockName`. */
export function defaultLockName(space: string): string {
  return `mendsync-leader:${space}`
}
