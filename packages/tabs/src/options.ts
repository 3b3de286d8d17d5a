// What an application gives `openTabs`, and the browser APIs the tabs use (narrowed, so tests
// and unusual hosts can pass their own).
import type { Logger } from '@mendsync/core/toolbox'
import type { Replica, Storage } from '@mendsync/replica'

/** What a tab is: the one running the replica, or one reaching it over the channel. */
export type TabRole = 'leader' | 'follower'

/** The part of the Web Locks API (`navigator.locks`) the tabs use. */
export interface TabLocks {
  request(
    name: string,
    options: { mode: 'exclusive'; ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<unknown>
}

/** The part of `BroadcastChannel` the tabs use. */
export interface TabChannel {
  postMessage(message: unknown): void
  close(): void
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void
}

/** What the leader tab's `openReplica` receives. */
export interface LeaderContext {
  /** This tab's id. */
  readonly tabId: string
  /**
   * Wraps the replica's storage with the write journal: a write a follower retries after the
   * leader died between persisting it and answering is then not applied twice. Pass the storage
   * you give `openReplica` through it (without it, retries are deduplicated in memory only).
   */
  journal(storage: Storage): Storage
}

/** A command the application runs in the leader tab (e.g. switching its network on or off). */
export type LeaderCommand = (replica: Replica, ...args: never[]) => unknown

/** Options of `openTabs`. */
export interface TabsOptions {
  /** The space; tabs of one space share one leader. */
  readonly space: string
  /** Opens the replica (storage, network) when this tab becomes the leader. */
  readonly openReplica: (leader: LeaderContext) => Promise<Replica>
  /** The BroadcastChannel name. Default `mendsync-tabs:<space>`. */
  readonly channelName?: string
  /** The Web Lock name. Default `mendsync-leader:<space>`. */
  readonly lockName?: string
  /**
   * How long a follower's call may wait for an answer, including a leader handover, before it
   * fails with `TIMEOUT`. Default `DEFAULT_REQUEST_TIMEOUT_MS` (15000 ms).
   */
  readonly requestTimeoutMs?: number
  /** Commands followers may run in the leader with `Tabs.call`. Default none. */
  readonly commands?: Readonly<Record<string, LeaderCommand>>
  /** Write ids every tab remembers as applied (handover dedupe). Default `DEFAULT_RECENT_WRITES` (10000). */
  readonly recentWrites?: number
  /**
   * Delay before a tab whose `openReplica` failed queues for the lock again. Default
   * `DEFAULT_RETRY_DELAY_MS` (1000 ms).
   */
  readonly retryDelayMs?: number
  /** Called with errors no call can report (a failed `openReplica` after a handover). */
  readonly onError?: (error: unknown) => void
  /**
   * Where the tabs log (namespaces `mendsync:tabs:election`, `:calls`, `:fan-out`, `:channel`,
   * `:journal`): errors they handle, and listeners that throw. Default
   * `defaultLogger('mendsync:tabs')`, silent unless debug output is switched on.
   */
  readonly logger?: Logger
  /** The lock manager. Default `navigator.locks`. */
  readonly locks?: TabLocks
  /** Creates the channel. Default `new BroadcastChannel(name)`. */
  readonly createChannel?: (name: string) => TabChannel
  /** This tab's id. Default a random 128-bit id in hex. */
  readonly tabId?: string
}
