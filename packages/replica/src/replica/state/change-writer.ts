import {
  type CausalValue,
  contextMax,
  type DeltaMutation,
  emptyValue,
  encodeValue,
  encodeVersionVector,
  HybridClock,
  hashBytes,
  isTombstone,
  joinValues,
  MendsyncError,
  type ReplicaId,
  type Timestamp,
  valueEquals,
} from '@mendsync/core'
import type { KeyState } from '../../network/types.js'
import { type Durability, MAX_VALUE_BYTES, type Mutation } from '../../storage/types.js'
import { assertKey } from '../../storage/validate.js'
import type { ChangeOrigin } from '../change.js'
import type { ReplicaComponents } from '../components.js'
import type { QuotaReservation } from '../quota.js'
import type { DecodedState } from '../repair/repair-types.js'
import { decodeStates } from './decode-states.js'
import { KeyLock } from './key-lock.js'
import { META_CLOCK, META_VERSION_VECTOR } from './meta-keys.js'
import type { StateHooks } from './state-hooks.js'
import { encodeTimestamp } from './timestamp-codec.js'

/** One key's state before and after a change. */
interface KeyChange {
  readonly key: string
  readonly before: CausalValue
  readonly after: CausalValue
}

const NO_KEYS: ReadonlySet<string> = new Set()

/** How {@link ChangeWriter} persists one batch. */
interface PersistOptions {
  readonly durability?: Durability
  /** Keys hidden by the rejoin rule that take the joined state and are offered again. */
  readonly adopted?: ReadonlySet<string>
  /** The batch is a local write (not a join of remote states). */
  readonly local?: boolean
}

/** Called after every persisted change (subscribers, gossip hint, handoff). */
export type ChangeAnnouncer = (key: string, state: CausalValue, origin: ChangeOrigin) => void

/**
 * The write path: local mutations and joins of remote states, each a read-modify-write under a
 * per-key lock, persisted with the version vector, the clock and handoff records in one atomic
 * batch. Owns the version vector and the hybrid logical clock.
 */
export class ChangeWriter {
  private readonly components: ReplicaComponents
  private readonly announce: ChangeAnnouncer
  private readonly hooks: StateHooks
  private readonly locks = new KeyLock()
  private clock: HybridClock
  private vector = new Map<ReplicaId, number>()
  /** The version vector including every batch issued to the storage (see {@link persist}). */
  private issuedVector = new Map<ReplicaId, number>()
  private batchesIssued = 0
  private batchesCommitted = 0
  /** Set when the storage failed a batch: the replica then refuses every operation. */
  private storageFailure: MendsyncError | undefined

  constructor(components: ReplicaComponents, announce: ChangeAnnouncer, hooks: StateHooks) {
    this.components = components
    this.announce = announce
    this.hooks = hooks
    this.clock = new HybridClock({ now: components.now })
  }

  /** Restores the persisted version vector and clock (on open, before any change). */
  restore(vector: ReadonlyMap<ReplicaId, number>, clock: Timestamp | undefined): void {
    this.vector = new Map(vector)
    this.issuedVector = new Map(vector)
    if (clock !== undefined) this.clock = new HybridClock({ now: this.components.now, last: clock })
  }

  /** The version vector of every committed change. */
  get versionVector(): ReadonlyMap<ReplicaId, number> {
    return this.vector
  }

  /** The storage's failure, once a batch failed. */
  get failure(): MendsyncError | undefined {
    return this.storageFailure
  }

  /** The author of a local change: this replica, at a fresh clock timestamp. */
  actor(): { replica: ReplicaId; time: Timestamp } {
    return { replica: this.hooks.actor(), time: this.clock.now() }
  }

  /** Applies `operation` to `key`'s state and persists the result (nothing when unchanged). */
  async mutate(key: string, operation: (state: CausalValue) => DeltaMutation): Promise<void> {
    const { components } = this
    components.ensureOpen()
    assertKey(key, 'write')
    await this.locks.run([key], async () => {
      const [current] = await components.local.load([key])
      const { state } = operation(current as CausalValue)
      // A write that changes nothing (removing a line this replica does not hold, deleting a key
      // it never saw) persists nothing: stored, the empty state of a never-written key is a key
      // no peer ever stores (joining it changes nothing there), and summaries differ forever.
      if (!valueEquals(state, current as CausalValue)) {
        await this.persist([{ key, before: current as CausalValue, after: state }], '', {
          local: true,
        })
        this.announce(key, state, 'local')
      }
      components.metrics.add('writes_total')
    })
  }

