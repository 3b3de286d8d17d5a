import { defaultLogger, Listeners, type Logger } from '@mendsync/core/toolbox'

/**
 * A minimal typed event emitter over the toolbox's `Listeners`: `on` returns the function that
 * unsubscribes, and a listener that throws is logged at `error` through the injected logger and
 * never stops the other listeners or the emitter's owner: an application's bug in a callback
 * must not crash a replica or a relay.
 */
export class Emitter<Events extends object> {
  /** One fan-out per event; each holds listeners of that event's detail type. */
  private readonly listeners = new Map<keyof Events, unknown>()
  private readonly logger: Logger

  /** @param logger where a throwing listener is reported; default `mendsync:events`. */
  constructor(logger: Logger = defaultLogger('mendsync:events')) {
    this.logger = logger
  }

  on<E extends keyof Events>(event: E, listener: (detail: Events[E]) => void): () => void {
    let set = this.listeners.get(event) as Listeners<Events[E]> | undefined
    if (set === undefined) {
      set = new Listeners<Events[E]>(this.logger)
      this.listeners.set(event, set)
    }
    return set.add(listener)
  }

  /** Calls every listener of `event` with `detail`. */
  emit<E extends keyof Events>(event: E, detail: Events[E]): void {
    ;(this.listeners.get(event) as Listeners<Events[E]> | undefined)?.emit(detail)
  }

  clear(): void {
    this.listeners.clear()
  }
}
