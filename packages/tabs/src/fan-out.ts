// Change and metric events in every tab. The leader subscribes to its replica and posts each
// persisted change (its state in the canonical encoding) and, batched, its metric events; every
// tab, the leader included, calls its own listeners. A throwing listener is logged and never
// stops the others.
import { type CausalValue, decodeValue, encodeValue } from '@mendsync/core'
import { KeyedListeners, Listeners, type Logger } from '@mendsync/core/toolbox'
import type { Change, ChangeListener, Replica, SubscriptionTarget } from '@mendsync/replica'
import { METRIC_FLUSH_MS } from './defaults.js'
import type { Body, Message, MetricEvent } from './protocol.js'

/** One tab's change and metric listeners, and the leader's side of the fan-out. */
export class FanOut {
  readonly #changes: KeyedListeners<Change>
  readonly #metrics: Listeners<MetricEvent>
  readonly #post: (body: Body) => void
  readonly #logger: Logger
  #metricBuffer: MetricEvent[] = []
  #metricTimer: ReturnType<typeof setTimeout> | undefined

  constructor(post: (body: Body) => void, logger: Logger) {
    this.#post = post
    this.#logger = logger
    this.#changes = new KeyedListeners(logger)
    this.#metrics = new Listeners(logger)
  }

  /** Calls `listener` with every change of `target`; returns the function that unsubscribes. */
  subscribe(target: SubscriptionTarget, listener: ChangeListener): () => void {
    return this.#changes.add(target, listener)
  }

  /** Calls `listener` with every metric event; returns the function that unsubscribes. */
  onMetric(listener: (event: MetricEvent) => void): () => void {
    return this.#metrics.add(listener)
  }

  /** The leader's side: fans out `replica`'s events. Returns the function that stops it. */
  follow(replica: Replica): () => void {
    const detach = [
      replica.subscribe({ prefix: '' }, (change) => {
        this.#post({
          t: 'change',
          key: change.key,
          origin: change.origin,
          state: encodeValue(change.state),
        })
        this.#changes.emit(change)
      }),
      replica.onMetric((event) => {
        this.#metrics.emit(event)
        this.#metricBuffer.push({ name: event.name, value: event.value })
        this.#metricTimer ??= setTimeout(() => this.flushMetrics(), METRIC_FLUSH_MS)
      }),
    ]
    return () => {
      for (const stop of detach) stop()
    }
  }

  /** A follower's side: a change the leader posted. */
  receiveChange(message: Extract<Message, { t: 'change' }>): void {
    let state: CausalValue
    try {
      state = decodeValue(message.state)
    } catch (error) {
      this.#logger.debug('a change this version cannot decode', { key: message.key, error })
      return
    }
    this.#changes.emit({ key: message.key, origin: message.origin, state })
  }

  /** A follower's side: metric events the leader posted. */
  receiveMetrics(events: readonly MetricEvent[]): void {
    for (const event of events) this.#metrics.emit(event)
  }

  /** Posts the buffered metric events now. */
  flushMetrics(): void {
    clearTimeout(this.#metricTimer)
    this.#metricTimer = undefined
    if (this.#metricBuffer.length === 0) return
    const events = this.#metricBuffer
    this.#metricBuffer = []
    this.#post({ t: 'metric', events })
  }

  /** Stops the batching timer and forgets the listeners (on close). */
  close(): void {
    clearTimeout(this.#metricTimer)
    this.#metricTimer = undefined
    this.#changes.clear()
    this.#metrics.clear()
  }
}
