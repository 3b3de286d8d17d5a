// Multi-tab coordination: one tab (the leader, elected with the Web Locks API) runs the Replica
// and the network; every tab (the leader included) gets the same client API, and followers reach
// the leader over a BroadcastChannel. This class only wires the parts: the election
// (election.ts), the calls (follower-calls.ts, leader-calls.ts) and the fan-out (fan-out.ts).
// See the README for the protocol and its guarantees.
import { MendsyncError, type ReadContext } from '@mendsync/core'
import { defaultLogger, Listeners, type Logger, randomHexId } from '@mendsync/core/toolbox'
import type {
  CartHandle,
  ChangeListener,
  ReadOptions,
  ReadResult,
  Replica,
  ReplicaMetricValues,
  ReplicaStatus,
  SubscriptionTarget,
} from '@mendsync/replica'
import { TabsChannel } from './channel.js'
import {
  DEFAULT_RECENT_WRITES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_DELAY_MS,
  defaultChannelName,
  defaultLockName,
  TAB_ID_BYTES,
} from './defaults.js'
import { Election, openLeaderReplica } from './election.js'
import { FanOut } from './fan-out.js'
import { FollowerCalls } from './follower-calls.js'
import { LeaderCalls } from './leader-calls.js'
import type { TabLocks, TabRole, TabsOptions } from './options.js'
import { isWrite, type Message, type MetricEvent, type Operation, toWireError } from './protocol.js'

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
  readonly #logger: Logger
  readonly #timeoutMs: number
  readonly #channel: TabsChannel
  readonly #election: Election
  readonly #leaderCalls: LeaderCalls
  readonly #calls: FollowerCalls
  readonly #fanOut: FanOut
  readonly #roleListeners: Listeners<TabRole>
  readonly #leaderListeners: Listeners<string | undefined>
  #role: TabRole = 'follower'
  #leaderTab: string | undefined
  #replica: Replica | undefined
  #stopFanOut: (() => void) | undefined
  #closed = false
  #stopping = false

  /** @internal Use {@link openTabs}. */
  constructor(options: TabsOptions) {
    this.#options = options
    this.space = options.space
    this.tabId = options.tabId ?? randomHexId(TAB_ID_BYTES)
    this.#logger = options.logger ?? defaultLogger('mendsync:tabs')
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    const locks = options.locks ?? (globalThis.navigator?.locks as TabLocks | undefined)
    if (locks === undefined) {
      throw new MendsyncError('INVALID_ARGUMENT', 'no Web Locks API here: pass options.locks')
    }
    this.#election = new Election({
      locks,
      lockName: options.lockName ?? defaultLockName(options.space),
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      lead: () => this.#becomeLeader(),
      closed: () => this.#closed,
      onError: options.onError,
      logger: this.#logger.child('election'),
    })
    this.#leaderCalls = new LeaderCalls(
      options.recentWrites ?? DEFAULT_RECENT_WRITES,
      options.commands,
    )
    const post = (body: Parameters<TabsChannel['post']>[0]) => this.#channel.post(body)
    this.#calls = new FollowerCalls({
      tabId: this.tabId,
      timeoutMs: this.#timeoutMs,
      leading: () => this.#leading,
      leaderTab: () => this.#leaderTab,
      execute: (id, operation) => this.#leaderCalls.execute(id, operation),
      post,
    })
    this.#fanOut = new FanOut(post, this.#logger.child('fan-out'))
    this.#roleListeners = new Listeners(this.#logger)
    this.#leaderListeners = new Listeners(this.#logger)
    const name = options.channelName ?? defaultChannelName(options.space)
    this.#channel = new TabsChannel(
      options.createChannel?.(name) ?? new BroadcastChannel(name),
      options.space,
      this.#logger.child('channel'),
      (message) => this.#onMessage(message),
    )
  }

  /** @internal Determines the role (and opens the replica when this tab leads). */
  async start(): Promise<void> {
    this.#channel.post({ t: 'hello', tab: this.tabId })
    let leads: boolean
    try {
      leads = await this.#election.request(true)
    } catch (error) {
      this.#closed = true
      this.#channel.close()
      throw error
    }
    if (!leads) this.#election.queue()
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
    return this.#roleListeners.add(listener)
  }

  /** Calls `listener` when another tab (or this one) becomes the leader, or the leader leaves. */
  onLeaderChange(listener: (tabId: string | undefined) => void): () => void {
    return this.#leaderListeners.add(listener)
  }

  // ---- the replica's API ---------------------------------------------------------------------

  /** The leader replica's `get`. */
  async get(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    return (await this.getMany([key], options))[0] as ReadResult
  }

  /** The leader replica's `getMany`. */
  getMany(keys: readonly string[], options: ReadOptions = {}): Promise<ReadResult[]> {
    return this.#call({ op: 'getMany', keys: [...keys], options: { ...options } }) as Promise<
      ReadResult[]
    >
  }

  /** The leader replica's `put`. */
  async put(key: string, value: unknown, context?: ReadContext): Promise<void> {
    await this.#call({ op: 'put', key, value, context })
  }

  /** The leader replica's `delete`. */
  async delete(key: string, context?: ReadContext): Promise<void> {
    await this.#call({ op: 'delete', key, context })
  }

  /** The leader replica's `cart(key)`. */
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
    return this.#fanOut.subscribe(target, listener)
  }

  /** Calls `listener` on every metric change of the leader's replica. */
  onMetric(listener: (event: MetricEvent) => void): () => void {
    return this.#fanOut.onMetric(listener)
  }

  /**
   * Leaves: a follower fails its pending calls with `CLOSED`; the leader finishes the calls it is
   * running, closes its replica and releases the lock, so the next tab takes over.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#election.cancel()
    this.#calls.failAll(new MendsyncError('CLOSED', 'the tabs handle was closed'))
    const replica = this.#replica
    if (replica !== undefined) {
      this.#stopping = true
      await this.#leaderCalls.settled()
      this.#fanOut.flushMetrics()
      this.#stopFanOut?.()
      this.#stopFanOut = undefined
      await replica.close().catch((error: unknown) => {
        this.#logger.warn('closing the replica of the leader tab failed', { error })
      })
      this.#replica = undefined
      this.#leaderCalls.stopLeading()
      this.#channel.post({ t: 'bye', tab: this.tabId })
    }
    this.#election.release()
    this.#fanOut.close()
    this.#channel.close()
  }

  // ---- wiring --------------------------------------------------------------------------------

  /** True while this tab runs calls on its replica. */
  get #leading(): boolean {
    return this.#replica !== undefined && !this.#stopping
  }

  /** Takes the lead once the election granted the lock (see {@link Election}). */
  async #becomeLeader(): Promise<void> {
    const { replica, journal } = await openLeaderReplica(this.#options, {
      tabId: this.tabId,
      requestTimeoutMs: this.#timeoutMs,
      closed: () => this.#closed,
      logger: this.#logger,
    })
    this.#replica = replica
    this.#leaderCalls.lead(replica, journal)
    this.#stopFanOut = this.#fanOut.follow(replica)
    this.#role = 'leader'
    this.#setLeader(this.tabId)
    this.#channel.post({ t: 'leader', tab: this.tabId })
    this.#roleListeners.emit('leader')
    // Calls this tab made while following (perhaps applied by the old leader): run them here.
    this.#calls.resend()
  }

  #setLeader(tab: string | undefined): void {
    if (this.#leaderTab === tab) return
    this.#leaderTab = tab
    this.#leaderListeners.emit(tab)
  }

  #call(operation: Operation): Promise<unknown> {
    try {
      this.#ensureOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#calls.call(operation)
  }

  #onMessage(message: Message): void {
    if (this.#closed) return
    switch (message.t) {
      case 'hello':
        if (this.#leading) this.#channel.post({ t: 'leader', tab: this.tabId })
        break
      case 'leader':
        if (message.tab === this.tabId) break
        this.#setLeader(message.tab)
        this.#calls.resend()
        break
      case 'bye':
        if (this.#leaderTab === message.tab) this.#setLeader(undefined)
        break
      case 'req':
        this.#onRequest(message.id, message.body)
        break
      case 'res':
        if (message.write && message.ok) this.#leaderCalls.acknowledged(message.id)
        this.#calls.answer(message)
        break
      case 'change':
        if (this.#replica === undefined) this.#fanOut.receiveChange(message)
        break
      case 'metric':
        if (this.#replica === undefined) this.#fanOut.receiveMetrics(message.events)
        break
    }
  }

  /** A follower's call, run here when this tab leads. */
  #onRequest(id: string, operation: Operation): void {
    if (!this.#leading) return
    // The answer to the first copy of a call answers this one too.
    if (this.#leaderCalls.isRunning(id)) return
    const write = isWrite(operation)
    this.#leaderCalls.execute(id, operation).then(
      (value) => this.#channel.post({ t: 'res', id, write, ok: true, value }),
      (error: unknown) =>
        this.#channel.post({ t: 'res', id, write, ok: false, error: toWireError(error) }),
    )
  }

  #ensureOpen(): void {
    if (this.#closed)
      throw new MendsyncError('CLOSED', `the tabs of space ${this.space} are closed`)
  }
}
