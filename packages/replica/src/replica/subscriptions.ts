import type { CausalValue } from '@mendsync/core'
import { reportListenerError } from '../emitter.js'

/** Why a key changed: a local write, a remote push/reconcile/handoff, or a read repair. */
export type ChangeOrigin = 'local' | 'remote' | 'repair'

/** What a subscriber receives. */
export interface Change {
  readonly key: string
  readonly origin: ChangeOrigin
  /** The key's state after the change (read it with the replica's view helpers). */
  readonly state: CausalValue
}

/** What to watch: one key, or every key with a prefix (`''`: every key). */
export type SubscriptionTarget = string | { readonly prefix: string }

/** Called after each persisted change of a subscribed key; must not throw (errors are reported). */
export type ChangeListener = (change: Change) => void

/** Routes changes to the listeners of their key and of every matching prefix. */
export class Subscriptions {
  private readonly byKey = new Map<string, Set<ChangeListener>>()
  private readonly byPrefix = new Map<string, Set<ChangeListener>>()

  add(target: SubscriptionTarget, listener: ChangeListener): () => void {
    const [index, name] =
      typeof target === 'string' ? [this.byKey, target] : [this.byPrefix, target.prefix]
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

  notify(change: Change): void {
    const listeners = [...(this.byKey.get(change.key) ?? [])]
    for (const [prefix, set] of this.byPrefix) {
      if (change.key.startsWith(prefix)) listeners.push(...set)
    }
    for (const listener of listeners) {
      try {
        listener(change)
      } catch (error) {
        // A subscriber's bug must not undo or stall the change that was already persisted.
        reportListenerError(error)
      }
    }
  }

  clear(): void {
    this.byKey.clear()
    this.byPrefix.clear()
  }
}
