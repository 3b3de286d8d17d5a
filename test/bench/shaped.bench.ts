// Benchmark of the replica over a shaped network (issue #17 item 3): every link goes through the
// network shaper of `test/support` (a TCP proxy with delay, jitter, loss and bandwidth per
// direction), so the figures say what a user on a real network sees, not loopback:
//  1. `shaped_repair_get_ratio_20ms`: a read with repair 'sync' of a key one peer has (the reader
//     heard its gossip hint) against one raw pull of the same bytes on a reused stream, both over
//     a 20 ms RTT link, p50 of interleaved samples (target: ratio <= 1.05);
//  2. `shaped_visible_p99_ms`: from a `put` at one peer to `subscribe` firing at another, both
//     connected only to a relay-configured peer running a replica, each over a 20 ms RTT link
//     (target: p99 <= 2 RTT + 30 ms = 70 ms); beside it the same writes through unshaped proxies
//     in the same run (`shaped_visible_unshaped_p99_ms`);
//  3. `shaped_rejoin_floor_ratio`: a device back after editing offline: 10,000 keys written on
//     each side while neither hands off nor reconciles, then `sync()` over a 50 ms RTT, 10 Mbit/s
//     link until both hold the same states, against the floor of that transfer: every byte that
//     crossed the link (counted by the shaper, both directions) / bandwidth + reconciliation
//     rounds x RTT (target: ratio <= 1.3); beside it `shaped_rejoin_unshaped_s`, the same sync
//     through an unshaped proxy in the same run (the engine's own time: decode, join, durable
//     writes of every received state).
//
//   pnpm bench:shaped [--json] [--runs N] [--quick] [--dir <path>]
//
// Runs on the built packages (`tsc -b` first); every peer and the shaper live in this process on
// 127.0.0.1, on file storage under `--dir` (default: the OS temp directory). Each figure is the
// median over `--runs` runs of that run's statistic; the JSON schema is the one of every bench.
import { tmpdir } from 'node:os'
import { type FigureInput, reportIgnored, startBench } from '@mendsync/bench'
import type { Libp2pNetwork } from '@mendsync/libp2p'
import {
  type ShapingProxy,
  startShapingProxy,
  symmetricLink,
  tcpPortOf,
  throughProxy,
} from '../support/index.ts'
import {
  acrossRuns,
  addressOf,
  closePeers,
  Directories,
  FAST_GOSSIP,
  figure,
  heardLatest,
  idle,
  knows,
  median,
  openPeer,
  type Peer,
  PULL_ONLY,
  percentile,
  rawHandlers,
  registerValue,
  SPACE,
  startNetwork,
  summariesEqual,
  waitFor,
} from './replica/support.ts'

const bench = startBench({
  name: 'shaped',
  defaultRuns: 3,
  quickRuns: 1,
  options: { dir: { type: 'string', default: tmpdir() } },
})
const QUICK = bench.flags.quick
const RUNS = bench.flags.runs
const SIZES = QUICK
  ? { repairReads: 10, writes: 20, rejoinKeys: 1_000 }
  : { repairReads: 40, writes: 60, rejoinKeys: 10_000 }
const VALUE_BYTES = 100
const WARMUP = QUICK ? 3 : 5
/** The round trip of figures 1 and 2, and of figure 3. */
const RTT_MS = 20
const REJOIN_RTT_MS = 50
const REJOIN_BITS_PER_SECOND = 10_000_000
/** `sync()` calls before a rejoin that has not converged fails the bench. */
const SYNC_ATTEMPTS = 3
/** Between writes of figure 2 (an application's pace, below gossip's per-sender rate limit). */
const WRITE_GAP_MS = 50
/** Small jitter on every link: a real path is never exactly regular. */
const JITTER_MS = 1

const log = (message: string) => bench.log(message)

/** A shaping proxy in front of `network`'s listener, with `rttMs` round trip (and `bits`/s). */
async function shapedLinkTo(
  network: Libp2pNetwork,
  rttMs: number,
  bitsPerSecond?: number,
): Promise<{ proxy: ShapingProxy; address: string }> {
  const direct = addressOf(network)
  const proxy = await startShapingProxy({
    targetPort: tcpPortOf(direct),
    ...symmetricLink(rttMs, {
      jitterMs: JITTER_MS,
      ...(bitsPerSecond === undefined ? {} : { bitsPerSecond }),
    }),
  })
  return { proxy, address: throughProxy(direct, proxy.port) }
}

