// Multi-tab coordination: one tab (the leader, elected with the Web Locks API) runs the Replica
// and the network; every tab (the leader included) gets the same client API, and followers reach
// the leader over a BroadcastChannel. See the README for the protocol and its guarantees.
import {
  type CausalValue,
  decodeValue,
  encodeValue,
  MendsyncError,
  type ReadContext,
} from '@mendsync/core'
import type {
  CartHandle,
  Change,
  ChangeListener,
  ReadOptions,
  ReadResult,
  Replica,
  ReplicaMetricValues,
  ReplicaStatus,
  Storage,
  SubscriptionTarget,
} from '@mendsync/replica'
import { WriteJournal } from './journal.js'
import {
  type Body,
  createsDot,
  fromWireError,
  isMessage,
  isWrite,
  type Message,
  type MetricEvent,
  type Operation,
  PROTOCOL_VERSION,
  toWireError,
} from './protocol.js'
import { RecentIds } from './recent-ids.js'

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

/** Options of {@link openTabs}. */
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
   * fails with `TIMEOUT`. Default 15000 ms.
   */
  readonly requestTimeoutMs?: number
  /** Commands followers may run in the leader with {@link Tabs.call}. Default none. */
  readonly commands?: Readonly<Record<string, LeaderCommand>>
  /** Write ids every tab remembers as applied (handover dedupe). Default 10000. */
  readonly recentWrites?: number
  /** Delay before a tab whose `openReplica` failed queues for the lock again. Default 1000 ms. */
  readonly retryDelayMs?: number
  /** Called with errors no call can report (a failed `openReplica` after a handover). */
  readonly onError?: (error: unknown) => void
  /** The lock manager. Default `navigator.locks`. */
  readonly locks?: TabLocks
  /** Creates the channel. Default `new BroadcastChannel(name)`. */
  readonly createChannel?: (name: string) => TabChannel
  /** This tab's id. Default a random UUID. */
  readonly tabId?: string
}

/** Default of `TabsOptions.requestTimeoutMs`: how long a follower waits for the leader. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000
/** Default of `TabsOptions.recentWrites`: write ids remembered to apply each write once. */
export const DEFAULT_RECENT_WRITES = 10_000
const METRIC_FLUSH_MS = 20

function randomId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

interface Pending {
  readonly id: string
  readonly operation: Operation
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
  readonly timer: ReturnType<typeof setTimeout>
  /** The leader tab this call was last sent to. */
  sentTo: string | undefined
}

/**
 * Opens the tabs coordination of `options.space`: resolves once this tab knows its role. The first
 * tab becomes the leader (and has opened its replica when this resolves); later tabs are followers
 * and queue for the lock, taking over when the leader tab closes or crashes.
 */
export async function openTabs(options: TabsOptions): Promise<Tabs> {
  if (typeof options?.space !== 'string' || options.space.length === 0) {
    throw new MendsyncError('INVALID_ARGUMENT', 'openTabs needs a non-empty space name')
  }
  if (typeof options.openReplica !== 'function') {
    throw new MendsyncError('INVALID_ARGUMENT', 'openTabs needs an openReplica function')
  }
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new MendsyncError('INVALID_ARGUMENT', 'requestTimeoutMs must be a positive number')
  }
  const tabs = new Tabs(options)
  await tabs.start()
  return tabs
}

/**
 * One tab's view of the space: the replica's client API (every method returns a promise, since a
 * follower's calls cross to the leader), its role, and the leader's change and metric events.
 */
export class Tabs {
  readonly space: string
  readonly tabId: string
  readonly #options: TabsOptions
  readonly #locks: TabLocks
  readonly #channel: TabChannel
  readonly #lockName: string
  readonly #timeoutMs: number
  readonly #applied: RecentIds
  readonly #pending = new Map<string, Pending>()
  readonly #inFlight = new Map<string, Promise<unknown>>()
  readonly #keyTails = new Map<string, Promise<unknown>>()
  readonly #byKey = new Map<string, Set<ChangeListener>>()
  readonly #byPrefix = new Map<string, Set<ChangeListener>>()
  readonly #metricListeners = new Set<(event: MetricEvent) => void>()
  readonly #roleListeners = new Set<(role: TabRole) => void>()
  readonly #leaderListeners = new Set<(tabId: string | undefined) => void>()
  readonly #abort = new AbortController()
  #role: TabRole = 'follower'
  #leaderTab: string | undefined
  #replica: Replica | undefined
  #journal: WriteJournal | undefined
  #detach: (() => void)[] = []
  #metricBuffer: MetricEvent[] = []
  #metricTimer: ReturnType<typeof setTimeout> | undefined
  #seq = 0
  #closed = false
  #channelClosed = false
  #stopping = false
  #releaseLock: (() => void) | undefined

