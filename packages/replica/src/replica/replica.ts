import {
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  contextHasAll,
  contextMax,
  type DeltaMutation,
  type Dot,
  decodeValue,
  decodeVersionVector,
  deleteValue,
  emptyValue,
  encodeValue,
  encodeVersionVector,
  HybridClock,
  hashBytes,
  isMendsyncError,
  isTimestamp,
  joinValues,
  MendsyncError,
  type ReadContext,
  ReconcileSession,
  ReconcileTree,
  type ReplicaId,
  summariesEqual,
  type Timestamp,
  type VersionVector,
  valueEquals,
  valueFrontier,
  writeRegister,
} from '@mendsync/core'
import type {
  GossipMessage,
  Hint,
  KeyState,
  Network,
  PeerId,
  PullMode,
  PullResult,
  ReconcileResponder,
  SpaceChannel,
} from '../network/types.js'
import { type Durability, MAX_VALUE_BYTES, type Mutation, type Storage } from '../storage/types.js'
import { assertKey } from '../storage/validate.js'
import { ChangeLog } from './change-log.js'
import type { BreakerState } from './circuit-breaker.js'
import { HintStore } from './hint-store.js'
import { KeyLock } from './key-lock.js'
import { ReplicaMetrics, type ReplicaMetricValues } from './metrics.js'
import { DEFAULT_REPLICA_OPTIONS, type ReadOptions, type ReplicaTunables } from './options.js'
import { type DecodedState, ReadRepairer } from './read-repair.js'
import { StateCache } from './state-cache.js'
import {
  type ChangeListener,
  type ChangeOrigin,
  Subscriptions,
  type SubscriptionTarget,
} from './subscriptions.js'
import { type ReadResult, viewOf } from './views.js'

/** Options of {@link openReplica}; the tunables default to {@link DEFAULT_REPLICA_OPTIONS}. */
export interface ReplicaOptions extends Partial<ReplicaTunables> {
  /** The space (named keyspace) this replica holds. */
  readonly space: string
  /** Where the replica persists. One open replica per storage. */
  readonly storage: Storage
  /** The transport; absent: the replica works offline (every read is local). */
  readonly network?: Network
  /**
   * This replica's id. Default: the id persisted in `storage`, or a new random one persisted on
   * first open. Passing an id that differs from the persisted one fails with `INVALID_ARGUMENT`.
   */
  readonly replicaId?: ReplicaId
  /** Peer ids allowed to read and write this space over the network. Default: everyone. */
  readonly allow?: readonly PeerId[]
  /** The physical clock, ms since the epoch. Default `Date.now`; tests inject skew. */
  readonly now?: () => number
  /** Random numbers in [0, 1) (repair sampling, jitter). Default `Math.random`. */
  readonly random?: () => number
}

/** A connected peer as {@link Replica.status} reports it. */
export interface PeerStatus {
  readonly peer: PeerId
  readonly replicaId: ReplicaId | undefined
  readonly breaker: BreakerState
  /** Changes queued for this peer (hinted handoff). */
  readonly outbox: number
  /** The peer's last gossiped reconciliation summary (undefined until it gossiped). */
  readonly summary: Uint8Array | undefined
  /** True when the peer's last gossiped summary equals ours. */
  readonly inSync: boolean
}

/** A snapshot of what the replica knows and does. */
export interface ReplicaStatus {
  readonly space: string
  readonly replicaId: ReplicaId
  readonly peerId: PeerId | undefined
  readonly online: boolean
  readonly peers: readonly PeerStatus[]
  /** Per replica, how many of its events this replica holds (see the README). */
  readonly versionVector: VersionVector
  /** The reconciliation summary (count + root fingerprint) gossiped to peers. */
  readonly summary: Uint8Array
  readonly keys: number
  /** Changes queued for all known peers. */
  readonly outbox: number
  readonly reconciling: readonly PeerId[]
}

/** The operations on a cart held at one key. Each returns once the change is persisted. */
export interface CartHandle {
  /** Adds `qty` (default 1) to the line `sku`, creating it; with `meta`, also sets its meta. */
  add(sku: string, qty?: number, meta?: unknown): Promise<void>
  /** Sets the line's quantity (0 removes it). Concurrent set-quantities keep the largest. */
  setQty(sku: string, qty: number): Promise<void>
  /** Removes the line (only what this replica has seen: concurrent adds survive). */
  remove(sku: string): Promise<void>
  /** Sets the line's meta (e.g. a name or a price). */
  setMeta(sku: string, meta: unknown): Promise<void>
  /** Reads the cart (a read like {@link Replica.get}). */
  view(options?: ReadOptions): Promise<ReadResult>
}

