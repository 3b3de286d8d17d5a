// Network benchmark (`pnpm bench:net [--json] [--quick] [--pulls N] [--gossips N]`):
//  - pull round-trip latency, p50/p99, for 100 B and 10 KB values, on the reused stream and on a
//    new stream per request, interleaved in the same run (target: reused p50 <= 0.35x new p50);
//  - gossip delivery latency, p50/p99, from one peer to 10 peers through one relay-configured
//    Node peer (every peer is connected to the relay only).
// Runs on the built packages (`tsc -b` first); all peers live in this process on 127.0.0.1.
// `--pulls` (default 400, 40 with --quick) measured pulls per case, `--gossips` (default 100, 20
// with --quick) gossip messages. Each figure is one statistic over all samples of the run
// (`--runs` is not used).

import { type FigureInput, percentile, startBench } from '@mendsync/bench'
import { rawHandlers } from '@mendsync/bench/raw-handlers'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  type NodeLibp2pOptions,
} from '@mendsync/libp2p'
import type { GossipMessage } from '@mendsync/replica/adapter'
import { multiaddr } from '@multiformats/multiaddr'

const bench = startBench({
  name: 'net',
  options: { pulls: { type: 'string' }, gossips: { type: 'string' } },
})

function positive(name: string, raw: string | undefined, fallback: number): number {
  const value = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1`)
  return value
}

const PULLS = positive('pulls', bench.values.pulls, bench.flags.quick ? 40 : 400)
const GOSSIPS = positive('gossips', bench.values.gossips, bench.flags.quick ? 20 : 100)
const WARMUP_PULLS = bench.flags.quick ? 10 : 50
const SUBSCRIBERS = 10
const TARGET_RATIO = 0.35

async function start(
  options: Libp2pNetworkOptions = {},
  node: Partial<NodeLibp2pOptions> = {},
): Promise<Libp2pNetwork> {
  const libp2p = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    ...node,
  })
  return await createLibp2pNetwork(libp2p, { stopNodeOnClose: true, ...options })
}

async function connect(from: Libp2pNetwork, to: Libp2pNetwork): Promise<void> {
  await from.node.dial(multiaddr(to.node.getMultiaddrs()[0]!.toString()))
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function pullBench(): Promise<FigureInput[]> {
  const values = new Map([
    ['small', new Uint8Array(100).fill(1)],
    ['large', new Uint8Array(10 * 1024).fill(2)],
  ])
  const server = await start()
  const reused = await start()
  const fresh = await start({ reuseStreams: false })
  try {
    await server.join('bench', rawHandlers(values))
    const reusedChannel = await reused.join('bench', rawHandlers(new Map()))
    const freshChannel = await fresh.join('bench', rawHandlers(new Map()))
    await connect(reused, server)
    await connect(fresh, server)
    await until(
      'peers',
      () =>
        reusedChannel.peers().includes(server.peerId) &&
        freshChannel.peers().includes(server.peerId),
    )
    const samples: Record<string, number[]> = {}
    const cases = [
      ['reused', reusedChannel],
      ['new', freshChannel],
    ] as const
    for (let i = 0; i < PULLS + WARMUP_PULLS; i++) {
      // Interleaved, so both modes see the same machine noise.
      for (const key of ['small', 'large'] as const) {
        for (const [mode, channel] of cases) {
          // Let the previous call's stream teardown finish, so each measurement starts idle.
          await new Promise((resolve) => setTimeout(resolve, 2))
          const started = performance.now()
          const result = await channel.pull(server.peerId, [key], 'state')
          const elapsed = performance.now() - started
          if (
            result.mode !== 'state' ||
            result.states[0]?.byteLength !== values.get(key)!.byteLength
          ) {
            throw new Error('bench: wrong pull result')
          }
          if (i >= WARMUP_PULLS) {
            const list = samples[`${mode}/${key}`] ?? []
            list.push(elapsed)
            samples[`${mode}/${key}`] = list
          }
        }
      }
    }
    const figures: FigureInput[] = []
    for (const key of ['small', 'large'] as const) {
      const size = key === 'small' ? '100B' : '10KB'
      const baselineP50 = percentile(samples[`new/${key}`]!, 50)
      const baselineP99 = percentile(samples[`new/${key}`]!, 99)
      const p50 = percentile(samples[`reused/${key}`]!, 50)
      const p99 = percentile(samples[`reused/${key}`]!, 99)
      figures.push(
        {
          figure: `pull_rtt_p50_reused_stream_${size}`,
          value: p50,
          unit: 'ms',
          baseline: baselineP50,
          target: TARGET_RATIO,
          note: 'baseline: a new stream per pull',
        },
        {
          figure: `pull_rtt_p99_reused_stream_${size}`,
          value: p99,
          unit: 'ms',
          baseline: baselineP99,
        },
        {
          figure: `pull_rtt_p50_new_stream_${size}`,
          value: baselineP50,
          unit: 'ms',
        },
        {
          figure: `pull_rtt_p99_new_stream_${size}`,
          value: baselineP99,
          unit: 'ms',
        },
      )
    }
    return figures
  } finally {
    await Promise.all([server.close(), reused.close(), fresh.close()])
  }
}

async function gossipBench(): Promise<FigureInput[]> {
  const fast = { gossipRatePerSecond: 10_000, gossipBurst: 10_000 }
  const relay = await start(fast, { relayServer: true, inboundConnectionThreshold: 100 })
  const publisher = await start(fast)
  const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => start(fast)))
  const everyone = [relay, publisher, ...subscribers]
  try {
    const sent = new Map<number, number>()
    const latencies: number[] = []
    const received = new Map<number, number>()
    await relay.join('bench', rawHandlers(new Map()))
    const channel = await publisher.join('bench', rawHandlers(new Map()))
    for (const subscriber of subscribers) {
      const joined = await subscriber.join('bench', rawHandlers(new Map()))
      joined.on('gossip', ({ message }) => {
        const seq = message.versionVector.get('publisher') ?? -1
        const at = sent.get(seq)
        if (at === undefined) return
        received.set(seq, (received.get(seq) ?? 0) + 1)
        if (seq > 0) latencies.push(performance.now() - at)
      })
    }
    for (const peer of [publisher, ...subscribers]) await connect(peer, relay)
    const message = (seq: number): GossipMessage => ({
      replicaId: 'publisher',
      versionVector: new Map([['publisher', seq]]),
      summary: new Uint8Array(24),
      hints: [{ key: `key-${seq}`, dots: [{ replica: 'publisher', counter: seq }] }],
    })
    // Warm up until the relay's mesh carries a message to all 10 subscribers.
    const deadline = Date.now() + 30_000
    for (let attempt = 1; ; attempt++) {
      const seq = 1_000_000 + attempt
      sent.set(seq, performance.now())
      await channel.publish(message(seq))
      await new Promise((resolve) => setTimeout(resolve, 300))
      if (received.get(seq) === SUBSCRIBERS) break
      if (Date.now() > deadline) throw new Error('bench: the relay mesh never formed')
    }
    latencies.length = 0
    for (let seq = 1; seq <= GOSSIPS; seq++) {
      sent.set(seq, performance.now())
      await channel.publish(message(seq))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    // A lost delivery is a result (gossip_delivered_fraction), not a failure of the bench.
    await until('deliveries', () => latencies.length >= GOSSIPS * SUBSCRIBERS, 10_000).catch(
      (error: unknown) => bench.log(`net bench: ${String(error)}; reporting what arrived`),
    )
    const delivered = latencies.length / (GOSSIPS * SUBSCRIBERS)
    return [
      {
        figure: 'gossip_delivery_p50_1_to_10_via_relay',
        value: percentile(latencies, 50),
        unit: 'ms',
      },
      {
        figure: 'gossip_delivery_p99_1_to_10_via_relay',
        value: percentile(latencies, 99),
        unit: 'ms',
      },
      {
        figure: 'gossip_delivered_fraction',
        value: delivered,
        unit: 'ratio',
      },
    ]
  } finally {
    await Promise.all(everyone.map((network) => network.close()))
  }
}

for (const figure of [...(await pullBench()), ...(await gossipBench())]) bench.record(figure)
bench.finish(
  `net bench: ${PULLS} pulls per case, ${GOSSIPS} gossip messages to ${SUBSCRIBERS} peers`,
)
process.exit(0)