  /**
   * Joins remote states into the replica in one atomic batch; returns the keys that changed.
   * A state that does not decode fails the whole call with `DECODE_ERROR`, and an invalid
   * revocation record with `ACCESS_DENIED`: nothing is stored.
   */
  join(states: readonly KeyState[], origin: ChangeOrigin, from: ReplicaId): Promise<string[]> {
    this.components.ensureOpen()
    return this.joinDecoded(decodeStates(states), origin, from, 'strict')
  }

  /** Joins decoded states in one batch of `durability`; returns the keys that changed. */
  async joinDecoded(
    decoded: readonly DecodedState[],
    origin: ChangeOrigin,
    from: ReplicaId,
    durability: Durability,
  ): Promise<string[]> {
    const { components } = this
    components.ensureOpen()
    if (decoded.length === 0) return []
    // Reserved keys (revocation records) are checked before anything is stored; a bad one
    // refuses the whole batch, as a state that does not decode does.
    await components.guard.admit(decoded)
    const keys = [...new Set(decoded.map((d) => d.key))]
    return this.locks.run(keys, async () => {
      const current = new Map<string, CausalValue>()
      const loaded = await components.local.load(keys)
      const before = new Map<string, CausalValue>()
      // A key hidden by the rejoin rule takes the peer's state joined with what may be offered
      // of its own (its away writes), not its stale copy: it is adopted, and offered again.
      const adopted = new Set<string>()
      for (const [i, key] of keys.entries()) {
        const stored = loaded[i] as CausalValue
        before.set(key, stored)
        if (components.local.isHidden(key)) {
          adopted.add(key)
          current.set(key, components.local.offered(key) ?? emptyValue())
        } else current.set(key, stored)
      }
      for (const { key, value } of decoded) {
        const state = current.get(key) as CausalValue
        current.set(key, joinValues(state, value))
      }
      const changes = keys
        .filter(
          (key) =>
            adopted.has(key) ||
            !valueEquals(before.get(key) as CausalValue, current.get(key) as CausalValue),
        )
        .map((key) => ({
          key,
          before: before.get(key) as CausalValue,
          after: current.get(key) as CausalValue,
        }))
      if (changes.length === 0) return []
      for (const change of changes) components.guard.checkJoined(change.key, change.after)
      await this.persist(changes, from, { durability, adopted })
      components.metrics.add('remote_changes_total', changes.length)
      for (const change of changes) this.announce(change.key, change.after, origin)
      return changes.map((change) => change.key)
    })
  }