/** `from` dials `to` through a new shaped link; throws if it would have connected directly. */
async function dialShaped(
  from: Libp2pNetwork,
  to: Libp2pNetwork,
  rttMs: number,
  bitsPerSecond?: number,
): Promise<ShapingProxy> {
  const { proxy, address } = await shapedLinkTo(to, rttMs, bitsPerSecond)
  // The listener's own multiaddr object, re-encapsulated (this package does not depend on the
  // multiaddr library): `/ip4/127.0.0.1` + the shaped rest.
  const listening = to.node.getMultiaddrs()[0]
  if (listening === undefined) throw new Error('bench: the peer listens nowhere')
  const host = listening.decapsulate('/tcp')
  await from.node.dial(host.encapsulate(address.slice(host.toString().length)))
  const remote = from.node.getConnections(to.node.peerId).map((c) => c.remoteAddr.toString())
  if (!remote.every((addr) => tcpPortOf(addr) === proxy.port))
    throw new Error(`bench: a connection bypasses the shaper: ${remote.join(', ')}`)
  return proxy
}

// ---- 1. a repairing read against a raw pull, 20 ms RTT --------------------------------------------

async function shapedRepair(dirs: Directories): Promise<FigureInput[]> {
  const reader = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  const writer = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  const server = await startNetwork()
  const client = await startNetwork()
  const proxies: ShapingProxy[] = []
  try {
    proxies.push(await dialShaped(reader.network, writer.network, RTT_MS))
    proxies.push(await dialShaped(client, server, RTT_MS))
    await waitFor('reader and writer to know each other', () => knows(reader, writer), [
      reader.replica,
      writer.replica,
    ])
    await writer.replica.put('probe', registerValue('probe', VALUE_BYTES))
    const [state] = await writer.storage.get('values', ['probe'])
    if (state === undefined) throw new Error('bench: the probe write is missing')
    await server.join(SPACE, rawHandlers(new Map([['state', state]])))
    const channel = await client.join(SPACE, rawHandlers(new Map()))
    await waitFor('the raw pull peer', () => channel.peers().includes(server.peerId))
    const repair: number[] = []
    const raw: number[] = []
    for (let i = 0; i < WARMUP + SIZES.repairReads * RUNS; i++) {
      const key = `one/${i}`
      const value = registerValue(key, VALUE_BYTES)
      await writer.replica.put(key, value)
      await waitFor('the writer gossip', () => heardLatest(reader, writer), [reader.replica])
      await reader.replica.settled()
      await idle(2)
      // Alternate which goes first, so neither always runs right after the gossip.
      const measure = async (which: 'repair' | 'raw'): Promise<number> => {
        const started = performance.now()
        if (which === 'repair') {
          const read = await reader.replica.get(key, { repair: 'sync' })
          if (read.value !== value || !read.repair.repaired)
            throw new Error(`bench: the repair failed: ${JSON.stringify(read.repair)}`)
        } else {
          const pulled = await channel.pull(server.peerId, ['state'], 'state')
          if (pulled.mode !== 'state' || pulled.states[0]?.byteLength !== state.byteLength)
            throw new Error('bench: wrong raw pull')
        }
        return performance.now() - started
      }
      const order = i % 2 === 0 ? (['repair', 'raw'] as const) : (['raw', 'repair'] as const)
      const times: Record<string, number> = {}
      for (const which of order) {
        times[which] = await measure(which)
        await idle(2)
      }
      if (i >= WARMUP) {
        repair.push(times.repair!)
        raw.push(times.raw!)
      }
    }
    const runs = (list: number[]) =>
      Array.from({ length: RUNS }, (_, r) =>
        list.slice(r * SIZES.repairReads, (r + 1) * SIZES.repairReads),
      )
    return [
      figure(
        'shaped_repair_get_ratio_20ms',
        acrossRuns(runs(repair), 50),
        'ms',
        acrossRuns(runs(raw), 50),
        1.05,
      ),
      figure(
        'shaped_repair_get_p99_20ms',
        acrossRuns(runs(repair), 99),
        'ms',
        acrossRuns(runs(raw), 99),
      ),
      figure('shaped_raw_pull_p50_20ms', acrossRuns(runs(raw), 50), 'ms'),
    ]
  } finally {
    await closePeers([reader, writer])
    await client.close().catch(reportIgnored('closing the raw-pull client'))
    await server.close().catch(reportIgnored('closing the raw-pull server'))
    await Promise.all(proxies.map((proxy) => proxy.close()))
  }
}

// ---- 2. write -> visible through a relay, 20 ms RTT per link --------------------------------------

