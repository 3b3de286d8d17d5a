import type { Logger } from './logger.js'

/**
 * The one fan-out of mendsync. A listener that throws is logged at `error` and never stops the
 * other listeners or the code that emits: an application's bug in a callback must not undo a
 * persisted change or crash a replica, a tab or a relay.
 */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>()
  private readonly logger: Logger

  /** @param logger where a throwing listener is reported. */
  constructor(logger: Logger) {
    this.logger = logger
  }

  get size(): number {
    return this.set.size
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (value: T) => void): () => void {
    this.set.add(listener)
    return () => {
      this.set.delete(listener)
    }
  }

  /** Calls every listener (those present when the call starts) with `value`. */
  emit(value: T): void {
    for (const listener of [...this.set]) callListener(this.logger, listener, value)
  }

  clear(): void {
    this.set.clear()
  }
}

/** Calls one listener, logging what it throws. */
export function callListener<T>(logger: Logger, listener: (value: T) => void, value: T): void {
  try {
    listener(value)
  } catch (error) {
    logger.error('a listener threw', { error })
  }
}

/** What to watch: one key, or every key with a prefix (`''`: every key). */
export type KeyTarget = string | { readonly prefix: string }

/** Listeners per exact key and per key prefix; an event reaches every matching listener once. */
export class KeyedListeners<T extends { readonly key: string }> {
  private readonly byKey = new Map<string, Set<(value: T) => void>>()
  private readonly byPrefix = new Map<string, Set<(value: T) => void>>()
  private readonly logger: Logger

  constructor(logger: Logger) {
    this.logger = logger
  }

  /** Whether any listener watches anything. */
  get isEmpty(): boolean {
    return this.byKey.size === 0 && this.byPrefix.size === 0
  }

  /** Adds `listener` for `target`; returns the function that removes it. */
  add(target: KeyTarget, listener: (value: T) => void): () => void {
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

  /** Calls the listeners of `value.key` and of every prefix of it. */
  emit(value: T): void {
    const listeners = [...(this.byKey.get(value.key) ?? [])]
    for (const [prefix, set] of this.byPrefix) {
      if (value.key.startsWith(prefix)) listeners.push(...set)
    }
    for (const listener of listeners) callListener(this.logger, listener, value)
  }

  clear(): void {
    this.byKey.clear()
    this.byPrefix.clear()
  }
}