  /** Resolves when every write and join queued so far has settled. */
  idle(): Promise<void> {
    return this.locks.idle()
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
    changes: readonly KeyChange[],
    origin: ReplicaId,
    { durability = 'strict', adopted = NO_KEYS, local = false }: PersistOptions = {},
  ): Promise<void> {
    if (this.storageFailure !== undefined) return Promise.reject(this.storageFailure)
    const { components } = this
    const values: Mutation[] = []
    const hashes: Uint8Array[] = []
    const gcRecords: Mutation[] = []
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
        if (delta === 0) continue
        // An adopted key can hold fewer dots than its stale copy did.
        const count = (vector.get(replica) ?? 0) + delta
        if (count > 0) vector.set(replica, count)
        else vector.delete(replica)
      }
      gcRecords.push(...this.hooks.recordsFor(key, before, after, local))
    }
    let quota: QuotaReservation | undefined
    try {
      quota = components.quota?.reserve(changes, values)
    } catch (error) {
      return Promise.reject(error)
    }
    const reservation = components.log.reserve(
      changes.map((c) => c.key),
      origin,
      components.now(),
    )
    const meta: Mutation[] = [
      // A local write took a timestamp: persist the clock with it (monotonic across restarts).
      ...(origin === '' ? [{ key: META_CLOCK, value: encodeTimestamp(this.clock.last) }] : []),
      ...reservation.mutations,
      ...gcRecords,
    ]
    return this.issue({ values, meta, durability }, vector, () => {
      components.log.publish(reservation)
      this.hooks.committed(
        changes.map((c) => c.key),
        changes.map((c) => c.after),
        local,
      )
      for (const [i, { key, after }] of changes.entries()) {
        if (adopted.has(key)) components.local.release(key)
        components.local.stored(key, hashes[i] as Uint8Array, after)
      }
      components.metrics.set('outbox_size', components.log.totalOutbox())
    }).catch((error: unknown) => {
      // Nothing of the batch was stored: its room in the quota is free again.
      if (quota !== undefined) components.quota?.release(quota)
      throw error
    })
  }

  /**
   * Rewrites stored keys outside the lattice (tombstone collection, the rejoin rule), under the
   * keys' locks: `decide` sees each key's current state and returns `undefined` (leave it),
   * `null` (erase it) or a state to store instead. `meta` adds records to the batch. Erasing
   * changes no count of the version vector (the events were seen); subscribers hear of a key
   * whose visible state changed. Returns the keys erased and replaced.
   */
  async rewrite(
    keys: readonly string[],
    decide: (key: string, state: CausalValue) => CausalValue | null | undefined,
    meta: () => Mutation[] = () => [],
  ): Promise<{ erased: string[]; replaced: string[] }> {
    const { components } = this
    components.ensureOpen()
    if (keys.length === 0) return { erased: [], replaced: [] }
    return this.locks.run(keys, async () => {
      const loaded = await components.local.load(keys)
      const values: Mutation[] = []
      const records: Mutation[] = []
      const erased: string[] = []
      const replaced: { key: string; before: CausalValue; after: CausalValue; hash: Uint8Array }[] =
        []
      for (const [i, key] of keys.entries()) {
        const before = loaded[i] as CausalValue
        const after = decide(key, before)
        if (after === undefined) continue
        if (after === null) {
          erased.push(key)
          values.push({ key, value: null })
          records.push(...this.hooks.recordsFor(key, before, emptyValue(), false))
        } else {
          const encoded = encodeValue(after)
          replaced.push({ key, before, after, hash: hashBytes(encoded) })
          values.push({ key, value: encoded })
          records.push(...this.hooks.recordsFor(key, before, after, false))
        }
      }
      const extra = meta()
      if (values.length === 0 && extra.length === 0) return { erased, replaced: [] }
      const vector = new Map(this.issuedVector)
      await this.issue(
        { values, meta: [...records, ...extra], durability: 'strict' },
        vector,
        () => {
          for (const key of erased) components.local.erased(key)
          this.hooks.committed(
            replaced.map((r) => r.key),
            replaced.map((r) => r.after),
            false,
          )
          for (const { key, after, hash } of replaced) {
            components.local.release(key)
            components.local.stored(key, hash, after)
          }
        },
      )
      const erasedKeys = new Set(erased)
      for (const [i, key] of keys.entries()) {
        if (!erasedKeys.has(key)) continue
        const before = loaded[i] as CausalValue
        this.announce(key, emptyValue(), isTombstone(before) ? 'collected' : 'remote')
      }
      for (const { key, before, after } of replaced) {
        if (!valueEquals(before, after)) this.announce(key, after, 'remote')
      }
      return { erased, replaced: replaced.map((r) => r.key) }
    })
  }

  /**
   * Drops the version vector's entries of actors `keep` refuses (retired replicas, old epochs).
   * Their dots stay in the contexts of the keys that hold them; only the space-wide counts go.
   */
  async foldVector(keep: (actor: ReplicaId) => boolean): Promise<ReplicaId[]> {
    if (this.storageFailure !== undefined) throw this.storageFailure
    const removed = [...this.issuedVector.keys()].filter((actor) => !keep(actor))
    if (removed.length === 0) return []
    const vector = new Map(this.issuedVector)
    for (const actor of removed) vector.delete(actor)
    await this.issue({ meta: [], durability: 'relaxed' }, vector, () => undefined)
    return removed
  }

  /**
   * Issues one batch carrying `vector` (added to `batch.meta`) after the batches issued before
   * it, and runs `committed` once it is durable; see {@link persist} for the order and failures.
   */
  private issue(
    batch: { values?: Mutation[]; meta: Mutation[]; durability: Durability },
    vector: Map<ReplicaId, number>,
    committed: () => void,
  ): Promise<void> {
    if (this.storageFailure !== undefined) return Promise.reject(this.storageFailure)
    const { components } = this
    this.issuedVector = vector
    const issued = ++this.batchesIssued
    const meta = [{ key: META_VERSION_VECTOR, value: encodeVersionVector(vector) }, ...batch.meta]
    return components.storage.write({ ...batch, meta }).then(
      () => {
        // Batches resolve in issue order; the guard keeps an older vector from winning if not.
        if (issued > this.batchesCommitted) {
          this.batchesCommitted = issued
          this.vector = vector
        }
        committed()
      },
      (error: unknown) => {
        if (this.storageFailure === undefined) {
          components.logger.error('the storage failed a write; the replica stops', {
            error,
            space: components.space,
            keys: (batch.values ?? []).map((mutation) => mutation.key),
          })
        }
        this.storageFailure ??= new MendsyncError(
          'STORAGE_FAILURE',
          `the storage of space ${components.space} failed a write; reopen the replica`,
          { cause: error },
        )
        throw this.storageFailure
      },
    )
  }
}
