import { BoundedMap, callListener, type Logger } from '@mendsync/core/toolbox'
import type { ReadResult } from '@mendsync/replica'
import { LOADING, type Snapshot } from './snapshot.js'
import { asError, type ReplicaSource } from './source.js'

/** What the store knows about one key: its last read. */
export type KeySnapshot = Snapshot<ReadResult>

/** How many snapshots of keys no component watches are kept, so a remount shows them at once. */
export const IDLE_SNAPSHOTS = 256

interface Watched {
  snapshot: KeySnapshot
  readonly listeners: Set<() => void>
  stop: () => void
  /** A read is running; `stale`: a change arrived meanwhile, so read once more after it. */
  reading: boolean
  stale: boolean
}

/**
 * Per key, the last read and the components watching it: the external store behind `useKey` and
 * `useCart`. A change of a key notifies only that key's watchers, so a component re-renders only
 * when its own key changes. The store subscribes to a key in the replica while some component
 * watches it, and reads it at most once at a time (changes during a read coalesce into one more).
 */
export class KeyStore {
  readonly #source: ReplicaSource
  readonly #logger: Logger
  readonly #watched = new Map<string, Watched>()
  readonly #idle = new BoundedMap<string, KeySnapshot>(IDLE_SNAPSHOTS)

  constructor(source: ReplicaSource, logger: Logger) {
    this.#source = source
    this.#logger = logger
  }

  /** The key's current snapshot (the same object until the key changes). */
  snapshot(key: string): KeySnapshot {
    return this.#watched.get(key)?.snapshot ?? this.#idle.peek(key) ?? LOADING
  }

  /** Calls `onChange` whenever the key's snapshot is replaced; returns the unsubscribe. */
  watch(key: string, onChange: () => void): () => void {
    let watched = this.#watched.get(key)
    if (watched === undefined) {
      const entry: Watched = {
        snapshot: this.#idle.get(key) ?? LOADING,
        listeners: new Set(),
        stop: () => {},
        reading: false,
        stale: false,
      }
      this.#idle.delete(key)
      this.#watched.set(key, entry)
      entry.stop = this.#source.subscribe(key, () => this.#read(key, entry))
      // Also when an idle snapshot was kept: the key may have changed while nobody watched.
      this.#read(key, entry)
      watched = entry
    }
    const listeners = watched.listeners
    listeners.add(onChange)
    return () => {
      listeners.delete(onChange)
      const current = this.#watched.get(key)
      if (current === undefined || current.listeners.size > 0) return
      current.stop()
      this.#watched.delete(key)
      if (!current.snapshot.loading) this.#idle.set(key, current.snapshot)
    }
  }

  #read(key: string, entry: Watched): void {
    if (entry.reading) {
      entry.stale = true
      return
    }
    entry.reading = true
    entry.stale = false
    // The first read may repair from peers as the replica's default says; a re-read after a
    // change only shows the local state (a repair's own change must not start another repair).
    const options = entry.snapshot === LOADING ? {} : { repair: 'none' as const }
    this.#source
      .get(key, options)
      .then(
        (data) => this.#publish(entry, { loading: false, error: undefined, data }),
        (error: unknown) => {
          this.#logger.debug('reading a key failed', { error, key })
          this.#publish(entry, {
            loading: false,
            error: asError(error),
            data: entry.snapshot.data,
          })
        },
      )
      .finally(() => {
        entry.reading = false
        if (entry.stale && this.#watched.get(key) === entry) this.#read(key, entry)
      })
  }

  #publish(entry: Watched, snapshot: KeySnapshot): void {
    entry.snapshot = snapshot
    for (const listener of [...entry.listeners]) callListener(this.#logger, listener, undefined)
  }
}
