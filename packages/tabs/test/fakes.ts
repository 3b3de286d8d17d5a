// Node stand-ins for what a browser profile shares between its tabs: an in-memory Web Locks
// manager (exclusive mode, ifAvailable, abort signals, and a crash that drops a tab's locks the way
// a closed tab's are released), and one IndexedDB-like store that every leader reopens.
import { MendsyncError } from '@mendsync/core'
import { MemoryStorage, MemoryStore } from '@mendsync/replica'
import type { Storage, WriteBatch } from '@mendsync/replica/adapter'
import type { TabChannel, TabLocks } from '../src/index.js'

interface Waiter {
  readonly owner: string
  readonly callback: (lock: unknown) => Promise<void>
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

/** One lock manager for a whole "profile"; `view(owner)` is what one tab sees. */
export class FakeLockManager {
  readonly #holders = new Map<string, string>()
  readonly #queues = new Map<string, Waiter[]>()

  holder(name: string): string | undefined {
    return this.#holders.get(name)
  }

  view(owner: string): TabLocks {
    return {
      request: (name, options, callback) =>
        new Promise((resolve, reject) => {
          const waiter: Waiter = { owner, callback, resolve, reject }
          const queue = this.#queues.get(name) ?? []
          const free = !this.#holders.has(name) && queue.length === 0
          if (options.ifAvailable && !free) {
            Promise.resolve()
              .then(() => callback(null))
              .then(resolve, reject)
            return
          }
          if (free) {
            this.#grant(name, waiter)
            return
          }
          queue.push(waiter)
          this.#queues.set(name, queue)
          options.signal?.addEventListener('abort', () => {
            const index = queue.indexOf(waiter)
            if (index >= 0) {
              queue.splice(index, 1)
              reject(new DOMException('the request was aborted', 'AbortError'))
            }
          })
        }),
    }
  }

  /** A tab dies: its held locks are released at once and its queued requests vanish. */
  crash(owner: string): void {
    for (const [name, queue] of this.#queues) {
      this.#queues.set(
        name,
        queue.filter((waiter) => waiter.owner !== owner),
      )
    }
    for (const [name, holder] of [...this.#holders]) {
      if (holder === owner) this.#release(name, owner)
    }
  }

  #grant(name: string, waiter: Waiter): void {
    this.#holders.set(name, waiter.owner)
    Promise.resolve()
      .then(() => waiter.callback({ name, mode: 'exclusive' }))
      .then(waiter.resolve, waiter.reject)
      .finally(() => this.#release(name, waiter.owner))
  }

  #release(name: string, owner: string): void {
    if (this.#holders.get(name) !== owner) return
    this.#holders.delete(name)
    const next = this.#queues.get(name)?.shift()
    if (next !== undefined) this.#grant(name, next)
  }
}

/**
 * The profile's database: each `open()` is a new connection (a Storage) on the same records.
 * `kill(connection)` makes a connection fail every later call, as a crashed tab's would.
 */
export class FakeDatabase {
  readonly store = new MemoryStore()
  /** Called after every batch a connection persisted (tests crash a leader right there). */
  afterWrite: ((batch: WriteBatch) => void) | undefined

  open(): Storage & { kill(): void } {
    const inner = new MemoryStorage({ store: this.store })
    let dead = false
    const check = () => {
      if (dead) throw new MendsyncError('STORAGE_CLOSED', 'this connection died with its tab')
    }
    return {
      get: async (namespace, keys) => {
        check()
        return inner.get(namespace, keys)
      },
      scan: async (options) => {
        check()
        return inner.scan(options)
      },
      write: async (batch) => {
        check()
        await inner.write(batch)
        this.afterWrite?.(batch)
      },
      close: async () => {
        dead = true
      },
      kill: () => {
        dead = true
      },
    }
  }
}

/** A channel factory that remembers the channels it made, so a test can cut one tab off. */
export function channels(): {
  create: (name: string) => TabChannel
  closeAll: () => void
} {
  const made: BroadcastChannel[] = []
  return {
    create: (name) => {
      const channel = new BroadcastChannel(name)
      made.push(channel)
      return channel as unknown as TabChannel
    },
    closeAll: () => {
      for (const channel of made) channel.close()
    },
  }
}
