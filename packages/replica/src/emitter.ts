/**
 * A minimal typed event emitter: `on` returns the function that unsubscribes. A listener that
 * throws is reported to `onListenerError` and never stops the other listeners or the emitter's
 * owner: an application's bug in a callback must not crash a replica or a relay.
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(detail: never) => void>>()
  private readonly onListenerError: (error: unknown) => void

  constructor(onListenerError: (error: unknown) => void = reportListenerError) {
    this.onListenerError = onListenerError
  }

  on<E extends keyof Events>(event: E, listener: (detail: Events[E]) => void): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as (detail: never) => void)
    return () => {
      set.delete(listener as (detail: never) => void)
    }
  }

  /** Calls every listener of `event` with `detail`. */
  emit<E extends keyof Events>(event: E, detail: Events[E]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as (detail: Events[E]) => void)(detail)
      } catch (error) {
        this.onListenerError(error)
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}

/** The default report of a listener's exception: logged, not rethrown. */
export function reportListenerError(error: unknown): void {
  console.error('mendsync: an event listener threw', error)
}
