import {
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  deleteValue,
  hashBytes,
  MendsyncError,
  type ReadContext,
  type ReplicaId,
  writeRegister,
} from '@mendsync/core'
import type { AccessProof } from '@mendsync/core/access'
import { requireIntact } from '@mendsync/core/sealed'
import { defaultLogger, KeyedListeners, type Logger } from '@mendsync/core/toolbox'
import type { Network, PeerId, SpaceChannel } from '../network/types.js'
import type { Storage } from '../storage/types.js'
import { openSpaceGuard, renewAccess } from './access/replica-access.js'
import { assertApplicationKey, isReservedKey } from './access/reserved-keys.js'
import type {
  DeviceGrant,
  ReplicaAccessStatus,
  RevokedPeer,
  SpaceGuard,
} from './access/space-guard.js'
import type { GrantOptions, InviteTokenOptions } from './access/spaces.js'
import { AntiEntropy } from './anti-entropy.js'
import type { Change, ChangeListener, SubscriptionTarget } from './change.js'
import type { ReplicaComponents } from './components.js'
import { GOSSIP_DEBOUNCE_MS, MAX_HINT_KEYS, MAX_KNOWN_PEERS } from './constants.defaults.js'
import { GarbageCollector, type GcPassResult, resolveGcOptions } from './gc/index.js'
import { ChangeLog } from './handoff/change-log.js'
import { Handoff } from './handoff/handoff.js'
import { ReplicaMetrics, type ReplicaMetricValues } from './metrics.js'
import type { ReadOptions, ReplicaTunables } from './options.js'
import { Gossip } from './peers/gossip.js'
import { HintStore } from './peers/hint-store.js'
import { PeerDirectory } from './peers/peer-directory.js'
import { servePeers } from './peers/serve-peers.js'
import { type SyncProgress, SyncProgressTracker } from './progress/sync-progress.js'
import { QuotaMeter } from './quota.js'
import { readKeys } from './repair/read-path.js'
import { ReadRepairer } from './repair/read-repair.js'
import { resolveReplicaOptions } from './resolve-options.js'
import { SealedKeys, type SealedQuarantine } from './sealed/sealed-keys.js'
import { ChangeWriter } from './state/change-writer.js'
import { decodeStates } from './state/decode-states.js'
import { LocalState } from './state/local-state.js'
import { recoverIdentity } from './state/recovery.js'
import { replicaStatus } from './status.js'
import { TaskScheduler } from './tasks/task-scheduler.js'
import type { CartHandle, ReplicaOptions, ReplicaStatus } from './types.js'
import { type ReadResult, viewOf } from './views.js'

/**
 * Opens the replica of `options.space` kept in `options.storage`: checks `options.access` of a
 * private space (before anything is stored), recovers its identity, version vector, handoff log
 * and reconciliation tree, and joins the network when one is given.
 */
export async function openReplica(options: ReplicaOptions): Promise<Replica> {
  const tunables = resolveReplicaOptions(options)
  const logger = options.logger ?? defaultLogger('mendsync:replica')
  const guard = await openSpaceGuard({
    space: options.space,
    access: options.access,
    storage: options.storage,
    network: options.network,
    now: options.now ?? Date.now,
    logger,
  })
  const replica = new Replica({ ...options, logger }, tunables, guard)
  await replica.start()
  return replica
}

/**
 * One replica of one space: reads and writes keys locally (online or offline), repairs
 * divergence on reads, hands changes to peers and reconciles with them. Create it with
 * {@link openReplica}. The class only wires its parts together: the write path
 * (`ChangeWriter`), read repair (`ReadRepairer`, `readKeys`), gossip, handoff, anti-entropy,
 * serving peers, and the background-task scheduler, which share one `ReplicaComponents`.
 */
export class Replica {
  readonly space: string
  private replica: ReplicaId
  private readonly storage: Storage
  private readonly network: Network | undefined
  private readonly allow: readonly PeerId[] | undefined
  private readonly logger: Logger
  private readonly metricsRegistry: ReplicaMetrics
  private readonly tasks: TaskScheduler
  private readonly components: ReplicaComponents
  private readonly subscriptions: KeyedListeners<Change>
  private readonly writer: ChangeWriter
  private readonly repairer: ReadRepairer
  private readonly handoff: Handoff
  private readonly antiEntropy: AntiEntropy
  private readonly gossip: Gossip
  private readonly guard: SpaceGuard
  private readonly gc: GarbageCollector
  /** The key holder's side of an encrypted space (`options.sealed`); undefined otherwise. */
  private readonly sealed: SealedKeys | undefined
  private channel: SpaceChannel | undefined
  private closed = false

