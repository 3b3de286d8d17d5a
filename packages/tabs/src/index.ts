// @mendsync/tabs: one replica per browser profile, shared by its tabs. A Web Locks leader runs
// the Replica and the network; the other tabs reach it over a BroadcastChannel.
export { JOURNAL_PREFIX, WriteJournal } from './journal.js'
export type { CartAction, MetricEvent, Operation } from './protocol.js'
export {
  DEFAULT_RECENT_WRITES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type LeaderCommand,
  type LeaderContext,
  openTabs,
  type TabChannel,
  type TabLocks,
  type TabRole,
  Tabs,
  type TabsOptions,
} from './tabs.js'
