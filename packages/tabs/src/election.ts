// Leadership: the Web Lock that elects one tab of a profile, and what the winner does first
// (open the replica, its storage wrapped by the write journal). The lock is held for the tab's
// life; the browser hands it to the next queued tab when the leader closes or crashes.
import { MendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { Replica } from '@mendsync/replica'
import { MIN_JOURNAL_RETENTION_MS } from './defaults.js'
import { WriteJournal } from './journal.js'
import type { LeaderContext, TabLocks, TabsOptions } from './options.js'

/** Options of {@link Election}. */
export interface ElectionOptions {
  readonly locks: TabLocks
  readonly lockName: string
  /** Pause before a failed takeover queues for the lock again. */
  readonly retryDelayMs: number
  /** Takes the leader role once the lock is granted; a rejection gives the lock back. */
  readonly lead: () => Promise<void>
  /** True once the tab closed: a lock granted then is given back at once. */
  readonly closed: () => boolean
  /** Told of a takeover that failed (no call can report it). */
  readonly onError: ((error: unknown) => void) | undefined
  readonly logger: Logger
}

/** One tab's part in the election of the leader. */
export class Election {
  readonly #options: ElectionOptions
  readonly #abort = new AbortController()
  #release: (() => void) | undefined

  constructor(options: ElectionOptions) {
    this.#options = options
  }

  /**
   * Requests the lock. Resolves `true` once this tab leads, `false` when the lock was not
   * available (`ifAvailable`) or the request was cancelled (close). Rejects when taking the lead
   * failed (the lock is released then, so another tab may succeed).
   */
  request(ifAvailable: boolean): Promise<boolean> {
    const { locks, lockName, lead, closed, logger } = this.#options
    return new Promise<boolean>((resolve, reject) => {
      const options = ifAvailable
        ? { mode: 'exclusive' as const, ifAvailable: true }
        : { mode: 'exclusive' as const, signal: this.#abort.signal }
      locks
        .request(lockName, options, async (lock) => {
          if (lock === null || closed()) {
            resolve(false)
            return
          }
          const held = new Promise<void>((release) => {
            this.#release = release
          })
          try {
            await lead()
          } catch (error) {
            reject(error)
            return // releases the lock
          }
          resolve(true)
          await held
        })
        .catch((error: unknown) => {
          if (!closed()) {
            reject(error)
            return
          }
          logger.debug('the lock request ended with the tab', { error })
          resolve(false)
        })
    })
  }

  /** Queues for the lock until this tab leads; a failed takeover is reported, then retried. */
  queue(): void {
    const { closed, onError, retryDelayMs, logger } = this.#options
    if (closed()) return
    this.request(false).then(
      () => undefined,
      (error: unknown) => {
        if (closed()) return
        logger.warn('taking over as the leader failed; queueing for the lock again', {
          error,
          retryDelayMs,
        })
        onError?.(error)
        setTimeout(() => this.queue(), retryDelayMs)
      },
    )
  }

  /** Withdraws a queued request (on close). */
  cancel(): void {
    this.#abort.abort()
  }

  /** Gives the held lock back, so the next tab takes over. */
  release(): void {
    this.#release?.()
  }
}

/** A replica opened by a new leader, with the journal its storage went through (if it did). */
export interface LeaderReplica {
  readonly replica: Replica
  readonly journal: WriteJournal | undefined
}

/**
 * Opens the leader's replica with the application's `openReplica`, offering it the write journal,
 * and loads the journal's records. Closes the replica again and throws when that fails or the
 * tab closed meanwhile.
 */
export async function openLeaderReplica(
  options: Pick<TabsOptions, 'openReplica'>,
  context: {
    readonly tabId: string
    readonly requestTimeoutMs: number
    readonly closed: () => boolean
    readonly logger: Logger
  },
): Promise<LeaderReplica> {
  let journal: WriteJournal | undefined
  const leader: LeaderContext = {
    tabId: context.tabId,
    journal: (storage) => {
      journal = new WriteJournal(storage, {
        retentionMs: Math.max(MIN_JOURNAL_RETENTION_MS, 2 * context.requestTimeoutMs),
        logger: context.logger.child('journal'),
      })
      return journal.storage
    },
  }
  const replica = await options.openReplica(leader)
  try {
    if (context.closed()) {
      throw new MendsyncError('CLOSED', 'the tabs handle was closed while opening the replica')
    }
    await journal?.load()
  } catch (error) {
    await replica.close().catch((closeError: unknown) => {
      context.logger.warn('closing the replica of a failed takeover failed', { error: closeError })
    })
    throw error
  }
  return { replica, journal }
}