  /** @internal Use {@link openReplica}. */
  constructor(options: ReplicaOptions, tunables: ReplicaTunables, guard: SpaceGuard) {
    this.space = options.space
    this.guard = guard
    this.storage = options.storage
    this.network = options.network
    this.allow = options.allow
    this.replica = options.replicaId ?? ''
    this.logger = options.logger ?? defaultLogger('mendsync:replica')
    this.metricsRegistry = new ReplicaMetrics(this.logger.child('metrics'))
    this.tasks = new TaskScheduler(this.logger.child('tasks'))
    this.subscriptions = new KeyedListeners(this.logger.child('subscriptions'))
    this.sealed =
      options.sealed === undefined
        ? undefined
        : new SealedKeys(options.sealed, this.space, this.logger.child('sealed'), (entries) =>
            this.metricsRegistry.add('sealed_quarantined', entries),
          )
    const now = options.now ?? Date.now
    this.components = {
      space: this.space,
      storage: this.storage,
      options: tunables,
      metrics: this.metricsRegistry,
      logger: this.logger,
      tasks: this.tasks,
      now,
      random: options.random ?? Math.random,
      local: new LocalState(this.storage, tunables.cacheMaxKeys),
      log: new ChangeLog({
        maxEntries: tunables.outboxMaxKeys,
        maxAgeMs: tunables.outboxMaxAgeMs,
        maxPeers: MAX_KNOWN_PEERS,
      }),
      hints: new HintStore(MAX_HINT_KEYS),
      quota: options.quota && new QuotaMeter(this.space, options.quota),
      progress: new SyncProgressTracker(this.logger.child('progress')),
      peers: new PeerDirectory(),
      guard,
      channel: () => this.channel,
      replicaId: () => this.replica,
      versionVector: () => this.gc.advertised(this.writer.versionVector),
      ensureOpen: () => this.ensureOpen(),
    }
    const components = this.components
    this.gc = new GarbageCollector(components, resolveGcOptions(options.gc))
    this.writer = new ChangeWriter(
      components,
      (key, state, origin) => {
        // The engine's own keys replicate like any key but are not the application's to see.
        if (!isReservedKey(key)) this.subscriptions.emit({ key, origin, state })
        // A collected tombstone changes what is stored, not what anyone reads or is owed.
        if (origin === 'collected') return
        this.gossip.changed(key, state, GOSSIP_DEBOUNCE_MS)
        for (const peer of this.channel?.peers() ?? []) this.handoff.trigger(peer)
      },
      this.gc,
    )
    // Grants this replica signs are stored as records of the space (listed by `devices()`).
    guard.attachRecordWriter((key, record) =>
      this.writer.mutate(key, (state) => writeRegister(state, this.writer.actor(), record)),
    )
    this.handoff = new Handoff(components, (peer) => this.antiEntropy.start(peer))
    this.antiEntropy = new AntiEntropy(components, this.writer, this.handoff, (replica, at) =>
      this.gc.reconciled(replica, at),
    )
    this.gossip = new Gossip(components, this.handoff, this.antiEntropy)
    this.repairer = new ReadRepairer(
      tunables,
      this.metricsRegistry,
      {
        digestOf: (state) => hashBytes(state),
        background: (work) => this.tasks.run('read-repair write-back', work),
        localDigests: (keys) => components.local.digests(keys),
        localStates: (keys) => components.local.encoded(keys),
        decode: (states) => decodeStates(states),
        joinPulled: (peers, states) =>
          this.writer.joinDecoded(
            states,
            'repair',
            // Handoff skips the replica a change came from; a join of several peers' states is
            // news to each of them.
            peers.length === 1 ? components.peers.originOf(peers[0] as PeerId) : '',
            tunables.repairDurability,
          ),
        sleep: (ms) => this.tasks.sleep(ms),
        settled: (peer, keys) => {
          const at = now()
          for (const key of keys) {
            const hint = components.hints.get(key)?.get(peer)
            if (hint !== undefined) this.metricsRegistry.observe('divergence_ms', at - hint.since)
            components.hints.settle(key, peer)
          }
        },
      },
      now,
      () => this.metricsRegistry.add('breaker_state_changes'),
      this.logger.child('repair'),
    )
  }

