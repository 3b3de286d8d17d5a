// Prometheus metrics (prom-client, one registry per relay so several relays can share a
// process): every replica's counters, gauges and histograms labelled by space, the libp2p
// node's and the mendsync network's figures, the relay's refusals, and the process metrics of
// `collectDefaultMetrics`. Plus the HTTP server of `/metrics` and `/healthz`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Libp2pNetwork, spaceTopic } from '@mendsync/libp2p'
import type { Histogram, Replica, ReplicaMetricValues } from '@mendsync/replica'
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client'
import type { SpaceDirectoryStats } from './spaces/space-directory.js'

/** What a refusal was about: a space's protocol, or a circuit-relay reservation (space `*`). */
export type RefusedProtocol = 'pull' | 'push' | 'reconcile' | 'gossip' | 'relay'

export interface RelayMetricsSources {
  readonly peerId: string
  readonly version: string
  readonly replicas: ReadonlyMap<string, Replica>
  readonly network: Libp2pNetwork
  /** True when the node serves circuit-relay reservations. */
  readonly circuitRelay: boolean
  /** Whether a space refuses writes because its disk is full. */
  readonly degraded: (space: string) => boolean
  /** The counts of the private spaces served on demand; absent when the relay serves none. */
  readonly privateSpaces?: () => SpaceDirectoryStats
}

export interface RelayMetrics {
  readonly registry: Registry
  /** Counts one refusal. */
  refused(space: string, protocol: RefusedProtocol): void
}

const PREFIX = 'mendsync_'
/** Replica metrics that go up and down; every other number is a counter. */
const REPLICA_GAUGES = new Set<string>(['outbox_size', 'tombstones', 'gc_horizon_ms'])
const REPLICA_HELP: Partial<Record<keyof ReplicaMetricValues, string>> = {
  reads_total: 'Keys read (local reads; the relay serves peers, it rarely reads)',
  writes_total: 'Local writes',
  remote_changes_total: 'Keys changed by states received from peers (push, reconcile, repair)',
  repairs_initiated: 'Read repairs started',
  repairs_completed: 'Read repairs completed',
  repairs_failed: 'Read repairs failed',
  repair_retries: 'Read repair requests retried after a transient failure',
  inconsistencies_found: 'Keys found divergent by read repair',
  keys_repaired: 'Keys repaired by read repair',
  repair_latency_ms: 'Latency of read repairs',
  divergence_ms: 'From the first hint that a peer was ahead for a key to its repair',
  outbox_size: 'Changes queued for known peers (hinted handoff)',
  handoff_delivered: 'Changes delivered to peers by hinted handoff',
  handoff_overflows: 'Handoff outboxes that overflowed (the peer reconciles instead)',
  reconcile_sessions: 'Reconciliation sessions (initiated and served)',
  reconcile_failures: 'Reconciliation sessions that failed',
  reconcile_bytes: 'Bytes exchanged by reconciliations this replica initiated',
  reconcile_rounds: 'Rounds of reconciliations this replica initiated',
  breaker_state_changes: 'Circuit breaker state changes',
  gossip_sent: 'Gossip messages published',
  gossip_received: 'Gossip messages received',
  tombstones: 'Tombstones held (deleted keys whose causal context is still kept)',
  tombstones_collected: 'Tombstones collected (deleted keys forgotten once safe)',
  gc_horizon_ms: 'Tombstone collection horizon, ms (replicas silent for longer retire)',
  rejoins: 'Times the replica came back after the horizon and rejoined (the rejoin rule)',
}

/** `repairs_initiated` -> `mendsync_replica_repairs_initiated_total`; `_ms` histograms -> seconds. */
export function replicaMetricName(name: string, kind: 'counter' | 'gauge' | 'histogram'): string {
  const base = `${PREFIX}replica_${name}`
  if (kind === 'histogram') return base.replace(/_ms$/, '_seconds')
  if (kind === 'counter' && !base.endsWith('_total')) return `${base}_total`
  return base
}