/** One run of figure 2; `rttMs` 0 runs it through unshaped proxies (the engine's own time). */
async function shapedVisibleRun(dirs: Directories, rttMs: number): Promise<number[]> {
  const relay = await openPeer(
    dirs.next(),
    await startNetwork({}, { relayServer: true, inboundConnectionThreshold: 100 }),
  )
  const writer = await openPeer(dirs.next(), await startNetwork())
  const reader = await openPeer(dirs.next(), await startNetwork())
  const peers = [relay, writer, reader]
  const proxies: ShapingProxy[] = []
  try {
    proxies.push(await dialShaped(writer.network, relay.network, rttMs))
    proxies.push(await dialShaped(reader.network, relay.network, rttMs))
    await waitFor(
      'the peers and the relay to know each other',
      () => [writer, reader].every((peer) => knows(relay, peer) && knows(peer, relay)),
      peers.map((peer) => peer.replica),
      30_000,
    )
    const written = new Map<string, number>()
    const seen = new Map<string, number>()
    reader.replica.subscribe({ prefix: 'vis/' }, ({ key }) => {
      const at = written.get(key)
      if (at !== undefined && !seen.has(key)) seen.set(key, performance.now() - at)
    })
    const write = async (key: string, timeoutMs: number): Promise<number | undefined> => {
      written.set(key, performance.now())
      await writer.replica.put(key, registerValue(key, VALUE_BYTES))
      await waitFor(`${key} at the reader`, () => seen.has(key), [], timeoutMs).catch(
        reportIgnored(`waiting for ${key} at the reader`),
      )
      await idle(WRITE_GAP_MS)
      return seen.get(key)
    }
    // Warm up until writes arrive (mesh formed, replica ids known).
    for (let attempt = 0, complete = 0; complete < 3; attempt++) {
      if ((await write(`vis/warm/${attempt}`, 2_000)) !== undefined) complete++
      if (attempt > 100) throw new Error('bench: the relay never delivered')
    }
    const latencies: number[] = []
    for (let i = 0; i < SIZES.writes; i++) {
      const latency = await write(`vis/${i}`, 5_000)
      // A write that never arrived counts as the timeout: p99 must not hide it.
      latencies.push(latency ?? 5_000)
    }
    if (writer.network.node.getConnections(reader.network.node.peerId).length > 0)
      throw new Error('bench: the writer connected to the reader directly')
    return latencies
  } finally {
    await closePeers(peers)
    await Promise.all(proxies.map((proxy) => proxy.close()))
  }
}

async function shapedVisible(dirs: Directories): Promise<FigureInput[]> {
  const runs: number[][] = []
  const unshaped: number[][] = []
  for (let run = 0; run < RUNS; run++) {
    unshaped.push(await shapedVisibleRun(dirs, 0))
    runs.push(await shapedVisibleRun(dirs, RTT_MS))
    log(
      `  visible run ${run + 1}/${RUNS}: p50 ${percentile(runs.at(-1)!, 50).toFixed(1)} ms, p99 ${percentile(runs.at(-1)!, 99).toFixed(1)} ms`,
    )
  }
  return [
    figure('shaped_visible_p99_ms', acrossRuns(runs, 99), 'ms', null, 2 * RTT_MS + 30),
    figure('shaped_visible_p50_ms', acrossRuns(runs, 50), 'ms'),
    // The same writes through unshaped proxies, in the same run: the engine's and gossip's share.
    figure('shaped_visible_unshaped_p99_ms', acrossRuns(unshaped, 99), 'ms'),
    figure('shaped_visible_unshaped_p50_ms', acrossRuns(unshaped, 50), 'ms'),
  ]
}

// ---- 3. a device back after editing offline, 50 ms RTT, 10 Mbit/s ----------------------------------

interface RejoinRun {
  readonly seconds: number
  readonly floorSeconds: number
  readonly bytes: number
  readonly rounds: number
}