  /** This replica's id. */
  get replicaId(): ReplicaId {
    return this.replica
  }

  /** @internal Recovers persisted state and joins the network. */
  async start(): Promise<void> {
    const identity = await recoverIdentity(this.storage, this.replica)
    this.replica = identity.replicaId
    this.writer.restore(identity.versionVector, identity.clock)
    await this.components.log.load(this.storage)
    await this.gc.load(this.writer)
    await this.components.local.rebuildTree()
    await this.components.quota?.load(this.storage)
    this.components.tasks.run('recency index', this.components.local.indexTimes())
    await this.gc.started(this.network !== undefined)
    this.metricsRegistry.set('outbox_size', this.components.log.totalOutbox())
    await this.guard.recordOwnGrant()
    if (this.network !== undefined) await this.goOnline(this.network)
  }

  private async goOnline(network: Network): Promise<void> {
    const channel = await network.join(this.space, servePeers(this.components, this.writer), {
      ...(this.allow === undefined ? {} : { allow: this.allow }),
      ...this.guard.joinOptions(),
    })
    this.channel = channel
    this.repairer.attach(channel)
    channel.on('peer:connect', ({ peer }) => {
      this.gossip.schedule(0)
      this.handoff.trigger(peer)
    })
    channel.on('peer:disconnect', ({ peer }) => {
      this.components.peers.disconnected(peer)
      this.components.hints.forgetPeer(peer)
    })
    channel.on('gossip', ({ peer, message }) => {
      this.gc.heard(message)
      this.gossip.received(peer, message)
    })
    this.tasks.every(this.components.options.gossipIntervalMs, () => this.gossip.schedule(0))
    this.tasks.every(this.components.options.antiEntropyIntervalMs, () => this.antiEntropy.tick())
    this.gossip.schedule(0)
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
  getMany(keys: readonly string[], options: ReadOptions = {}): Promise<ReadResult[]> {
    const sealed = this.sealed
    if (sealed === undefined) return readKeys(this.components, this.repairer, keys, options)
    return this.getSealed(sealed, keys, options)
  }

  /**
   * A key holder's read: reads (and repairs) the keyed ids, then opens the sealed states stored
   * once the read settled. Entries that do not open are left out (`quarantined`), or thrown with
   * `options.intact`.
   */
  private async getSealed(
    sealed: SealedKeys,
    keys: readonly string[],
    options: ReadOptions,
  ): Promise<ReadResult[]> {
    if (!Array.isArray(keys)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'getMany needs an array of keys')
    }
    for (const key of keys) assertApplicationKey(key, 'get')
    const ids = keys.map((key) => sealed.idOf(key))
    const reads = await readKeys(this.components, this.repairer, ids, options)
    const states = await this.components.local.load(ids)
    return keys.map((key, i) => {
      const opened = sealed.open(key, states[i] as CausalValue)
      if (options.intact === true) requireIntact(opened, `key "${key}"`)
      const read = reads[i] as ReadResult
      return viewOf(
        key,
        opened.value,
        this.components.options.conflicts,
        read.repair,
        opened.quarantined,
      )
    })
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Writes a register value. With `context` (from a read) it supersedes exactly the siblings that
   * read saw; without, it adds a sibling beside whatever is there (a blind write).
   */
  async put(key: string, value: unknown, context?: ReadContext): Promise<void> {
    await this.write(key, (state) => writeRegister(state, this.writer.actor(), value, context))
  }

  /** Deletes the key: removes what `context` saw (default: everything this replica holds). */
  async delete(key: string, context?: ReadContext): Promise<void> {
    await this.write(key, (state) => deleteValue(state, context ?? state.context))
  }

  /** The cart held at `key`. */
  cart(key: string): CartHandle {
    assertApplicationKey(key, 'cart')
    const actor = () => this.writer.actor()
    return {
      add: (sku, qty = 1, meta) => this.write(key, (s) => cartAdd(s, actor(), sku, qty, meta)),
      setQty: (sku, qty) => this.write(key, (s) => cartSetQuantity(s, actor(), sku, qty)),
      remove: (sku) => this.write(key, (s) => cartRemove(s, sku)),
      setMeta: (sku, meta) => this.write(key, (s) => cartSetMeta(s, actor(), sku, meta)),
      view: (options) => this.get(key, options),
    }
  }

  /**
   * A local write of an application key: refused before anything is written when the key is
   * reserved (`INVALID_ARGUMENT`) or this replica may not write (`ACCESS_DENIED`, see `access()`).
   */
  private async write(
    key: string,
    operation: Parameters<ChangeWriter['mutate']>[1],
  ): Promise<void> {
    this.ensureOpen()
    assertApplicationKey(key, 'write')
    this.guard.assertWritable()
    const sealed = this.sealed
    if (sealed === undefined) await this.writer.mutate(key, operation)
    else await this.writer.mutate(sealed.idOf(key), sealed.mutation(key, operation))
  }

  // ---- private spaces ----------------------------------------------------------------------

  /**
   * What this replica may do now: rights, read-only, expiry, revoked. A named open space holds
   * every right; a relay (opened with only the descriptor) holds none. Re-derived at every call,
   * so it follows revocations as they arrive and the proof's expiry.
   */
  access(): ReplicaAccessStatus {
    return this.guard.status()
  }

  /**
   * Revokes `peer` (a libp2p peer id) in this private space: signs a revocation with
   * `access.signer`, refuses the peer in this replica's verifier at once, and stores the record
   * under the reserved revocation key, from where it replicates to every peer and relay like
   * any write (handoff, gossip, reconciliation). Revocation is final for that key; revoking a
   * revoked peer does nothing.
   * `INVALID_ARGUMENT` in an open space, without a signer or for the owner; `ACCESS_DENIED` when
   * the signer holds no `admin`.
   */
  async revoke(peer: PeerId): Promise<void> {
    this.ensureOpen()
    const revocation = await this.guard.revoke(peer)
    if (revocation === undefined) return
    await this.writer.mutate(revocation.key, (state) =>
      writeRegister(state, this.writer.actor(), revocation.record),
    )
  }

  /**
   * The devices that hold grants in this private space as far as this replica knows (the grants
   * it issued or received, with whether each was revoked since); `[]` in an open space.
   */
  devices(): DeviceGrant[] {
    return this.guard.devices()
  }

  /**
   * Installs a new (e.g. later-expiring) proof for this device without reopening; connections
   * made from now on present it. Errors as `openReplica`'s `access.proof`: the current proof
   * stays when the new one is refused.
   */
  async renewAccess(proof: AccessProof | Uint8Array): Promise<void> {
    this.ensureOpen()
    await renewAccess(this.guard, proof)
  }

  /** The peers revoked in this space, as far as this replica knows. */
  revocations(): RevokedPeer[] {
    return this.guard.revocations()
  }

  /**
   * Calls `listener` when a peer is newly revoked (by this replica or by a record received from
   * a peer). Returns the function that unsubscribes.
   */
  onRevoked(listener: (revoked: RevokedPeer) => void): () => void {
    this.ensureOpen()
    return this.guard.onRevoked(listener)
  }

  /**
   * Grants `peer` `options.rights` in this private space, signed by `access.signer`, and returns
   * the peer's proof (send it to the peer; `encodeProof` makes bytes of it). The signer must be
   * the owner or hold `admin`. Errors as `grantAccess`.
   */
  async grant(peer: PeerId, options: GrantOptions): Promise<AccessProof> {
    this.ensureOpen()
    return await this.guard.grant(peer, options)
  }

  /**
   * An invite token for this private space signed by `access.signer` (the owner, or an admin
   * holding `invite`): a device redeems it with `redeemInviteToken`. Errors as
   * `createInviteToken`.
   */
  async invite(options: InviteTokenOptions): Promise<string> {
    this.ensureOpen()
    return await this.guard.invite(options)
  }

  /**
   * Brings this replica and its connected peers together now: delivers every pending handoff and
   * reconciles with each connected peer whose summary differs (or is unknown). Resolves when
   * those exchanges ended; failures are counted in the metrics and logged, never thrown.
   */
  async sync(): Promise<void> {
    this.ensureOpen()
    await this.antiEntropy.syncAll()
  }

  // ---- subscriptions, status, lifecycle ----------------------------------------------------

  /**
   * Calls `listener` after every persisted change of `target` (a key, or `{ prefix }`): local
   * writes, remote changes and read repairs. Returns the function that unsubscribes. A listener
   * that throws is logged (`mendsync:replica:subscriptions`) and does not undo the change.
   */
  subscribe(target: SubscriptionTarget, listener: ChangeListener): () => void {
    this.ensureOpen()
    if (typeof target !== 'string' && typeof target?.prefix !== 'string') {
      throw new MendsyncError('INVALID_ARGUMENT', 'subscribe needs a key or { prefix }')
    }
    if (typeof target === 'string' && isReservedKey(target)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'subscribe: reserved keys are the engine’s own')
    }
    const sealed = this.sealed
    if (sealed === undefined) return this.subscriptions.add(target, listener)
    const opened = (name: string, change: Change): Change => ({
      ...change,
      key: name,
      state: sealed.open(name, change.state).value,
    })
    if (typeof target === 'string') {
      const name = target
      return this.subscriptions.add(sealed.idOf(name), (change) => listener(opened(name, change)))
    }
    // Keys are stored under one-way keyed ids: a prefix subscription sees the keys whose names
    // this replica used since it opened (the name index, see the README).
    const prefix = target.prefix
    return this.subscriptions.add({ prefix: '' }, (change) => {
      const name = sealed.nameOf(change.key)
      if (name?.startsWith(prefix)) listener(opened(name, change))
    })
  }

