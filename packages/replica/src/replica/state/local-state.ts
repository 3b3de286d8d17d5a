import {
  type CausalValue,
  decodeValue,
  emptyValue,
  encodeValue,
  hashBytes,
  ReconcileTree,
} from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import type { KeyState } from '../../network/types.js'
import { scanAll, scanPages } from '../../storage/scan-all.js'
import type { Storage } from '../../storage/types.js'
import { stateTime } from './state-time.js'
import { yieldToEventLoop } from './yield-to-loop.js'

/**
 * What the replica holds, as read from its storage: decoded states behind a bounded cache of the
 * most recently used keys, and the reconciliation tree of the stored state hashes. The cache is
 * sound because the replica is its storage's only writer and calls {@link stored} after every
 * commit; states are immutable, so sharing them is safe.
 */
export class LocalState {
  private readonly storage: Storage
  private readonly cache: BoundedMap<string, CausalValue>
  /**
   * The reconciliation tree over every stored key's state hash, as offered to peers. Built on
   * open from the hashes alone (no recency order: the states' times are not read yet), then
   * replaced by {@link indexTimes} with a tree that also orders keys by their states' times.
   */
  tree = new ReconcileTree()
  /**
   * Tree changes committed while {@link indexTimes} scans (`null`: the key left the tree),
   * applied to its tree before the swap.
   */
  #writesDuringScan: Map<string, readonly [Uint8Array, number | undefined] | null> | null = null
  /**
   * While rejoining (the rejoin rule, see `gc/`): the keys whose stored state is not offered to
   * peers as it is, each with the encoding offered instead (`null`: the key is not offered).
   */
  private readonly hidden = new Map<string, Uint8Array | null>()
  private offer: ((key: string, state: CausalValue) => CausalValue | null) | undefined

  /** @param cacheMaxKeys decoded states kept in memory; 0 turns the cache off. */
  constructor(storage: Storage, cacheMaxKeys: number) {
    this.storage = storage
    this.cache = new BoundedMap(cacheMaxKeys)
  }

  /**
   * Rebuilds the tree from every stored state hash (on open). Reading each state's time would
   * mean decoding every state, so this tree has no recency order: sessions run the coded symbols
   * over everything until {@link indexTimes} has run.
   */
  async rebuildTree(): Promise<void> {
    const entries: [string, Uint8Array][] = []
    // Page by page, not entry by entry: an async iteration per record is a large share of open.
    for await (const page of scanPages(this.storage, { namespace: 'values' })) {
      for (const entry of page.entries) {
        const offered = this.hidden.has(entry.key) ? this.hidden.get(entry.key) : entry.value
        if (offered !== null && offered !== undefined) entries.push([entry.key, hashBytes(offered)])
      }
    }
    this.tree = ReconcileTree.fromEntries(entries, { recency: false })
  }

