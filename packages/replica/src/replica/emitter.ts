/** A minimal typed event emitter: `on` returns the function that unsubscribes. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(detail: never) => void>>()

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

  /** Calls every listener of `event`; a listener that throws does not stop the others. */
  emit<E extends keyof Events>(event: E, detail: Events[E]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        ;(listener as (detail: Events[E]) => void)(detail)
      } catch (error) {
        // A subscriber's bug must not break the engine; surface it without rethrowing.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}