  /** @internal Use {@link openTabs}. */
  constructor(options: TabsOptions) {
    this.#options = options
    this.space = options.space
    this.tabId = options.tabId ?? randomId()
    this.#lockName = options.lockName ?? `mendsync-leader:${options.space}`
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.#applied = new RecentIds(options.recentWrites ?? DEFAULT_RECENT_WRITES)
    const locks = options.locks ?? (globalThis.navigator?.locks as TabLocks | undefined)
    if (locks === undefined) {
      throw new MendsyncError('INVALID_ARGUMENT', 'no Web Locks API here: pass options.locks')
    }
    this.#locks = locks
    const name = options.channelName ?? `mendsync-tabs:${options.space}`
    this.#channel = options.createChannel?.(name) ?? new BroadcastChannel(name)
    this.#channel.addEventListener('message', (event) => this.#onMessage(event.data))
  }

  /** @internal Determines the role (and opens the replica when this tab leads). */
  async start(): Promise<void> {
    this.#post({ t: 'hello', tab: this.tabId })
    let leads: boolean
    try {
      leads = await this.#requestLock(true)
    } catch (error) {
      this.#closed = true
      this.#channelClosed = true
      this.#channel.close()
      throw error
    }
    if (!leads) this.#queueForLock()
  }

  // ---- role ----------------------------------------------------------------------------------

  /** `'leader'` when this tab runs the replica, else `'follower'`. */
  get role(): TabRole {
    return this.#role
  }

  /** The leading tab's id, when one is known. */
  get leaderTabId(): string | undefined {
    return this.#leaderTab
  }

  /** The replica, in the leader tab only (use the methods of this object to work in every tab). */
  get replica(): Replica | undefined {
    return this.#replica
  }

  /** Calls `listener` when this tab's role changes; returns the function that unsubscribes. */
  onRoleChange(listener: (role: TabRole) => void): () => void {
    this.#roleListeners.add(listener)
    return () => this.#roleListeners.delete(listener)
  }

  /** Calls `listener` when another tab (or this one) becomes the leader, or the leader leaves. */
  onLeaderChange(listener: (tabId: string | undefined) => void): () => void {
    this.#leaderListeners.add(listener)
    return () => this.#leaderListeners.delete(listener)
  }

  // ---- the replica's API ---------------------------------------------------------------------

  async get(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    return (await this.getMany([key], options))[0] as ReadResult
  }

  getMany(keys: readonly string[], options: ReadOptions = {}): Promise<ReadResult[]> {
    return this.#call({ op: 'getMany', keys: [...keys], options: { ...options } }) as Promise<
      ReadResult[]
    >
  }

  async put(key: string, value: unknown, context?: ReadContext): Promise<void> {
    await this.#call({ op: 'put', key, value, context })
  }

  async delete(key: string, context?: ReadContext): Promise<void> {
    await this.#call({ op: 'delete', key, context })
  }

  cart(key: string): CartHandle {
    const run = async (
      action: 'add' | 'setQty' | 'remove' | 'setMeta',
      sku: string,
      qty?: number,
      meta?: unknown,
    ) => {
      await this.#call({ op: 'cart', key, action, sku, qty, meta })
    }
    return {
      add: (sku, qty, meta) => run('add', sku, qty, meta),
      setQty: (sku, qty) => run('setQty', sku, qty),
      remove: (sku) => run('remove', sku),
      setMeta: (sku, meta) => run('setMeta', sku, undefined, meta),
      view: (options) => this.get(key, options),
    }
  }

  /** The leader replica's status. */
  status(): Promise<ReplicaStatus> {
    return this.#call({ op: 'status' }) as Promise<ReplicaStatus>
  }

  /** The leader replica's metrics. */
  metrics(): Promise<ReplicaMetricValues> {
    return this.#call({ op: 'metrics' }) as Promise<ReplicaMetricValues>
  }

  /** Runs the leader replica's `sync()`. */
  async sync(): Promise<void> {
    await this.#call({ op: 'sync' })
  }