  /**
   * Decodes every stored state for its time and swaps in a tree that also keeps the most
   * recently changed keys in time order (the recency step of reconciliation). Runs in the
   * background after open, yielding to the event loop between pages so reads are served
   * meanwhile; writes committed meanwhile are applied to the new tree first.
   */
  async indexTimes(): Promise<void> {
    if (this.#writesDuringScan !== null) return
    this.#writesDuringScan = new Map()
    try {
      const entries: [string, Uint8Array, number][] = []
      const untimed: [string, Uint8Array][] = []
      for await (const page of scanPages(this.storage, { namespace: 'values' })) {
        for (const entry of page.entries) {
          // A hidden key (rejoining) is indexed as it is offered, not as it is stored.
          const offered = this.hidden.has(entry.key) ? this.hidden.get(entry.key) : entry.value
          if (offered === null || offered === undefined) continue
          const hash = hashBytes(offered)
          const time = stateTime(decodeValue(offered))
          if (time === undefined) untimed.push([entry.key, hash])
          else entries.push([entry.key, hash, time])
        }
        // Reads and writes run between pages: the scan completes in microtasks otherwise, and a
        // read issued right after open would wait for the whole index (seconds at 1e6 keys).
        await yieldToEventLoop()
      }
      const tree = ReconcileTree.fromEntries([...entries, ...untimed])
      for (const [key, change] of this.#writesDuringScan) {
        if (change === null) tree.delete(key)
        else tree.set(key, change[0], change[1])
      }
      this.tree = tree
    } finally {
      this.#writesDuringScan = null
    }
  }

  /**
   * Hides every stored key from peers behind `offer` (what may be offered of its state, `null`:
   * nothing) until {@link release}d, and rebuilds the tree from what is offered. Local reads and
   * writes still see the stored states.
   */
  async hide(offer: (key: string, state: CausalValue) => CausalValue | null): Promise<void> {
    this.offer = offer
    for await (const entry of scanAll(this.storage, { namespace: 'values' })) {
      const offered = offer(entry.key, decodeValue(entry.value))
      this.hidden.set(entry.key, offered === null ? null : encodeValue(offered))
    }
    await this.rebuildTree()
  }

  /** True when `key` is hidden from peers. */
  isHidden(key: string): boolean {
    return this.hidden.has(key)
  }

  /** What is offered of hidden `key`'s state (`null`: nothing). */
  offered(key: string): CausalValue | null {
    const bytes = this.hidden.get(key)
    return bytes === null || bytes === undefined ? null : decodeValue(bytes)
  }

  /** The keys still hidden. */
  hiddenKeys(): string[] {
    return [...this.hidden.keys()]
  }

  /** Offers `key` as stored again (call before indexing its new state). */
  release(key: string): void {
    this.hidden.delete(key)
    if (this.hidden.size === 0) this.offer = undefined
  }

  /** The decoded states of `keys` (the empty state for a key never written). */
  async load(keys: readonly string[]): Promise<CausalValue[]> {
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

  /** The stored encoded states of `keys` (`null` for a key never written). */
  async encoded(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const stored = await this.storage.get('values', keys)
    return stored.map((bytes, i) => {
      const key = keys[i] as string
      if (this.hidden.has(key)) return this.hidden.get(key) ?? null
      return bytes ?? null
    })
  }

  /** The state hashes of `keys`, as peers compute them (`null` for a key never written). */
  async digests(keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    return (await this.encoded(keys)).map((bytes) => (bytes === null ? null : hashBytes(bytes)))
  }

  /** The stored states of `keys` to send to a peer (keys never written are left out). */
  async statesFor(keys: readonly string[]): Promise<KeyState[]> {
    const encoded = await this.encoded(keys)
    return keys.flatMap((key, i) => {
      const state = encoded[i]
      return state === null || state === undefined ? [] : [{ key, state }]
    })
  }

  /** Indexes a committed state: its hash in the tree, the decoded state in the cache. */
  stored(key: string, hash: Uint8Array, state: CausalValue): void {
    this.cache.set(key, state)
    if (this.hidden.has(key) && this.offer !== undefined) {
      const offered = this.offer(key, state)
      const bytes = offered === null ? null : encodeValue(offered)
      this.hidden.set(key, bytes)
      if (offered === null || bytes === null) this.untree(key)
      else this.entree(key, hashBytes(bytes), stateTime(offered))
      return
    }
    this.entree(key, hash, stateTime(state))
  }

  private entree(key: string, hash: Uint8Array, time: number | undefined): void {
    this.tree.set(key, hash, time)
    this.#writesDuringScan?.set(key, [hash, time])
  }

  private untree(key: string): void {
    this.tree.delete(key)
    this.#writesDuringScan?.set(key, null)
  }

  /** `key` was erased from the storage (a collected tombstone, a stale copy dropped). */
  erased(key: string): void {
    this.hidden.delete(key)
    this.untree(key)
    this.cache.delete(key)
  }

  /** Drops the cache (on close). */
  clear(): void {
    this.cache.clear()
  }
}