const META_REPLICA_ID = 'replica-id'
const META_VERSION_VECTOR = 'version-vector'
/** The hybrid logical clock's last timestamp, so that it stays monotonic across restarts. */
const META_CLOCK = 'clock'
const MAX_HINTS_PER_GOSSIP = 256
const MAX_HINT_KEYS = 100_000
const MAX_KNOWN_PEERS = 1024
const HANDOFF_CHUNK = 256
const GOSSIP_DEBOUNCE_MS = 10
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function randomReplicaId(random: () => number): ReplicaId {
  const bytes = new Uint8Array(12)
  if (typeof globalThis.crypto?.getRandomValues === 'function')
    globalThis.crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function encodeTimestamp(time: Timestamp): Uint8Array {
  const out = new Uint8Array(16)
  const view = new DataView(out.buffer)
  view.setFloat64(0, time.wall)
  view.setFloat64(8, time.logical)
  return out
}

function decodeTimestamp(bytes: Uint8Array): Timestamp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const time =
    bytes.length === 16 ? { wall: view.getFloat64(0), logical: view.getFloat64(8) } : undefined
  if (!isTimestamp(time)) {
    throw new MendsyncError('STORAGE_CORRUPT', `the ${META_CLOCK} record is malformed`)
  }
  return time
}

/** Checks and decodes states received from a peer; `DECODE_ERROR` when one is not a state. */
function decodeStates(states: readonly KeyState[]): DecodedState[] {
  return states.map(({ key, state }) => {
    assertKey(key, 'join')
    return { key, value: decodeValue(state) }
  })
}

function validateTunables(options: ReplicaTunables): void {
  const positive = (name: keyof ReplicaTunables) => {
    const value = options[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `option ${name} must be a positive number, got ${String(value)}`,
      )
    }
  }
  for (const name of [
    'timeoutMs',
    'maxConcurrentRepairsPerPeer',
    'repairRatePerSecond',
    'breakerFailureThreshold',
    'breakerResetMs',
    'retryBaseMs',
    'retryAttempts',
    'antiEntropyIntervalMs',
    'reconcileDelayMs',
    'gossipIntervalMs',
    'outboxMaxKeys',
    'outboxMaxAgeMs',
  ] as const) {
    positive(name)
  }
  if (typeof options.handoff !== 'boolean') {
    throw new MendsyncError('INVALID_ARGUMENT', 'option handoff must be a boolean')
  }
  if (!(Number.isInteger(options.cacheMaxKeys) && options.cacheMaxKeys >= 0)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'option cacheMaxKeys must be a non-negative integer',
    )
  }
  if (!(options.repairChance >= 0 && options.repairChance <= 1)) {
    throw new MendsyncError('INVALID_ARGUMENT', 'option repairChance must be within [0, 1]')
  }
  if (!['strict', 'relaxed'].includes(options.repairDurability)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `option repairDurability must be 'strict' or 'relaxed'`,
    )
  }
  if (!['sync', 'async', 'none'].includes(options.repair)) {
    throw new MendsyncError('INVALID_ARGUMENT', `option repair must be 'sync', 'async' or 'none'`)
  }
  const peers = options.peers
  if (
    typeof peers === 'number'
      ? !(Number.isInteger(peers) && peers > 0)
      : !['ahead', 'one', 'quorum', 'all'].includes(peers)
  ) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `option peers must be 'ahead', 'one', 'quorum', 'all' or a positive integer`,
    )
  }
}

/**
 * Opens the replica of `options.space` kept in `options.storage`: recovers its identity, version
 * vector, handoff log and reconciliation tree, and joins the network when one is given.
 */
export async function openReplica(options: ReplicaOptions): Promise<Replica> {
  if (typeof options?.space !== 'string' || options.space.length === 0) {
    throw new MendsyncError('INVALID_ARGUMENT', 'openReplica needs a non-empty space name')
  }
  if (options.storage === undefined)
    throw new MendsyncError('INVALID_ARGUMENT', 'openReplica needs a storage')
  const overrides = Object.fromEntries(
    Object.keys(DEFAULT_REPLICA_OPTIONS).flatMap((name) => {
      const value = options[name as keyof ReplicaTunables]
      return value === undefined ? [] : [[name, value]]
    }),
  )
  const tunables: ReplicaTunables = { ...DEFAULT_REPLICA_OPTIONS, ...overrides }
  validateTunables(tunables)
  const replica = new Replica(options, tunables)
  await replica.start()
  return replica
}

/**
 * One replica of one space: reads and writes keys locally (online or offline), repairs
 * divergence on reads, hands changes to peers and reconciles with them. Create it with
 * {@link openReplica}.
 */