  /** Runs the leader replica's `settled()`. */
  async settled(): Promise<void> {
    await this.#call({ op: 'settled' })
  }

  /** Runs the application command `name` (see {@link TabsOptions.commands}) in the leader tab. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    return this.#call({ op: 'call', name, args }) as Promise<T>
  }

  /**
   * Calls `listener` after every persisted change of `target` in the leader's replica (writes
   * made in any tab, remote changes, repairs). Returns the function that unsubscribes.
   */
  subscribe(target: SubscriptionTarget, listener: ChangeListener): () => void {
    this.#ensureOpen()
    if (typeof target !== 'string' && typeof target?.prefix !== 'string') {
      throw new MendsyncError('INVALID_ARGUMENT', 'subscribe needs a key or { prefix }')
    }
    const [index, name] =
      typeof target === 'string' ? [this.#byKey, target] : [this.#byPrefix, target.prefix]
    let set = index.get(name)
    if (set === undefined) {
      set = new Set()
      index.set(name, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && index.get(name) === set) index.delete(name)
    }
  }

  /** Calls `listener` on every metric change of the leader's replica. */
  onMetric(listener: (event: MetricEvent) => void): () => void {
    this.#metricListeners.add(listener)
    return () => this.#metricListeners.delete(listener)
  }

  /**
   * Leaves: a follower fails its pending calls with `CLOSED`; the leader finishes the calls it is
   * running, closes its replica and releases the lock, so the next tab takes over.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#abort.abort()
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(new MendsyncError('CLOSED', 'the tabs handle was closed'))
    }
    this.#pending.clear()
    if (this.#replica !== undefined) {
      this.#stopping = true
      await Promise.allSettled([...this.#inFlight.values()])
      this.#flushMetrics()
      for (const detach of this.#detach) detach()
      this.#detach = []
      await this.#replica.close().catch(() => undefined)
      this.#replica = undefined
      this.#post({ t: 'bye', tab: this.tabId })
    }
    this.#releaseLock?.()
    clearTimeout(this.#metricTimer)
    this.#channelClosed = true
    this.#channel.close()
    this.#byKey.clear()
    this.#byPrefix.clear()
  }

  // ---- election ------------------------------------------------------------------------------

  /**
   * Requests the leader lock. Resolves `true` once this tab leads (replica open), `false` when the
   * lock was not available (`ifAvailable`) or the request was aborted (close). Rejects when
   * `openReplica` failed (the lock is released then).
   */
  #requestLock(ifAvailable: boolean): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const options = ifAvailable
        ? { mode: 'exclusive' as const, ifAvailable: true }
        : { mode: 'exclusive' as const, signal: this.#abort.signal }
      this.#locks
        .request(this.#lockName, options, async (lock) => {
          if (lock === null || this.#closed) {
            resolve(false)
            return
          }
          const held = new Promise<void>((release) => {
            this.#releaseLock = release
          })
          try {
            await this.#becomeLeader()
          } catch (error) {
            reject(error)
            return // releases the lock: another tab may succeed
          }
          resolve(true)
          await held
        })
        .catch((error: unknown) => {
          if (this.#closed) resolve(false)
          else reject(error)
        })
    })
  }

  #queueForLock(): void {
    if (this.#closed) return
    this.#requestLock(false).then(
      () => undefined,
      (error: unknown) => {
        if (this.#closed) return
        this.#options.onError?.(error)
        setTimeout(() => this.#queueForLock(), this.#options.retryDelayMs ?? 1000)
      },
    )
  }

  async #becomeLeader(): Promise<void> {
    let journal: WriteJournal | undefined
    const context: LeaderContext = {
      tabId: this.tabId,
      journal: (storage) => {
        journal = new WriteJournal(storage, {
          retentionMs: Math.max(60_000, 2 * this.#timeoutMs),
        })
        return journal.storage
      },
    }
    const replica = await this.#options.openReplica(context)
    try {
      if (this.#closed) {
        throw new MendsyncError('CLOSED', 'the tabs handle was closed while opening the replica')
      }
      await journal?.load()
    } catch (error) {
      await replica.close().catch(() => undefined)
      throw error
    }
    this.#replica = replica
    this.#journal = journal
    this.#detach = [
      replica.subscribe({ prefix: '' }, (change) => this.#onLeaderChange(change)),
      replica.onMetric((event) => this.#onLeaderMetric(event)),
    ]
    this.#role = 'leader'
    this.#setLeader(this.tabId)
    this.#post({ t: 'leader', tab: this.tabId })
    for (const listener of [...this.#roleListeners]) listener('leader')
    // Calls this tab made while following (perhaps applied by the old leader): run them here.
    for (const pending of [...this.#pending.values()]) this.#send(pending)
  }

  #setLeader(tab: string | undefined): void {
    if (this.#leaderTab === tab) return
    this.#leaderTab = tab
    for (const listener of [...this.#leaderListeners]) listener(tab)
  }

  // ---- calls ---------------------------------------------------------------------------------

  #call(operation: Operation): Promise<unknown> {
    try {
      this.#ensureOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    const id = `${this.tabId}:${++this.#seq}`
    if (this.#replica !== undefined) return this.#execute(id, operation)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new MendsyncError(
            'TIMEOUT',
            `no leader tab answered ${operation.op} within ${this.#timeoutMs} ms`,
          ),
        )
      }, this.#timeoutMs)
      const pending: Pending = { id, operation, resolve, reject, timer, sentTo: undefined }
      this.#pending.set(id, pending)
      this.#send(pending)
    })
  }

  /** Sends a pending call to the current leader (or runs it here, when this tab leads). */
  #send(pending: Pending): void {
    if (this.#replica !== undefined && !this.#stopping) {
      this.#pending.delete(pending.id)
      clearTimeout(pending.timer)
      this.#execute(pending.id, pending.operation).then(pending.resolve, pending.reject)
      return
    }
    const leader = this.#leaderTab
    if (leader === undefined || pending.sentTo === leader || leader === this.tabId) return
    pending.sentTo = leader
    this.#post({ t: 'req', id: pending.id, tab: this.tabId, body: pending.operation })
  }

  /**
   * Runs a call in the leader. A write id already applied (here, by a previous leader whose answer
   * every tab heard, or recorded in the journal) is acknowledged without running it again; writes
   * on one key run one after another (the journal needs that).
   */
  #execute(id: string, operation: Operation): Promise<unknown> {
    const running = this.#inFlight.get(id)
    if (running !== undefined) return running
    const work = isWrite(operation)
      ? this.#serialized((operation as { key: string }).key, () => this.#write(id, operation))
      : this.#read(operation)
    const tracked = work.finally(() => this.#inFlight.delete(id))
    this.#inFlight.set(id, tracked)
    return tracked
  }

  async #write(id: string, operation: Operation): Promise<void> {
    const replica = this.#leaderReplica()
    if (this.#applied.has(id)) return
    const journal = this.#journal
    if (journal !== undefined && (await journal.has(id))) {
      this.#applied.add(id)
      return
    }
    if (journal !== undefined && createsDot(operation)) {
      await journal.arm(id, (operation as { key: string }).key, replica.replicaId)
    }
    try {
      switch (operation.op) {
        case 'put':
          await replica.put(operation.key, operation.value, operation.context)
          break
        case 'delete':
          await replica.delete(operation.key, operation.context)
          break
        case 'cart': {
          const cart = replica.cart(operation.key)
          if (operation.action === 'add')
            await cart.add(operation.sku, operation.qty, operation.meta)
          else if (operation.action === 'setQty') await cart.setQty(operation.sku, operation.qty!)
          else if (operation.action === 'remove') await cart.remove(operation.sku)
          else await cart.setMeta(operation.sku, operation.meta)
          break
        }
        default:
          throw new MendsyncError('INVALID_ARGUMENT', `not a write: ${operation.op}`)
      }
    } finally {
      journal?.disarm(id)
    }
    this.#applied.add(id)
  }

  async #read(operation: Operation): Promise<unknown> {
    const replica = this.#leaderReplica()
    switch (operation.op) {
      case 'getMany':
        return await replica.getMany(operation.keys, operation.options)
      case 'status':
        return replica.status()
      case 'metrics':
        return replica.metrics()
      case 'sync':
        return await replica.sync()
      case 'settled':
        return await replica.settled()
      case 'call': {
        const command = this.#options.commands?.[operation.name]
        if (command === undefined) {
          throw new MendsyncError('INVALID_ARGUMENT', `no leader command named ${operation.name}`)
        }
        return await command(replica, ...(operation.args as never[]))
      }
      default:
        throw new MendsyncError('INVALID_ARGUMENT', `unknown operation ${operation.op}`)
    }
  }

  #serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#keyTails.get(key) ?? Promise.resolve()
    const result = previous.then(work)
    const tail = result.catch(() => undefined)
    this.#keyTails.set(key, tail)
    void tail.then(() => {
      if (this.#keyTails.get(key) === tail) this.#keyTails.delete(key)
    })
    return result
  }

  #leaderReplica(): Replica {
    const replica = this.#replica
    if (replica === undefined) throw new MendsyncError('CLOSED', 'this tab no longer leads')
    return replica
  }

  // ---- the channel ---------------------------------------------------------------------------

  #post(body: Body): void {
    if (this.#channelClosed) return
    try {
      this.#channel.postMessage({ ...body, v: PROTOCOL_VERSION, space: this.space } as Message)
    } catch {
      // A closed channel (the tab is going away): nobody is left to tell.
    }
  }

  #onMessage(data: unknown): void {
    if (this.#closed || !isMessage(data, this.space)) return
    switch (data.t) {
      case 'hello':
        if (this.#replica !== undefined && !this.#stopping) {
          this.#post({ t: 'leader', tab: this.tabId })
        }
        break
      case 'leader':
        if (data.tab === this.tabId) break
        this.#setLeader(data.tab)
        for (const pending of [...this.#pending.values()]) this.#send(pending)
        break
      case 'bye':
        if (this.#leaderTab === data.tab) this.#setLeader(undefined)
        break
      case 'req':
        this.#onRequest(data.id, data.body)
        break
      case 'res':
        this.#onResponse(data)
        break
      case 'change': {
        if (this.#replica !== undefined) break
        let state: CausalValue
        try {
          state = decodeValue(data.state)
        } catch {
          break // not a state this version understands
        }
        this.#notify({ key: data.key, origin: data.origin, state })
        break
      }
      case 'metric':
        if (this.#replica === undefined) for (const event of data.events) this.#emitMetric(event)
        break
    }
  }

  #onRequest(id: string, operation: Operation): void {
    if (this.#replica === undefined || this.#stopping) return
    const write = isWrite(operation)
    if (this.#inFlight.has(id)) return // the answer to the first copy answers this one too
    this.#execute(id, operation).then(
      (value) => this.#post({ t: 'res', id, write, ok: true, value }),
      (error: unknown) => this.#post({ t: 'res', id, write, ok: false, error: toWireError(error) }),
    )
  }

  #onResponse(message: Extract<Message, { t: 'res' }>): void {
    if (message.write && message.ok) this.#applied.add(message.id)
    const pending = this.#pending.get(message.id)
    if (pending === undefined) return
    this.#pending.delete(message.id)
    clearTimeout(pending.timer)
    if (message.ok) pending.resolve(message.value)
    else pending.reject(fromWireError(message.error))
  }

  // ---- fan-out -------------------------------------------------------------------------------

  #onLeaderChange(change: Change): void {
    this.#post({
      t: 'change',
      key: change.key,
      origin: change.origin,
      state: encodeValue(change.state),
    })
    this.#notify(change)
  }

  #notify(change: { key: string; origin: Change['origin']; state: CausalValue }): void {
    const listeners = [...(this.#byKey.get(change.key) ?? [])]
    for (const [prefix, set] of this.#byPrefix) {
      if (change.key.startsWith(prefix)) listeners.push(...set)
    }
    for (const listener of listeners) {
      try {
        listener(change)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  #onLeaderMetric(event: MetricEvent): void {
    this.#emitMetric(event)
    this.#metricBuffer.push({ name: event.name, value: event.value })
    if (this.#metricTimer === undefined) {
      this.#metricTimer = setTimeout(() => this.#flushMetrics(), METRIC_FLUSH_MS)
    }
  }

  #flushMetrics(): void {
    clearTimeout(this.#metricTimer)
    this.#metricTimer = undefined
    if (this.#metricBuffer.length === 0) return
    const events = this.#metricBuffer
    this.#metricBuffer = []
    this.#post({ t: 'metric', events })
  }

  #emitMetric(event: MetricEvent): void {
    for (const listener of [...this.#metricListeners]) {
      try {
        listener(event)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  #ensureOpen(): void {
    if (this.#closed)
      throw new MendsyncError('CLOSED', `the tabs of space ${this.space} are closed`)
  }
}
