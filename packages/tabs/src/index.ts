// @mendsync/tabs: one replica per browser profile, shared by its tabs. A Web Locks leader runs
// the Replica and the network; the other tabs reach it over a BroadcastChannel.
export {
  DEFAULT_RECENT_WRITES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_DELAY_MS,
} from './defaults.js'
export { JOURNAL_PREFIX, WriteJournal, type WriteJournalOptions } from './journal.js'
export type {
  LeaderCommand,
  LeaderContext,
  TabChannel,
  TabLocks,
  TabRole,
  TabsOptions,
} from './options.js'
export type { CartAction, MetricEvent, Operation } from './protocol.js'
export { openTabs, Tabs } from './tabs.js'
