// Network benchmark (`pnpm bench:net`, `--json` for one JSON line per figure):
//  - pull round-trip latency, p50/p99, for 100 B and 10 KB values, on the reused stream and on a
//    new stream per request, interleaved in the same run (target: reused p50 <= 0.35x new p50);
//  - gossip delivery latency, p50/p99, from one peer to 10 peers through one relay-configured
//    Node peer (every peer is connected to the relay only).
// Runs on the built packages (`tsc -b` first); all peers live in this process on 127.0.0.1.

import { markdownTable, percentile } from '@mendsync/bench'
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
import { rawHandlers } from '../../../test/support/raw-handlers.ts'

const json = process.argv.includes('--json')
const PULLS = Number(process.env.BENCH_PULLS ?? 400)
const GOSSIPS = Number(process.env.BENCH_GOSSIPS ?? 100)
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

interface Figure {
  figure: string
  value: number
  unit: string
  baseline: number | null
  ratio: number | null
  target: number | null
}

async function pullBench(): Promise<Figure[]> {
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
    for (let i = 0; i < PULLS + 50; i++) {
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
          if (i >= 50) {
            const list = samples[`${mode}/${key}`] ?? []
            list.push(elapsed)
            samples[`${mode}/${key}`] = list
          }
        }
      }
    }
    const figures: Figure[] = []
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
          ratio: p50 / baselineP50,
          target: TARGET_RATIO,
        },
        {
          figure: `pull_rtt_p99_reused_stream_${size}`,
          value: p99,
          unit: 'ms',
          baseline: baselineP99,
          ratio: p99 / baselineP99,
          target: null,
        },
        {
          figure: `pull_rtt_p50_new_stream_${size}`,
          value: baselineP50,
          unit: 'ms',
          baseline: null,
          ratio: null,
          target: null,
        },
        {
          figure: `pull_rtt_p99_new_stream_${size}`,
          value: baselineP99,
          unit: 'ms',
          baseline: null,
          ratio: null,
          target: null,
        },
      )
    }
    return figures
  } finally {
    await Promise.all([server.close(), reused.close(), fresh.close()])
  }
}

async function gossipBench(): Promise<Figure[]> {
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
    await until('deliveries', () => latencies.length >= GOSSIPS * SUBSCRIBERS, 10_000).catch(
      () => {},
    )
    const delivered = latencies.length / (GOSSIPS * SUBSCRIBERS)
    return [
      {
        figure: 'gossip_delivery_p50_1_to_10_via_relay',
        value: percentile(latencies, 50),
        unit: 'ms',
        baseline: null,
        ratio: null,
        target: null,
      },
      {
        figure: 'gossip_delivery_p99_1_to_10_via_relay',
        value: percentile(latencies, 99),
        unit: 'ms',
        baseline: null,
        ratio: null,
        target: null,
      },
      {
        figure: 'gossip_delivered_fraction',
        value: delivered,
        unit: 'ratio',
        baseline: null,
        ratio: null,
        target: null,
      },
    ]
  } finally {
    await Promise.all(everyone.map((network) => network.close()))
  }
}

const pulls = await pullBench()
const figures = [...pulls, ...(await gossipBench())]
if (json) {
  for (const figure of figures) console.log(JSON.stringify({ bench: 'net', ...figure }))
} else {
  const round = (value: number | null) => (value === null ? '' : value.toFixed(3))
  console.log(
    `net bench: ${PULLS} pulls per case, ${GOSSIPS} gossip messages to ${SUBSCRIBERS} peers`,
  )
  console.log(
    markdownTable(
      ['figure', 'value', 'unit', 'baseline', 'ratio', 'target'],
      figures.map((figure) => [
        figure.figure,
        round(figure.value),
        figure.unit,
        round(figure.baseline),
        round(figure.ratio),
        figure.target === null ? '' : `<= ${figure.target}`,
      ]),
    ),
  )
}
process.exit(0)
