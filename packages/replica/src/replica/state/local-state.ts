import { type CausalValue, decodeValue, emptyValue, hashBytes, ReconcileTree } from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import type { KeyState } from '../../network/types.js'
import { scanAll } from '../../storage/scan-all.js'
import type { Storage } from '../../storage/types.js'

/**
 * What the replica holds, as read from its storage: decoded states behind a bounded cache of the
 * most recently used keys, and the reconciliation tree of the stored state hashes. The cache is
 * sound because the replica is its storage's only writer and calls {@link stored} after every
 * commit; states are immutable, so sharing them is safe.
 */
export class LocalState {
  private readonly storage: Storage
  private readonly cache: BoundedMap<string, CausalValue>
  /** The reconciliation tree over every stored key's state hash. */
  tree = new ReconcileTree()

  /** @param cacheMaxKeys decoded states kept in memory; 0 turns the cache off. */
  constructor(storage: Storage, cacheMaxKeys: number) {
    this.storage = storage
    this.cache = new BoundedMap(cacheMaxKeys)
  }

  /** Rebuilds the tree from every stored state (on open). */
  async rebuildTree(): Promise<void> {
    const entries: [string, Uint8Array][] = []
    for await (const entry of scanAll(this.storage, { namespace: 'values' })) {
      entries.push([entry.key, hashBytes(entry.value)])
    }
    this.tree = ReconcileTree.fromEntries(entries)
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
    return (await this.storage.get('values', keys)).map((bytes) => bytes ?? null)
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
    this.tree.set(key, hash)
    this.cache.set(key, state)
  }

  /** Drops the cache (on close). */
  clear(): void {
    this.cache.clear()
  }
}