  /**
   * Encrypted spaces: calls `listener` whenever a read or a change of a sealed key left entries
   * out because they did not open (tampered on the way or in storage, or sealed with an epoch
   * this device lacks); the metric `sealed_quarantined` counts them. Returns the function that
   * unsubscribes. `INVALID_ARGUMENT` on a replica opened without `sealed`.
   */
  onQuarantine(listener: (quarantine: SealedQuarantine) => void): () => void {
    this.ensureOpen()
    if (this.sealed === undefined) {
      throw new MendsyncError('INVALID_ARGUMENT', 'onQuarantine: this replica holds no space key')
    }
    return this.sealed.onQuarantine(listener)
  }

  /** What the replica knows now: peers, version vector, summary, outbox, breakers. */
  status(): ReplicaStatus {
    return replicaStatus(
      this.components,
      this.repairer,
      this.antiEntropy,
      this.network?.peerId,
      this.gc.status(),
    )
  }

  /**
   * Runs one tombstone collection pass now (it also runs every `gc.intervalMs`): collects the
   * tombstones that are safe to forget and retires replicas gone for longer than the horizon.
   */
  collectGarbage(): Promise<GcPassResult> {
    this.ensureOpen()
    return this.gc.collect()
  }

  /**
   * Calls `listener` whenever the progress of the exchanges in flight changes (keys to receive,
   * received, bytes; `status().progress` is the same snapshot). Returns the function that
   * unsubscribes.
   */
  onProgress(listener: (progress: SyncProgress) => void): () => void {
    this.ensureOpen()
    return this.components.progress.on(listener)
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
    await this.tasks.idle()
    await this.writer.idle()
  }

  /** Stops timers, leaves the network space, waits for writes in flight and closes the storage. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.tasks.stop()
    await this.writer.idle()
    const channel = this.channel
    this.channel = undefined
    this.repairer.attach(undefined)
    if (channel !== undefined) {
      await channel.leave().catch((error: unknown) => {
        this.logger.debug('leaving the space failed while closing', { error, space: this.space })
      })
    }
    await this.tasks.drain()
    this.subscriptions.clear()
    this.components.local.clear()
    await this.storage.close()
  }

  private ensureOpen(): void {
    if (this.closed)
      throw new MendsyncError('CLOSED', `the replica of space ${this.space} is closed`)
    const failure = this.writer.failure
    if (failure !== undefined) throw failure
  }
}
