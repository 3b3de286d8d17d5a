// Every default and internal bound of the engine, named once (the js-libp2p
// `constants.defaults.ts` style). `DEFAULT_REPLICA_OPTIONS` is built from these, the option docs
// link to them, and a test checks the README's option table against them.

/** Default `repair`: a read never waits for the network. */
export const REPAIR = 'async'
/** Default `peers`: ask the peers gossip says are ahead. */
export const PEERS = 'ahead'
/** Default `timeoutMs` of a `'sync'` read, ms. */
export const TIMEOUT_MS = 1000
/** Default `repairChance`: no speculative check. */
export const REPAIR_CHANCE = 0
/** Default `maxConcurrentRepairsPerPeer`. */
export const MAX_CONCURRENT_REPAIRS_PER_PEER = 4
/** Default `repairRatePerSecond` (the burst is the same size). */
export const REPAIR_RATE_PER_SECOND = 50
/** Default `breakerFailureThreshold`. */
export const BREAKER_FAILURE_THRESHOLD = 5
/** Default `breakerResetMs`. */
export const BREAKER_RESET_MS = 10_000
/** Default `retryBaseMs`. */
export const RETRY_BASE_MS = 100
/** Default `retryAttempts`. */
export const RETRY_ATTEMPTS = 3
/** Default `antiEntropyIntervalMs`. */
export const ANTI_ENTROPY_INTERVAL_MS = 30_000
/** Default `reconcileDelayMs`. */
export const RECONCILE_DELAY_MS = 1000
/** Default `handoff`: push changes to peers. */
export const HANDOFF = true
/** Default `gossipIntervalMs`. */
export const GOSSIP_INTERVAL_MS = 5_000
/** Default `outboxMaxKeys`. */
export const OUTBOX_MAX_KEYS = 10_000
/** Default `outboxMaxAgeMs`: 24 h. */
export const OUTBOX_MAX_AGE_MS = 24 * 60 * 60 * 1000
/** Default `cacheMaxKeys`. */
export const CACHE_MAX_KEYS = 10_000
/** Default `conflicts`: no arbitration. */
export const CONFLICTS = 'siblings'
/** Default `repairDurability`. */
export const REPAIR_DURABILITY = 'relaxed'

/** Most change hints one gossip message carries (the most recently changed keys). */
export const MAX_HINTS_PER_GOSSIP = 256
/** Keys whose divergence hints are remembered; the stalest key's hints are dropped first. */
export const MAX_HINT_KEYS = 100_000
/** Peers whose replica id, summary and handoff cursor are remembered. */
export const MAX_KNOWN_PEERS = 1024
/** Keys one handoff push carries. */
export const HANDOFF_CHUNK = 256
/** How long after a change its gossip goes out, ms (changes within it share one message). */
export const GOSSIP_DEBOUNCE_MS = 10
/** Most keys one pull request carries; a larger repair is split into several requests. */
export const MAX_KEYS_PER_PULL = 512
/** Repair requests that may wait for one peer before more fail with `OVERLOADED`. */
export const MAX_QUEUED_REPAIRS_PER_PEER = 256
/** Peers whose breaker, bucket and semaphore are remembered; the stalest is forgotten first. */
export const MAX_PEER_GATES = 1024
/** Least time between two `onProgress` events of a sync round, ms (its start and end always go out at once). */
export const PROGRESS_INTERVAL_MS = 100