export class Replica {
  readonly space: string
  private replica: ReplicaId = ''
  private readonly storage: Storage
  private readonly network: Network | undefined
  private readonly options: ReplicaTunables
  private readonly allow: readonly PeerId[] | undefined
  private readonly now: () => number
  private readonly random: () => number
  private clock: HybridClock
  private readonly locks = new KeyLock()
  private readonly subscriptions = new Subscriptions()
  private readonly hints = new HintStore(MAX_HINT_KEYS)
  private readonly cache: StateCache
  private readonly metricsRegistry = new ReplicaMetrics()
  private readonly log: ChangeLog
  private readonly repairer: ReadRepairer
  private tree = new ReconcileTree()
  private versionVector = new Map<ReplicaId, number>()
  private channel: SpaceChannel | undefined
  private readonly peerReplicas = new Map<PeerId, ReplicaId>()
  private readonly peerSummaries = new Map<PeerId, Uint8Array>()
  private readonly reconciling = new Set<PeerId>()
  private readonly pendingChecks = new Set<PeerId>()
  private readonly handingOff = new Set<PeerId>()
  private readonly recentHints = new Map<string, Dot[]>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Wakes every pending backoff sleep (on close), so no background task outlives the replica. */
  private readonly sleepers = new Set<() => void>()
  private readonly background = new Set<Promise<unknown>>()
  private gossipScheduled = false
  /** The version vector including every batch issued to the storage (see {@link persist}). */
  private issuedVector = new Map<ReplicaId, number>()
  private batchesIssued = 0
  private batchesCommitted = 0
  /** Set when the storage failed a batch: the replica then refuses every operation. */
  private failure: MendsyncError | undefined
  private closed = false

  /** @internal Use {@link openReplica}. */
  constructor(options: ReplicaOptions, tunables: ReplicaTunables) {
    this.space = options.space
    this.storage = options.storage
    this.network = options.network
    this.options = tunables
    this.allow = options.allow
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    this.clock = new HybridClock({ now: this.now })
    this.cache = new StateCache(tunables.cacheMaxKeys)
    this.replica = options.replicaId ?? ''
    this.log = new ChangeLog({
      maxEntries: tunables.outboxMaxKeys,
      maxAgeMs: tunables.outboxMaxAgeMs,
      maxPeers: MAX_KNOWN_PEERS,
    })
    this.repairer = new ReadRepairer(
      tunables,
      this.metricsRegistry,
      {
        digestOf: (state) => hashBytes(state),
        background: (work) => this.runInBackground(work),
        localDigests: (keys) => this.localDigests(keys),
        localStates: (keys) => this.localEncoded(keys),
        decode: (states) => decodeStates(states),
        joinPulled: (peers, states) =>
          this.joinDecoded(
            states,
            'repair',
            // Handoff skips the replica a change came from; a join of several peers' states is
            // news to each of them.
            peers.length === 1 ? (this.peerReplicas.get(peers[0] as PeerId) ?? '') : '',
            tunables.repairDurability,
          ),
        sleep: (ms) => this.sleep(ms),
        settled: (peer, keys) => {
          const now = this.now()
          for (const key of keys) {
            const hint = this.hints.get(key)?.get(peer)
            if (hint !== undefined) this.metricsRegistry.observe('divergence_ms', now - hint.since)
            this.hints.settle(key, peer)
          }
        },
      },
      this.now,
      () => this.metricsRegistry.add('breaker_state_changes'),
    )
  }

  /** This replica's id. */
  get replicaId(): ReplicaId {
    return this.replica
  }

