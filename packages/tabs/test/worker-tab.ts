// The page's side of one worker tab (test/tab.worker.ts), shared by the Chromium test
// (tabs.browser.test.ts) and the tabs bench (bench/page.ts, bundled by Vite together with the
// worker). Every wait has a timeout, so a tab that dies or never answers fails the caller instead
// of hanging it.
import type { TabCommand, TabEvent } from './tab.worker.js'

export type { TabCommand, Timed } from './tab.worker.js'

/** What a tab reports on its own (everything but the replies to commands). */
export type WorkerTabEvent = Exclude<TabEvent, { event: 'reply' }>

/** The wall clock of the page and of its workers, in ms, comparable across them. */
export const now = (): number => performance.timeOrigin + performance.now()

export class WorkerTab {
  readonly #worker = new Worker(new URL('./tab.worker.ts', import.meta.url), { type: 'module' })
  readonly #replies = new Map<
    number,
    {
      resolve: (v: unknown) => void
      reject: (e: Error) => void
      timer: ReturnType<typeof setTimeout>
    }
  >()
  /** Every event the tab reported, oldest first. */
  readonly events: WorkerTabEvent[] = []
  readonly #waiters = new Set<() => void>()
  #seq = 0
  #terminated = false

  constructor() {
    this.#worker.onmessage = (message: MessageEvent<TabEvent>) => {
      const data = message.data
      if (data.event === 'reply') {
        const reply = this.#replies.get(data.seq)
        if (reply === undefined) return
        this.#replies.delete(data.seq)
        clearTimeout(reply.timer)
        if (data.ok) reply.resolve(data.value)
        else reply.reject(new Error(data.error))
        return
      }
      this.events.push(data)
      for (const wake of [...this.#waiters]) wake()
    }
  }

  /** Runs `command` in the tab; resolves with its answer, or fails after `timeoutMs`. */
  send<T = unknown>(command: TabCommand, timeoutMs = 20_000): Promise<T> {
    if (this.#terminated) return Promise.reject(new Error(`${command.op}: the tab is terminated`))
    const seq = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#replies.delete(seq)
        reject(new Error(`${command.op}: no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#replies.set(seq, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.#worker.postMessage({ seq, command })
    })
  }

  /** Resolves with the first event (past or future) that matches, or fails after `timeoutMs`. */
  next(match: (event: WorkerTabEvent) => boolean, timeoutMs = 5_000): Promise<WorkerTabEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(match)
        if (found === undefined) return
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(
          new Error(`no matching event within ${timeoutMs} ms: ${JSON.stringify(this.events)}`),
        )
      }, timeoutMs)
      this.#waiters.add(check)
      check()
    })
  }

  /** Kills the worker, a crash: the browser releases its lock, none of the tab's code runs. */
  terminate(): void {
    if (this.#terminated) return
    this.#terminated = true
    this.#worker.terminate()
    for (const [seq, reply] of this.#replies) {
      this.#replies.delete(seq)
      clearTimeout(reply.timer)
      reply.reject(new Error('the tab was terminated'))
    }
  }
}