/** One rejoin; `shaped: false` runs it through an unshaped proxy (the engine's own time). */
async function rejoinRun(dirs: Directories, shaped: boolean): Promise<RejoinRun> {
  const home = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  const device = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  let proxy: ShapingProxy | undefined
  try {
    proxy = shaped
      ? await dialShaped(device.network, home.network, REJOIN_RTT_MS, REJOIN_BITS_PER_SECOND)
      : await dialShaped(device.network, home.network, 0)
    await waitFor('both to know each other', () => knows(home, device) && knows(device, home), [
      home.replica,
      device.replica,
    ])
    // Edits on both sides that nothing carries across (no handoff, no reconciliation).
    const writeAll = async (peer: Peer, prefix: string) => {
      for (let i = 0; i < SIZES.rejoinKeys; i++) {
        const key = `${prefix}/${String(i).padStart(6, '0')}`
        await peer.replica.put(key, registerValue(key, VALUE_BYTES))
      }
    }
    await Promise.all([writeAll(home, 'home'), writeAll(device, 'device')])
    await waitFor(
      'both to hear each other',
      () => heardLatest(home, device) && heardLatest(device, home),
      [home.replica, device.replica],
      120_000,
    )
    await Promise.all([home.replica.settled(), device.replica.settled()])
    await idle(REJOIN_RTT_MS * 4)
    const bytesBefore = proxy.bytes.up + proxy.bytes.down
    const rounds = () =>
      Math.max(home.replica.metrics().reconcile_rounds, device.replica.metrics().reconcile_rounds)
    const roundsBefore = rounds()
    const started = performance.now()
    const converged = () =>
      summariesEqual(home, device) && home.replica.status().keys === 2 * SIZES.rejoinKeys
    // A session that fails (a timeout on a loaded machine) is not retried by pull-only replicas:
    // sync again, a bounded number of times, and report the failures.
    const failures = () =>
      home.replica.metrics().reconcile_failures + device.replica.metrics().reconcile_failures
    const failuresBefore = failures()
    for (let attempt = 0; ; attempt++) {
      await device.replica.sync()
      const settled = waitFor('equal states', converged, [home.replica, device.replica], 30_000)
      if (
        await settled.then(
          () => true,
          () => attempt >= SYNC_ATTEMPTS - 1,
        )
      )
        break
      log(`  rejoin: not converged after sync ${attempt + 1}; syncing again`)
    }
    if (!converged()) throw new Error(`bench: no convergence after ${SYNC_ATTEMPTS} syncs`)
    const seconds = (performance.now() - started) / 1000
    if (failures() > failuresBefore)
      log(`  rejoin: ${failures() - failuresBefore} reconciliation(s) failed and were retried`)
    const bytes = proxy.bytes.up + proxy.bytes.down - bytesBefore
    const roundsTaken = rounds() - roundsBefore
    const floorSeconds = (bytes * 8) / REJOIN_BITS_PER_SECOND + (roundsTaken * REJOIN_RTT_MS) / 1000
    return { seconds, floorSeconds, bytes, rounds: roundsTaken }
  } finally {
    await closePeers([home, device])
    await proxy?.close()
  }
}

async function shapedRejoin(dirs: Directories): Promise<FigureInput[]> {
  const runs: RejoinRun[] = []
  const loopback: RejoinRun[] = []
  for (let run = 0; run < RUNS; run++) {
    // Alternating with the same sync on an unshaped link: what the engine itself takes (decode,
    // join, durable writes of every received state) under the same load.
    loopback.push(await rejoinRun(dirs, false))
    runs.push(await rejoinRun(dirs, true))
    log(
      `  rejoin run ${run + 1}/${RUNS}: ${JSON.stringify(runs.at(-1))}, unshaped ${loopback.at(-1)?.seconds.toFixed(2)} s`,
    )
  }
  const of = (pick: (run: RejoinRun) => number) => median(runs.map(pick))
  return [
    figure('shaped_rejoin_unshaped_s', median(loopback.map((r) => r.seconds)), 's'),
    figure(
      'shaped_rejoin_floor_ratio',
      of((r) => r.seconds),
      's',
      of((r) => r.floorSeconds),
      1.3,
    ),
    figure(
      'shaped_rejoin_bytes',
      of((r) => r.bytes),
      'B',
    ),
    figure(
      'shaped_rejoin_rounds',
      of((r) => r.rounds),
      'rounds',
    ),
    figure('shaped_rejoin_keys_each_side', SIZES.rejoinKeys, 'keys'),
  ]
}

// ---- main ----------------------------------------------------------------------------------------

const dirs = new Directories(bench.values.dir ?? tmpdir())
process.once('exit', () => dirs.remove())
const benchStarted = performance.now()
for (const [name, part] of [
  ['1. repairing read vs raw pull, 20 ms RTT', shapedRepair],
  ['2. write visible through a relay, 20 ms RTT per link', shapedVisible],
  ['3. rejoin after offline edits, 50 ms RTT, 10 Mbit/s', shapedRejoin],
] as const) {
  const started = performance.now()
  log(`${name}...`)
  for (const figure of await part(dirs)) bench.record(figure)
  log(`  ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
bench.finish(
  `shaped bench (shaped links on 127.0.0.1): median of ${RUNS} run(s)${QUICK ? ' (--quick)' : ''}, ` +
    `${((performance.now() - benchStarted) / 1000).toFixed(0)} s`,
)
// libp2p leaves timers behind after close; the figures are out.
process.exit(0)
