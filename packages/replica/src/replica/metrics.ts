import type { Logger } from '@mendsync/core/toolbox'
import { Emitter } from '../emitter.js'

/** Bucket upper bounds (ms) of the latency histograms, Prometheus-style (cumulative on export). */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
]

/** A fixed-bucket histogram: counts per bucket, plus sum and count. */
export interface Histogram {
  readonly buckets: readonly number[]
  /** `counts[i]` observations fell in `(buckets[i-1], buckets[i]]`; the last slot is `+Inf`. */
  readonly counts: number[]
  sum: number
  count: number
}

/** Counters and gauges a replica keeps; names follow Prometheus conventions without prefix. */
export interface ReplicaMetricValues {
  reads_total: number
  writes_total: number
  remote_changes_total: number
  repairs_initiated: number
  repairs_completed: number
  repairs_failed: number
  /** Repair requests sent again after a transient failure (counted per retry). */
  repair_retries: number
  inconsistencies_found: number
  keys_repaired: number
  repair_latency_ms: Histogram
  /** From the first hint that a peer was ahead for a key to the repair of that key, ms. */
  divergence_ms: Histogram
  outbox_size: number
  handoff_delivered: number
  handoff_overflows: number
  reconcile_sessions: number
  reconcile_failures: number
  reconcile_bytes: number
  reconcile_rounds: number
  breaker_state_changes: number
  gossip_sent: number
  gossip_received: number
  /** Tombstones held (deleted keys whose context is still kept). */
  tombstones: number
  /** Tombstones collected. */
  tombstones_collected: number
  /** The collection horizon, ms (`gc.horizonMs`). */
  gc_horizon_ms: number
  /** Times this replica came back after the horizon and rejoined (the rejoin rule). */
  rejoins: number
  /** Entries of sealed keys left out of reads and changes because they failed to open. */
  sealed_quarantined: number
}

/** What {@link ReplicaMetrics} emits: every change of a metric, for exporters and dashboards. */
export interface MetricEvents {
  metric: { readonly name: keyof ReplicaMetricValues; readonly value: number }
}

function histogram(): Histogram {
  return {
    buckets: LATENCY_BUCKETS_MS,
    counts: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
    sum: 0,
    count: 0,
  }
}

type CounterName = {
  [K in keyof ReplicaMetricValues]: ReplicaMetricValues[K] extends number ? K : never
}[keyof ReplicaMetricValues]
type HistogramName = Exclude<keyof ReplicaMetricValues, CounterName>

/** The metrics of one replica: a plain object (`snapshot()`) plus change events (`on`). */
export class ReplicaMetrics {
  private readonly values: ReplicaMetricValues = {
    reads_total: 0,
    writes_total: 0,
    remote_changes_total: 0,
    repairs_initiated: 0,
    repairs_completed: 0,
    repairs_failed: 0,
    repair_retries: 0,
    inconsistencies_found: 0,
    keys_repaired: 0,
    repair_latency_ms: histogram(),
    divergence_ms: histogram(),
    outbox_size: 0,
    handoff_delivered: 0,
    handoff_overflows: 0,
    reconcile_sessions: 0,
    reconcile_failures: 0,
    reconcile_bytes: 0,
    reconcile_rounds: 0,
    breaker_state_changes: 0,
    gossip_sent: 0,
    gossip_received: 0,
    tombstones: 0,
    tombstones_collected: 0,
    gc_horizon_ms: 0,
    rejoins: 0,
    sealed_quarantined: 0,
  }
  private readonly emitter: Emitter<MetricEvents>

  /** @param logger where a throwing metric listener is reported. */
  constructor(logger?: Logger) {
    this.emitter = new Emitter(logger)
  }

  add(name: CounterName, amount = 1): void {
    this.set(name, this.values[name] + amount)
  }

  set(name: CounterName, value: number): void {
    this.values[name] = value
    this.emitter.emit('metric', { name, value })
  }

  observe(name: HistogramName, value: number): void {
    const h = this.values[name]
    let i = 0
    while (i < h.buckets.length && value > (h.buckets[i] as number)) i++
    h.counts[i] = (h.counts[i] as number) + 1
    h.sum += value
    h.count += 1
    this.emitter.emit('metric', { name, value })
  }

  /** A deep copy of every metric. */
  snapshot(): ReplicaMetricValues {
    return structuredClone(this.values)
  }

  on(listener: (detail: MetricEvents['metric']) => void): () => void {
    return this.emitter.on('metric', listener)
  }
}