/** Builds the registry; values are read from the sources at every scrape. */
export function createRelayMetrics(sources: RelayMetricsSources): RelayMetrics {
  const registry = new Registry()
  const registers = [registry]
  collectDefaultMetrics({ register: registry })
  const spaces = [...sources.replicas.keys()]

  // One snapshot of every replica per scrape (metrics() copies its histograms).
  let cached: { at: number; values: Map<string, ReplicaMetricValues> } | null = null
  const snapshots = (): Map<string, ReplicaMetricValues> => {
    const now = Date.now()
    if (cached === null || now - cached.at > 100) {
      const values = new Map<string, ReplicaMetricValues>()
      for (const [space, replica] of sources.replicas) values.set(space, replica.metrics())
      cached = { at: now, values }
    }
    return cached.values
  }

  const first = sources.replicas.values().next().value
  const names = first === undefined ? [] : Object.keys(first.metrics())
  for (const name of names as (keyof ReplicaMetricValues)[]) {
    const sample = first?.metrics()[name]
    const help = REPLICA_HELP[name] ?? `Replica metric ${name}`
    if (typeof sample === 'object') {
      registry.registerMetric(
        histogramFromSnapshots(replicaMetricName(name, 'histogram'), `${help} (seconds)`, () =>
          [...snapshots()].map(([space, values]) => ({
            labels: { space },
            histogram: values[name] as Histogram,
          })),
        ),
      )
      continue
    }
    const kind = REPLICA_GAUGES.has(name) ? 'gauge' : 'counter'
    const metricName = replicaMetricName(name, kind)
    if (kind === 'gauge') {
      new Gauge({
        name: metricName,
        help,
        labelNames: ['space'],
        registers,
        collect() {
          for (const [space, values] of snapshots()) this.set({ space }, values[name] as number)
        },
      })
    } else {
      new Counter({
        name: metricName,
        help,
        labelNames: ['space'],
        registers,
        collect() {
          this.reset()
          for (const [space, values] of snapshots())
            this.inc({ space }, Math.max(0, values[name] as number))
        },
      })
    }
  }

  const perSpace = (name: string, help: string, read: (replica: Replica) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['space'],
      registers,
      collect() {
        for (const [space, replica] of sources.replicas) this.set({ space }, read(replica))
      },
    })
  }
  perSpace(`${PREFIX}replica_keys`, 'Keys held', (replica) => replica.status().keys)
  perSpace(
    `${PREFIX}replica_peers`,
    'Connected peers of the space',
    (replica) => replica.status().peers.length,
  )
  perSpace(
    `${PREFIX}replica_reconciling`,
    'Reconciliations this replica is running',
    (replica) => replica.status().reconciling.length,
  )

  const { network } = sources
  const node = network.node
  new Gauge({
    name: `${PREFIX}libp2p_connections`,
    help: 'Open libp2p connections',
    labelNames: ['direction'],
    registers,
    collect() {
      let inbound = 0
      let outbound = 0
      for (const connection of node.getConnections()) {
        if (connection.direction === 'inbound') inbound += 1
        else outbound += 1
      }
      this.set({ direction: 'inbound' }, inbound)
      this.set({ direction: 'outbound' }, outbound)
    },
  })
  new Gauge({
    name: `${PREFIX}libp2p_peers`,
    help: 'Connected peers',
    registers,
    collect() {
      this.set(node.getPeers().length)
    },
  })
  new Gauge({
    name: `${PREFIX}libp2p_streams`,
    help: 'Open streams over all connections',
    registers,
    collect() {
      let streams = 0
      for (const connection of node.getConnections()) streams += connection.streams.length
      this.set(streams)
    },
  })
  new Gauge({
    name: `${PREFIX}libp2p_topic_peers`,
    help: 'Peers subscribed to the gossip topic of the space',
    labelNames: ['space'],
    registers,
    collect() {
      for (const space of spaces) {
        this.set({ space }, node.services.pubsub.getSubscribers(spaceTopic(space)).length)
      }
    },
  })
  new Counter({
    name: `${PREFIX}libp2p_gossip_messages_total`,
    help: 'Gossip messages validated, by verdict',
    labelNames: ['verdict'],
    registers,
    collect() {
      const stats = network.stats()
      this.reset()
      this.inc({ verdict: 'accepted' }, stats.gossipAccepted)
      this.inc({ verdict: 'rejected' }, stats.gossipRejected)
      this.inc({ verdict: 'ignored' }, stats.gossipIgnored)
    },
  })
  new Gauge({
    name: `${PREFIX}libp2p_inbound_streams`,
    help: 'Inbound mendsync protocol streams open (pull, push, reconcile)',
    registers,
    collect() {
      this.set(network.stats().inboundStreams)
    },
  })
  if (sources.circuitRelay) {
    new Gauge({
      name: `${PREFIX}libp2p_relay_reservations`,
      help: 'Circuit-relay-v2 reservations held',
      registers,
      collect() {
        const relay = (node.services as Record<string, unknown>).relay as
          | { reservations?: { size?: number } }
          | undefined
        this.set(relay?.reservations?.size ?? 0)
      },
    })
  }

  const refusals = new Counter({
    name: `${PREFIX}relay_refusals_total`,
    help: 'Requests, gossip messages and relay reservations refused by an allowlist',
    labelNames: ['space', 'protocol'],
    registers,
  })
  for (const space of spaces) {
    for (const protocol of ['pull', 'push', 'reconcile', 'gossip'] as const) {
      refusals.inc({ space, protocol }, 0)
    }
  }
  if (sources.circuitRelay) refusals.inc({ space: '*', protocol: 'relay' }, 0)
  new Gauge({
    name: `${PREFIX}relay_storage_degraded`,
    help: '1 while the space refuses writes because its disk is full (reads are served), else 0',
    labelNames: ['space'],
    registers,
    collect() {
      for (const space of spaces) this.set({ space }, sources.degraded(space) ? 1 : 0)
    },
  })
  if (sources.privateSpaces !== undefined)
    registerPrivateSpaceMetrics(registers, sources.privateSpaces)
  new Gauge({
    name: `${PREFIX}relay_info`,
    help: 'Always 1; the relay peer id and version as labels',
    labelNames: ['peer_id', 'version'],
    registers,
    collect() {
      this.set({ peer_id: sources.peerId, version: sources.version }, 1)
    },
  })

  return {
    registry,
    refused(space, protocol) {
      refusals.inc({ space, protocol })
    },
  }
}