  /** @internal Recovers persisted state and joins the network. */
  async start(): Promise<void> {
    const [storedId, storedVector, storedClock] = await this.storage.get('meta', [
      META_REPLICA_ID,
      META_VERSION_VECTOR,
      META_CLOCK,
    ])
    const persistedId = storedId === undefined ? undefined : decoder.decode(storedId)
    if (persistedId !== undefined && this.replica !== '' && this.replica !== persistedId) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `this storage belongs to replica ${persistedId}, not ${this.replica}; open it without replicaId or use another storage`,
      )
    }
    this.replica = persistedId ?? (this.replica || randomReplicaId(this.random))
    if (persistedId === undefined) {
      await this.storage.write({
        meta: [{ key: META_REPLICA_ID, value: encoder.encode(this.replica) }],
      })
    }
    if (storedVector !== undefined) this.versionVector = new Map(decodeVersionVector(storedVector))
    this.issuedVector = new Map(this.versionVector)
    if (storedClock !== undefined) {
      this.clock = new HybridClock({ now: this.now, last: decodeTimestamp(storedClock) })
    }
    await this.log.load(this.storage)
    await this.rebuildTree()
    this.metricsRegistry.set('outbox_size', this.log.totalOutbox())
    if (this.network !== undefined) await this.goOnline(this.network)
  }

  private async rebuildTree(): Promise<void> {
    const entries: [string, Uint8Array][] = []
    let after: string | undefined
    for (;;) {
      const page = await this.storage.scan({
        namespace: 'values',
        ...(after === undefined ? {} : { after }),
      })
      for (const entry of page.entries) entries.push([entry.key, hashBytes(entry.value)])
      if (page.cursor === undefined) break
      after = page.cursor
    }
    this.tree = ReconcileTree.fromEntries(entries)
  }

  private async goOnline(network: Network): Promise<void> {
    this.channel = await network.join(
      this.space,
      {
        pull: (peer, keys, mode) => this.servePull(peer, keys, mode),
        push: async (peer, states) => {
          await this.joinStates(states, 'remote', this.peerReplicas.get(peer) ?? '')
        },
        reconcile: async (peer) => this.reconcileResponder(peer),
      },
      this.allow === undefined ? {} : { allow: this.allow },
    )
    this.repairer.attach(this.channel)
    this.channel.on('peer:connect', ({ peer }) => {
      this.scheduleGossip(0)
      this.runInBackground(this.handOff(peer))
    })
    this.channel.on('peer:disconnect', ({ peer }) => {
      this.peerSummaries.delete(peer)
      this.hints.forgetPeer(peer)
    })
    this.channel.on('gossip', ({ peer, message }) => this.onGossip(peer, message))
    this.every(this.options.gossipIntervalMs, () => this.scheduleGossip(0))
    this.every(this.options.antiEntropyIntervalMs, () => {
      for (const peer of this.channel?.peers() ?? []) {
        const summary = this.peerSummaries.get(peer)
        if (summary === undefined || !summariesEqual(summary, this.tree.summary()))
          this.startReconcile(peer)
        this.runInBackground(this.handOff(peer))
      }
    })
    this.scheduleGossip(0)
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Reads one key; see {@link getMany}. */
  async get(key: string, options: ReadOptions = {}): Promise<ReadResult> {
    return (await this.getMany([key], options))[0] as ReadResult
  }

  /**
   * Reads keys locally and repairs the divergence gossip told this replica about: a key no hint
   * marks as behind costs no network. With `repair: 'sync'` the read waits (up to `timeoutMs`)
   * for the peers asked and returns the joined state, naming the peers that did not answer;
   * `'async'` returns the local state at once and repairs in the background (subscribers see the
   * repair); `'none'` reads locally only. All keys asked of one peer go in one request.
   */
  async getMany(keys: readonly string[], options: ReadOptions = {}): Promise<ReadResult[]> {
    this.ensureOpen()
    if (!Array.isArray(keys))
      throw new MendsyncError('INVALID_ARGUMENT', 'getMany needs an array of keys')
    for (const key of keys) assertKey(key, 'get')
    const mode = options.repair ?? this.options.repair
    const selection = options.peers ?? this.options.peers
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs
    this.metricsRegistry.add('reads_total', keys.length)
    const states = await this.loadMany(keys)
    const policy = this.options.conflicts
    if (mode === 'none' || this.channel === undefined)
      return keys.map((key, i) => viewOf(key, states[i] as CausalValue, policy))
    const plan = this.planRepair(keys, states, selection)
    if (plan.size === 0) return keys.map((key, i) => viewOf(key, states[i] as CausalValue, policy))
    const deadline = this.now() + timeoutMs
    const repair = this.repairer.repair(plan, deadline)
    const askedByKey = new Map<string, PeerId[]>()
    for (const [peer, peerKeys] of plan) {
      for (const key of peerKeys.keys()) askedByKey.set(key, [...(askedByKey.get(key) ?? []), peer])
    }
    // Tracked in both modes: a 'sync' repair that outlives its deadline must still finish
    // before close() releases the storage.
    this.runInBackground(repair)
    if (mode === 'async') {
      return keys.map((key, i) =>
        viewOf(key, states[i] as CausalValue, policy, {
          asked: askedByKey.get(key) ?? [],
          unanswered: [],
          repaired: false,
        }),
      )
    }
    const outcome = await this.withinDeadline(repair, timeoutMs)
    const after = await this.loadMany(keys)
    const answered = new Set(outcome?.answered ?? [])
    const repaired = new Set(outcome?.repaired ?? [])
    return keys.map((key, i) => {
      const asked = askedByKey.get(key) ?? []
      return viewOf(key, after[i] as CausalValue, policy, {
        asked,
        unanswered: asked.filter((peer) => !answered.has(peer)),
        repaired: repaired.has(key),
      })
    })
  }

  /** Which peers to ask; per peer, the keys to ask it and whether gossip says it is ahead. */
  private planRepair(
    keys: readonly string[],
    states: readonly CausalValue[],
    selection: ReadOptions['peers'],
  ): Map<PeerId, Map<string, boolean>> {
    const connected = (this.channel?.peers() ?? []).filter((peer) => this.repairer.available(peer))
    const plan = new Map<PeerId, Map<string, boolean>>()
    if (connected.length === 0) return plan
    keys.forEach((key, i) => {
      const state = states[i] as CausalValue
      const ahead: PeerId[] = []
      for (const [peer, hint] of this.hints.get(key) ?? []) {
        if (contextHasAll(state.context, hint.dots)) this.hints.settle(key, peer)
        else if (connected.includes(peer)) ahead.push(peer)
      }
      const sampled =
        ahead.length === 0 &&
        this.options.repairChance > 0 &&
        this.random() < this.options.repairChance
      if (ahead.length === 0 && !sampled) return
      for (const peer of this.choosePeers(
        ahead,
        connected,
        sampled ? 'one' : (selection ?? 'ahead'),
      )) {
        const peerKeys = plan.get(peer) ?? new Map<string, boolean>()
        peerKeys.set(key, ahead.includes(peer))
        plan.set(peer, peerKeys)
      }
    })
    return plan
  }

  private choosePeers(
    ahead: PeerId[],
    connected: PeerId[],
    selection: NonNullable<ReadOptions['peers']>,
  ): PeerId[] {
    const others = connected.filter((peer) => !ahead.includes(peer))
    const ordered = [...ahead, ...others]
    switch (selection) {
      case 'ahead':
        return ahead
      case 'one':
        return ordered.slice(0, 1)
      case 'quorum':
        return ordered.slice(0, Math.max(ahead.length, Math.floor(connected.length / 2) + 1))
      case 'all':
        return connected
      default:
        return ordered.slice(0, Math.max(1, selection))
    }
  }

  private async withinDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs)
    })
    try {
      return await Promise.race([work, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Writes a register value. With `context` (from a read) it supersedes exactly the siblings that
   * read saw; without, it adds a sibling beside whatever is there (a blind write).
   */
  async put(key: string, value: unknown, context?: ReadContext): Promise<void> {
    await this.mutate(key, (state) => writeRegister(state, this.actor(), value, context))
  }

  /** Deletes the key: removes what `context` saw (default: everything this replica holds). */
  async delete(key: string, context?: ReadContext): Promise<void> {
    await this.mutate(key, (state) => deleteValue(state, context ?? state.context))
  }

  /** The cart held at `key`. */
  cart(key: string): CartHandle {
    assertKey(key, 'cart')
    return {
      add: (sku, qty = 1, meta) =>
        this.mutate(key, (s) => cartAdd(s, this.actor(), sku, qty, meta)),
      setQty: (sku, qty) => this.mutate(key, (s) => cartSetQuantity(s, this.actor(), sku, qty)),
      remove: (sku) => this.mutate(key, (s) => cartRemove(s, sku)),
      setMeta: (sku, meta) => this.mutate(key, (s) => cartSetMeta(s, this.actor(), sku, meta)),
      view: (options) => this.get(key, options),
    }
  }

  private actor() {
    return { replica: this.replica, time: this.clock.now() }
  }

  private async mutate(
    key: string,
    operation: (state: CausalValue) => DeltaMutation,
  ): Promise<void> {
    this.ensureOpen()
    assertKey(key, 'write')
    await this.locks.run([key], async () => {
      const [current] = await this.loadMany([key])
      const { state } = operation(current as CausalValue)
      // A write that changes nothing (removing a line this replica does not hold, deleting a key
      // it never saw) persists nothing: stored, the empty state of a never-written key is a key
      // no peer ever stores (joining it changes nothing there), and summaries differ forever.
      if (!valueEquals(state, current as CausalValue)) {
        await this.persist([{ key, before: current as CausalValue, after: state }], '')
        this.announce(key, state, 'local')
      }
      this.metricsRegistry.add('writes_total')
    })
  }

  // ---- joins -------------------------------------------------------------------------------

  /**
   * Joins remote states into the replica in one atomic batch; returns the keys that changed.
   * A state that does not decode fails the whole call with `DECODE_ERROR`: nothing is stored.
   */
  private joinStates(
    states: readonly KeyState[],
    origin: ChangeOrigin,
    from: ReplicaId,
  ): Promise<string[]> {
    this.ensureOpen()
    return this.joinDecoded(decodeStates(states), origin, from, 'strict')
  }

  private async joinDecoded(
    decoded: readonly DecodedState[],
    origin: ChangeOrigin,
    from: ReplicaId,
    durability: Durability,
  ): Promise<string[]> {
    this.ensureOpen()
    if (decoded.length === 0) return []
    const keys = [...new Set(decoded.map((d) => d.key))]
    return this.locks.run(keys, async () => {
      const current = new Map<string, CausalValue>()
      const loaded = await this.loadMany(keys)
      for (const [i, key] of keys.entries()) current.set(key, loaded[i] as CausalValue)
      const before = new Map(current)
      for (const { key, value } of decoded)
        current.set(key, joinValues(current.get(key) as CausalValue, value))
      const changes = keys
        .filter(
          (key) => !valueEquals(before.get(key) as CausalValue, current.get(key) as CausalValue),
        )
        .map((key) => ({
          key,
          before: before.get(key) as CausalValue,
          after: current.get(key) as CausalValue,
        }))
      if (changes.length === 0) return []
      await this.persist(changes, from, durability)
      this.metricsRegistry.add('remote_changes_total', changes.length)
      for (const change of changes) this.announce(change.key, change.after, origin)
      return changes.map((change) => change.key)
    })
  }

  /**
   * Persists key changes with the version vector, the clock and handoff records in one atomic
   * batch, then indexes them. Batches are issued to the storage one at a time, in call order, each
   * deriving its version vector from the batch issued before it (so concurrent changes cannot
   * drop each other's counts); the next batch does not wait for this one's fsync, so concurrent
   * writers share the storage's group commits. The in-memory indexes and the handoff log advance
   * only once a batch is durable. If the storage fails a batch, later batches were derived from
   * it, so the replica stops (`STORAGE_FAILURE` from then on) rather than drift from its disk.
   */
  private persist(
    changes: readonly { key: string; before: CausalValue; after: CausalValue }[],
    origin: ReplicaId,
    durability: Durability = 'strict',
  ): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    const values: Mutation[] = []
    const hashes: Uint8Array[] = []
    const vector = new Map(this.issuedVector)
    for (const { key, before, after } of changes) {
      const encoded = encodeValue(after)
      if (encoded.length > MAX_VALUE_BYTES) {
        return Promise.reject(
          new MendsyncError(
            'INVALID_ARGUMENT',
            `the state of key ${key} would exceed ${MAX_VALUE_BYTES} bytes`,
          ),
        )
      }
      values.push({ key, value: encoded })
      hashes.push(hashBytes(encoded))
      const replicas = new Set([
        ...before.context.versionVector.keys(),
        ...after.context.versionVector.keys(),
        ...after.context.cloud.keys(),
      ])
      for (const replica of replicas) {
        const delta = contextMax(after.context, replica) - contextMax(before.context, replica)
        if (delta !== 0) vector.set(replica, (vector.get(replica) ?? 0) + delta)
      }
    }
    const reservation = this.log.reserve(
      changes.map((c) => c.key),
      origin,
      this.now(),
    )
    const meta: Mutation[] = [
      { key: META_VERSION_VECTOR, value: encodeVersionVector(vector) },
      // A local write took a timestamp: persist the clock with it (monotonic across restarts).
      ...(origin === '' ? [{ key: META_CLOCK, value: encodeTimestamp(this.clock.last) }] : []),
      ...reservation.mutations,
    ]
    this.issuedVector = vector
    const batch = ++this.batchesIssued
    return this.storage.write({ values, meta, durability }).then(
      () => {
        // Batches resolve in issue order; the guard keeps an older vector from winning if not.
        if (batch > this.batchesCommitted) {
          this.batchesCommitted = batch
          this.versionVector = vector
        }
        this.log.publish(reservation)
        for (const [i, { key, after }] of changes.entries()) {
          this.tree.set(key, hashes[i] as Uint8Array)
          this.cache.set(key, after)
        }
        this.metricsRegistry.set('outbox_size', this.log.totalOutbox())
      },
      (error: unknown) => {
        this.failure ??= new MendsyncError(
          'STORAGE_FAILURE',
          `the storage of space ${this.space} failed a write; reopen the replica`,
          { cause: error },
        )
        throw this.failure
      },
    )
  }

  /** After a persisted change: subscribers, a gossip hint, and handoff to connected peers. */
  private announce(key: string, state: CausalValue, origin: ChangeOrigin): void {
    this.subscriptions.notify({ key, origin, state })
    this.recentHints.delete(key)
    this.recentHints.set(key, valueFrontier(state))
    if (this.recentHints.size > MAX_HINTS_PER_GOSSIP)
      this.recentHints.delete(this.recentHints.keys().next().value as string)
    this.scheduleGossip(GOSSIP_DEBOUNCE_MS)
    for (const peer of this.channel?.peers() ?? []) this.runInBackground(this.handOff(peer))
  }

  // ---- serving peers -----------------------------------------------------------------------

  private async servePull(
    _peer: PeerId,
    keys: readonly string[],
    mode: PullMode,
  ): Promise<PullResult> {
    this.ensureOpen()
    const encoded = await this.localEncoded(keys)
    if (mode === 'state') return { mode, states: encoded }
    return { mode, digests: encoded.map((bytes) => (bytes === null ? null : hashBytes(bytes))) }
  }

  private async reconcileResponder(peer: PeerId): Promise<ReconcileResponder> {
    this.ensureOpen()
    this.metricsRegistry.add('reconcile_sessions')
    return {
      session: new ReconcileSession(this.tree),
      statesFor: async (keys) => this.statesFor(keys),
      accept: async (states) => {
        await this.joinStates(states, 'remote', this.peerReplicas.get(peer) ?? '')
      },
    }
  }

  private async statesFor(keys: readonly string[]): Promise<KeyState[]> {
    const encoded = await this.localEncoded(keys)
    return keys.flatMap((key, i) => {
      const state = encoded[i]
      return state === null || state === undefined ? [] : [{ key, state }]
    })
  }

  // ---- gossip, handoff, anti-entropy -------------------------------------------------------

  private onGossip(peer: PeerId, message: GossipMessage): void {
    if (this.closed) return
    const known = this.peerReplicas.get(peer)
    if (known !== message.replicaId) {
      this.peerReplicas.set(peer, message.replicaId)
      if (this.peerReplicas.size > MAX_KNOWN_PEERS)
        this.peerReplicas.delete(this.peerReplicas.keys().next().value as PeerId)
    }
    // Handoff reaches only directly connected peers; gossip also names peers met through a
    // relay, whose outbox could never drain.
    const direct = this.channel?.peers().includes(peer) ?? false
    if (direct && !this.log.isTracked(message.replicaId)) {
      this.runInBackground(this.storage.write({ meta: this.log.track(message.replicaId) }))
    }
    for (const hint of message.hints) this.hints.add(hint.key, peer, hint.dots, this.now())
    this.peerSummaries.set(peer, message.summary)
    if (!summariesEqual(message.summary, this.tree.summary())) this.reconcileIfStillDiffering(peer)
    this.runInBackground(this.handOff(peer))
    this.metricsRegistry.add('gossip_received')
  }

  private scheduleGossip(delayMs: number): void {
    if (this.gossipScheduled || this.channel === undefined || this.closed) return
    this.gossipScheduled = true
    this.after(delayMs, () => {
      this.gossipScheduled = false
      const hints: Hint[] = [...this.recentHints].map(([key, dots]) => ({ key, dots }))
      this.recentHints.clear()
      const message: GossipMessage = {
        replicaId: this.replica,
        versionVector: this.versionVector,
        summary: this.tree.summary(),
        hints,
      }
      this.metricsRegistry.add('gossip_sent')
      this.runInBackground(this.channel?.publish(message))
    })
  }

  /** Delivers `peer`'s pending changes (hinted handoff); an overflowed outbox reconciles instead. */
  private async handOff(peer: PeerId): Promise<void> {
    const replica = this.peerReplicas.get(peer)
    const channel = this.channel
    if (!this.options.handoff || replica === undefined || channel === undefined) return
    if (this.handingOff.has(peer) || this.closed || !this.log.isTracked(replica)) return
    this.handingOff.add(peer)
    try {
      for (let attempt = 0; ; ) {
        const pending = this.log.pending(replica, HANDOFF_CHUNK)
        if (pending.overflowed) {
          this.metricsRegistry.add('handoff_overflows')
          this.startReconcile(peer)
          return
        }
        // Nothing committed is owed (changes in flight re-trigger handoff once they commit).
        if (pending.upTo <= pending.acknowledged) return
        try {
          if (pending.keys.length > 0) await channel.push(peer, await this.statesFor(pending.keys))
          // Relaxed: a cursor lost to a power failure only re-sends changes the peer has.
          await this.storage.write({
            meta: this.log.acknowledge(replica, pending.upTo),
            durability: 'relaxed',
          })
          this.metricsRegistry.add('handoff_delivered', pending.keys.length)
          this.metricsRegistry.set('outbox_size', this.log.totalOutbox())
          attempt = 0
        } catch (error) {
          if (this.closed || isMendsyncError(error, 'CLOSED')) return
          attempt += 1
          if (attempt >= this.options.retryAttempts) return
          await this.sleep(this.options.retryBaseMs * 2 ** (attempt - 1))
        }
      }
    } finally {
      this.handingOff.delete(peer)
    }
  }

  /**
   * Brings this replica and its connected peers together now: delivers every pending handoff and
   * reconciles with each connected peer whose summary differs (or is unknown). Resolves when
   * those exchanges ended; failures are counted in the metrics, never thrown.
   */
  async sync(): Promise<void> {
    this.ensureOpen()
    const summary = this.tree.summary()
    await Promise.all(
      (this.channel?.peers() ?? []).map(async (peer) => {
        await this.handOff(peer)
        const known = this.peerSummaries.get(peer)
        if (known === undefined || !summariesEqual(known, summary)) await this.reconcileWith(peer)
      }),
    )
  }

  /** Reconciles with `peer` if its summary still differs from ours after `reconcileDelayMs`. */
  private reconcileIfStillDiffering(peer: PeerId): void {
    if (this.pendingChecks.has(peer)) return
    this.pendingChecks.add(peer)
    this.after(this.options.reconcileDelayMs, () => {
      this.pendingChecks.delete(peer)
      const summary = this.peerSummaries.get(peer)
      if (summary !== undefined && !summariesEqual(summary, this.tree.summary()))
        this.startReconcile(peer)
    })
  }

  private startReconcile(peer: PeerId): void {
    this.runInBackground(this.reconcileWith(peer))
  }

  /** One reconciliation with `peer` (none when one is already running with it). */
  private async reconcileWith(peer: PeerId): Promise<void> {
    if (this.reconciling.has(peer) || this.channel === undefined || this.closed) return
    // Gossip also arrives from peers met only through a relay; reconcile runs over a direct link.
    if (!this.channel.peers().includes(peer)) return
    this.reconciling.add(peer)
    const headAtStart = this.log.committedSeq
    const channel = this.channel
    try {
      this.metricsRegistry.add('reconcile_sessions')
      const outcome = await channel.reconcile(peer, {
        session: new ReconcileSession(this.tree),
        statesFor: (keys) => this.statesFor(keys),
      })
      await this.joinStates(outcome.received, 'remote', this.peerReplicas.get(peer) ?? '')
      this.metricsRegistry.add('reconcile_rounds', outcome.rounds)
      this.metricsRegistry.add('reconcile_bytes', outcome.bytesSent + outcome.bytesReceived)
      const replica = this.peerReplicas.get(peer)
      if (replica !== undefined && this.log.isTracked(replica)) {
        await this.storage.write({
          meta: this.log.acknowledge(replica, headAtStart),
          durability: 'relaxed',
        })
      }
    } catch {
      this.metricsRegistry.add('reconcile_failures')
    } finally {
      this.reconciling.delete(peer)
    }
  }

  // ---- local state ---------------------------------------------------------------------------

  private async loadMany(keys: readonly string[]): Promise<CausalValue[]> {
    const states = keys.map((key) => this.cache.get(key))
    const missing = keys.filter((_, i) => states[i] === undefined)
    if (missing.length === 0) return states as CausalValue[]
    const encoded = await this.storage.get('values', missing)
    let next = 0
    return states.map((cached, i) => {
      if (cached !== undefined) return cached
      const bytes = encoded[next++]
      const state = bytes === undefined ? emptyValue() : decodeValue(bytes)
      if (bytes !== undefined) this.cache.set(keys[i] as string, state)
      return state
    })
  }

  private async localEncoded(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    return (await this.storage.get('values', keys)).map((bytes) => bytes ?? null)
  }

  private async localDigests(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    return (await this.localEncoded(keys)).map((bytes) =>
      bytes === null ? null : hashBytes(bytes),
    )
  }

  // ---- subscriptions, status, lifecycle ----------------------------------------------------

  /**
   * Calls `listener` after every persisted change of `target` (a key, or `{ prefix }`): local
   * writes, remote changes and read repairs. Returns the function that unsubscribes.
   */
  subscribe(target: SubscriptionTarget, listener: ChangeListener): () => void {
    this.ensureOpen()
    if (typeof target !== 'string' && typeof target?.prefix !== 'string') {
      throw new MendsyncError('INVALID_ARGUMENT', 'subscribe needs a key or { prefix }')
    }
    return this.subscriptions.add(target, listener)
  }

  /** What the replica knows now: peers, version vector, summary, outbox, breakers. */
  status(): ReplicaStatus {
    const breakers = this.repairer.breakerStates()
    const summary = this.tree.summary()
    const peers = (this.channel?.peers() ?? []).map((peer): PeerStatus => {
      const replicaId = this.peerReplicas.get(peer)
      const peerSummary = this.peerSummaries.get(peer)
      return {
        peer,
        replicaId,
        breaker: breakers.get(peer) ?? 'closed',
        outbox: replicaId === undefined ? 0 : this.log.outboxSize(replicaId),
        summary: peerSummary,
        inSync: peerSummary !== undefined && summariesEqual(peerSummary, summary),
      }
    })
    return {
      space: this.space,
      replicaId: this.replica,
      peerId: this.network?.peerId,
      online: this.channel !== undefined,
      peers,
      versionVector: new Map(this.versionVector),
      summary,
      keys: this.tree.size,
      outbox: this.log.totalOutbox(),
      reconciling: [...this.reconciling],
    }
  }

  /** A copy of every metric (see the README's metric list). */
  metrics(): ReplicaMetricValues {
    return this.metricsRegistry.snapshot()
  }

  /** Calls `listener` on every metric change; returns the function that unsubscribes. */
  onMetric(
    listener: (change: { name: keyof ReplicaMetricValues; value: number }) => void,
  ): () => void {
    return this.metricsRegistry.on(listener)
  }

  /**
   * Resolves when no write, join or background task (repair, handoff, reconciliation, gossip)
   * is in flight. Tests and shutdown use it; new work started meanwhile is waited for too.
   */
  async settled(): Promise<void> {
    while (this.background.size > 0) {
      await Promise.allSettled([...this.background])
    }
    await this.locks.idle()
  }

  /** Stops timers, leaves the network space, waits for writes in flight and closes the storage. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const wake of this.sleepers) wake()
    this.sleepers.clear()
    await this.locks.idle()
    const channel = this.channel
    this.channel = undefined
    this.repairer.attach(undefined)
    await channel?.leave().catch(() => undefined)
    await Promise.allSettled([...this.background])
    this.subscriptions.clear()
    this.cache.clear()
    await this.storage.close()
  }

  private ensureOpen(): void {
    if (this.closed)
      throw new MendsyncError('CLOSED', `the replica of space ${this.space} is closed`)
    if (this.failure !== undefined) throw this.failure
  }

  private runInBackground(work: Promise<unknown> | undefined): void {
    if (work === undefined) return
    const tracked = work.catch(() => undefined).finally(() => this.background.delete(tracked))
    this.background.add(tracked)
  }

  private after(delayMs: number, task: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.closed) task()
    }, delayMs)
    this.timers.add(timer)
  }

  private every(periodMs: number, task: () => void): void {
    this.after(periodMs, () => {
      task()
      this.every(periodMs, task)
    })
  }

  private sleep(ms: number): Promise<void> {
    // After close no timer task runs, so a sleep would never end and close() would wait forever.
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake)
        resolve()
      }
      this.sleepers.add(wake)
      this.after(ms, wake)
    })
  }
}
