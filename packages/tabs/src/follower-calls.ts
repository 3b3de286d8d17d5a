// A tab's calls to the replica. In the leader they run at once; in a follower they wait, with a
// timeout, for the leader's answer, and are sent again (same id) to each new leader until one
// answers, or run here when this tab takes over.
import { MendsyncError } from '@mendsync/core'
import { type Body, fromWireError, type Message, type Operation } from './protocol.js'

interface Pending {
  readonly id: string
  readonly operation: Operation
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
  readonly timer: ReturnType<typeof setTimeout>
  /** The leader tab this call was last sent to. */
  sentTo: string | undefined
}

/** What {@link FollowerCalls} needs of its tab. */
export interface FollowerCallsOptions {
  readonly tabId: string
  /** How long a call waits for an answer before it fails with `TIMEOUT`. */
  readonly timeoutMs: number
  /** True while this tab leads (and is not stopping): calls then run here. */
  readonly leading: () => boolean
  /** The leading tab's id, when one is known. */
  readonly leaderTab: () => string | undefined
  /** Runs a call in this tab (it leads). */
  readonly execute: (id: string, operation: Operation) => Promise<unknown>
  readonly post: (body: Body) => void
}

/** The calls of one tab and those waiting for an answer. */
export class FollowerCalls {
  readonly #options: FollowerCallsOptions
  readonly #pending = new Map<string, Pending>()
  #seq = 0

  constructor(options: FollowerCallsOptions) {
    this.#options = options
  }

  /** Runs `operation` here when this tab leads, else sends it to the leader and waits. */
  call(operation: Operation): Promise<unknown> {
    const { tabId, timeoutMs, leading, execute } = this.#options
    const id = `${tabId}:${++this.#seq}`
    if (leading()) return execute(id, operation)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new MendsyncError(
            'TIMEOUT',
            `no leader tab answered ${operation.op} within ${timeoutMs} ms`,
          ),
        )
      }, timeoutMs)
      const pending: Pending = { id, operation, resolve, reject, timer, sentTo: undefined }
      this.#pending.set(id, pending)
      this.#send(pending)
    })
  }

  /** Sends every unanswered call to the current leader (or runs it here, when this tab leads). */
  resend(): void {
    for (const pending of [...this.#pending.values()]) this.#send(pending)
  }

  /** Settles the call the leader answered (answers to other tabs' calls are ignored). */
  answer(message: Extract<Message, { t: 'res' }>): void {
    const pending = this.#pending.get(message.id)
    if (pending === undefined) return
    this.#pending.delete(message.id)
    clearTimeout(pending.timer)
    if (message.ok) pending.resolve(message.value)
    else pending.reject(fromWireError(message.error))
  }

  /** Fails every waiting call with `error` (on close). */
  failAll(error: unknown): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    this.#pending.clear()
  }

  #send(pending: Pending): void {
    const { tabId, leading, leaderTab, execute, post } = this.#options
    if (leading()) {
      this.#pending.delete(pending.id)
      clearTimeout(pending.timer)
      execute(pending.id, pending.operation).then(pending.resolve, pending.reject)
      return
    }
    const leader = leaderTab()
    if (leader === undefined || pending.sentTo === leader || leader === tabId) return
    pending.sentTo = leader
    post({ t: 'req', id: pending.id, tab: tabId, body: pending.operation })
  }
}