/**
 * The private spaces served on demand, as totals: one label per space would grow the scrape
 * with every space a peer opens (and name every space to whoever reads the metrics).
 */
function registerPrivateSpaceMetrics(
  registers: Registry[],
  stats: () => SpaceDirectoryStats,
): void {
  new Gauge({
    name: `${PREFIX}relay_private_spaces_open`,
    help: 'Private spaces open now (being opened included)',
    registers,
    collect() {
      this.set(stats().open)
    },
  })
  new Gauge({
    name: `${PREFIX}relay_private_spaces_stored`,
    help: 'Private spaces stored in the data directory',
    registers,
    collect() {
      this.set(stats().stored)
    },
  })
  new Counter({
    name: `${PREFIX}relay_private_spaces_opened_total`,
    help: 'Private spaces opened on demand',
    registers,
    collect() {
      this.reset()
      this.inc(stats().opened)
    },
  })
  new Counter({
    name: `${PREFIX}relay_private_spaces_closed_total`,
    help: 'Private spaces closed, by reason (idle, evicted to make room, shutdown)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(stats().closed)) this.inc({ reason }, count)
    },
  })
  new Counter({
    name: `${PREFIX}relay_private_space_refusals_total`,
    help: 'Requests to open a private space refused, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(stats().refused)) this.inc({ reason }, count)
    },
  })
  new Counter({
    name: `${PREFIX}relay_quota_refusals_total`,
    help: 'Writes to private spaces refused by a quota (QUOTA_EXCEEDED to the writer)',
    registers,
    collect() {
      this.reset()
      this.inc(stats().quotaRefusals)
    },
  })
}

interface LabelledHistogram {
  readonly labels: Record<string, string>
  readonly histogram: Histogram
}

/**
 * A Prometheus histogram whose buckets come from the replicas' own fixed-bucket histograms (ms,
 * per-bucket counts) at scrape time, exported cumulatively in seconds.
 */
function histogramFromSnapshots(
  name: string,
  help: string,
  read: () => LabelledHistogram[],
): Metric {
  const get = async () => {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] =
      []
    for (const { labels, histogram } of read()) {
      let cumulative = 0
      histogram.buckets.forEach((bound, i) => {
        cumulative += histogram.counts[i] ?? 0
        values.push({
          metricName: `${name}_bucket`,
          labels: { ...labels, le: bound / 1000 },
          value: cumulative,
        })
      })
      values.push({
        metricName: `${name}_bucket`,
        labels: { ...labels, le: '+Inf' },
        value: histogram.count,
      })
      values.push({ metricName: `${name}_sum`, labels, value: histogram.sum / 1000 })
      values.push({ metricName: `${name}_count`, labels, value: histogram.count })
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values }
  }
  return { name, help, type: 'histogram', aggregator: 'sum', get } as unknown as Metric
}

/** The answer of `/healthz`. */
export interface Health {
  readonly ok: boolean
  readonly body: Record<string, unknown>
}

export interface MetricsServer {
  readonly url: string
  readonly healthUrl: string
  close(): Promise<void>
}

/** Serves `/metrics` and `/healthz` on `host:port` (port 0: a free one). */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  health: () => Health,
): Promise<MetricsServer> {
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': registry.contentType }).end(text)
        },
        (error: unknown) => {
          response
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics failed: ${(error as Error)?.message}\n`)
        },
      )
      return
    }
    if (path === '/healthz') {
      const { ok, body } = health()
      response
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(body)}\n`)
      return
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /healthz\n')
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address
  const base = `http://${shown}:${address.port}`
  return {
    url: `${base}/metrics`,
    healthUrl: `${base}/healthz`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
