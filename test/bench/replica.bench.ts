// Benchmark of the replica engine (issue #6), each figure beside its baseline from the same run:
//  1. local `get` (repair 'none', a 100 B register value, file storage) vs the raw storage read
//     of the same key, per-call p50/p99, interleaved (target: p50 ratio <= 1.3);
//  2. `get` with repair 'sync' of a key written at 1 and at 3 peers over libp2p (the reader has
//     heard the writers' gossip hint; pull-only peers), p50/p99, vs one raw pull round trip on a
//     reused stream between two plain libp2p networks, same state size, interleaved (target:
//     p50 ratio <= 1.25); the 3-peer read against a raw pull of the same key from three raw
//     servers at once (target: p50 ratio <= 1.15). Every peer but the reader and the raw client runs in its own
//     OS process (`replica/remote-peer.ts`): peers are other machines, and the CPU a writer spends
//     serving a pull (its storage read, encoding, noise, yamux) is not the reader's to spend;
//     before each measured call every peer has settled (no write-back or join in flight);
//  3. a write at one peer until `subscribe` fires at each of 10 peers connected only to one
//     relay-configured Node peer that runs a replica too, p50/p99 over (reader, write) samples;
//  4. anti-entropy after a 10,000-key divergence between two replicas (5,000 keys written on each
//     side, no handoff): reconcile bytes and rounds (metrics of both sides) and the seconds from
//     `sync()` until both summaries are equal; the bytes beside the bytes of the states and keys
//     that had to cross (the minimum).
// Beside them, diagnostics with stable names too: where a local read's extra time goes (decode,
// view, the rest), where a repairing read's time goes (pull, push, durable storage writes, the
// engine outside I/O), and in figure 3 the readers' handoff outboxes and the reconciliation
// sessions during the writes.
//
//   pnpm bench:replica [--json] [--runs N] [--quick] [--dir <path>]
//   (= pnpm exec tsc -b && pnpm exec node test/bench/replica.bench.ts ...)
//
// Runs on the built packages (`tsc -b` first). Every peer listens on 127.0.0.1 and lives in this
// process except figure 2's writers and raw servers (forked with this Node, driven over IPC, closed
// or killed when the figure ends, on error and on SIGINT); every replica on its own file storage
// (node:sqlite, WAL, synchronous=FULL) under `--dir` (default: the OS temp directory). Each figure
// is the median over `--runs` runs of that run's statistic. `--json` prints one line per figure:
// {"bench":"replica","figure":...,"value":...,"unit":...,"baseline":...,"ratio":...,"target":...}
// Figure names are stable.
import { tmpdir } from 'node:os'
import { type FigureInput, reportIgnored, startBench } from '@mendsync/bench'
import { decodeValue, readRegister, valueKind } from '@mendsync/core'
import type { Libp2pNetwork } from '@mendsync/libp2p'
import { openReplica } from '@mendsync/replica'
import { openFileStorage } from '@mendsync/storage-file'
import { type RemotePeer, RemotePeers } from './replica/remote.ts'
import {
  acrossRuns,
  addressOf,
  closePeers,
  connect,
  Directories,
  FAST_GOSSIP,
  figure,
  heard,
  heardLatest,
  idle,
  knows,
  median,
  openPeer,
  type Peer,
  Probe,
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
  name: 'replica',
  defaultRuns: 3,
  quickRuns: 1,
  options: { dir: { type: 'string', default: tmpdir() } },
})
const QUICK = bench.flags.quick
const RUNS = bench.flags.runs
const SIZES = QUICK
  ? { localReads: 2_000, repairReads: 30, relayWrites: 20, divergedKeys: 1_000 }
  : { localReads: 20_000, repairReads: 100, relayWrites: 60, divergedKeys: 10_000 }
const LOCAL_KEYS = 1_000
const READERS = 10
const VALUE_BYTES = 100
const WARMUP = QUICK ? 5 : 20
/** Writes of figure 3 that must reach all 10 readers before its measured writes. */
const RELAY_WARMUP = 3
/** Idle before each measured call, so the previous step's background work has drained. */
const SETTLE_MS = 2
/** Between writes of figure 3 (an application's pace, below gossip's per-sender rate limit). */
const WRITE_GAP_MS = 50

/**
 * The parts of a repairing read's time the benchmark reports (see {@link Probe}); `engine` is the
 * time outside every storage and network call. Storage reads are not reported on their own: the
 * file storage reads synchronously, so a read's timed span would only measure whatever ran before
 * its continuation (e.g. the send of a concurrent pull).
 */
const BREAKDOWN = ['pull', 'push', 'storage-write', 'engine'] as const

const log = (message: string) => bench.log(message)

// ---- 1. local get vs raw storage read ----------------------------------------------------------

async function localGet(dirs: Directories): Promise<FigureInput[]> {
  const storage = await openFileStorage({ directory: dirs.next(), space: SPACE })
  const replica = await openReplica({ space: SPACE, storage, repair: 'none' })
  try {
    const key = (i: number) => `item/${String(i % LOCAL_KEYS).padStart(5, '0')}`
    for (let i = 0; i < LOCAL_KEYS; i++)
      await replica.put(key(i), registerValue(key(i), VALUE_BYTES))
    const engine: number[][] = []
    const raw: number[][] = []
    for (let run = -1; run < RUNS; run++) {
      const engineRun: number[] = []
      const rawRun: number[] = []
      const reads = run < 0 ? SIZES.localReads / 4 : SIZES.localReads // run -1 warms up
      for (let i = 0; i < reads; i++) {
        const k = key(i)
        // Alternate which goes first, so neither always runs on a warmer cache.
        for (const which of i % 2 === 0 ? ['engine', 'raw'] : ['raw', 'engine']) {
          const started = performance.now()
          if (which === 'engine') {
            const read = await replica.get(k, { repair: 'none' })
            engineRun.push(performance.now() - started)
            if (typeof read.value !== 'string') throw new Error('bench: wrong local read')
          } else {
            const [bytes] = await storage.get('values', [k])
            rawRun.push(performance.now() - started)
            if (bytes === undefined) throw new Error('bench: wrong raw read')
          }
        }
      }
      if (run >= 0) {
        engine.push(engineRun.map((ms) => ms * 1000))
        raw.push(rawRun.map((ms) => ms * 1000))
      }
    }
    // Where the difference goes: per-call means of batches (same keys, interleaved) of the raw
    // read, the engine's read, and the two steps the engine adds on top of the raw read: decoding
    // the stored state and building the view (what `viewOf` computes).
    const [stored] = await storage.get('values', [key(0)])
    if (stored === undefined) throw new Error('bench: the local key is missing')
    const decoded = decodeValue(stored)
    const batches = { raw: [] as number[], engine: [] as number[], decode: [] as number[] }
    const view: number[] = []
    const batch = async (run: (k: string) => unknown): Promise<number> => {
      const started = performance.now()
      for (let i = 0; i < SIZES.localReads; i++) await run(key(i))
      return ((performance.now() - started) * 1000) / SIZES.localReads
    }
    for (let run = -1; run < RUNS; run++) {
      const rawMean = await batch((k) => storage.get('values', [k]))
      const engineMean = await batch((k) => replica.get(k, { repair: 'none' }))
      const decodeMean = await batch(() => decodeValue(stored))
      const viewMean = await batch(() => [valueKind(decoded), readRegister(decoded, 'siblings')])
      if (run < 0) continue
      batches.raw.push(rawMean)
      batches.engine.push(engineMean)
      batches.decode.push(decodeMean)
      view.push(viewMean)
    }
    const rest = batches.engine.map(
      (mean, i) => mean - batches.raw[i]! - batches.decode[i]! - view[i]!,
    )
    return [
      figure('local_get_p50', acrossRuns(engine, 50), 'us', acrossRuns(raw, 50), 1.3),
      figure('local_get_p99', acrossRuns(engine, 99), 'us', acrossRuns(raw, 99)),
      figure('raw_storage_get_p50', acrossRuns(raw, 50), 'us'),
      figure('raw_storage_get_p99', acrossRuns(raw, 99), 'us'),
      figure('local_get_mean', median(batches.engine), 'us', median(batches.raw)),
      figure('local_get_breakdown_decode', median(batches.decode), 'us'),
      figure('local_get_breakdown_view', median(view), 'us'),
      figure('local_get_breakdown_other', median(rest), 'us'),
    ]
  } finally {
    await replica.close()
  }
}

// ---- 2. repairing get vs raw pull ----------------------------------------------------------------

async function repairGet(dirs: Directories): Promise<FigureInput[]> {
  const probe = new Probe()
  const remotes = new RemotePeers()
  const reader = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY, probe)
  let client: Libp2pNetwork | undefined
  try {
    // Every peer but the reader and the raw client in its own process. The writers dial the
    // reader; the client dials the raw servers.
    const readerAddress = addressOf(reader.network)
    const [writers, servers] = await Promise.all([
      Promise.all(
        [1, 2, 3].map((n) =>
          remotes.start(`writer ${n}`, {
            kind: 'replica',
            dir: dirs.next(),
            bootstrap: [readerAddress],
          }),
        ),
      ),
      Promise.all(
        [1, 2, 3].map((n) => remotes.start(`raw server ${n}`, { kind: 'raw', bootstrap: [] })),
      ),
    ])
    client = await startNetwork({}, { bootstrap: servers.map((raw) => raw.address) })
    return await remotes.watch(measureRepairGet(reader, probe, writers, servers, client))
  } finally {
    await closePeers([reader])
    await client?.close().catch(reportIgnored('closing the raw-pull client'))
    await remotes.close()
  }
}

/**
 * Figure 2 on its peers: `reader` (timed by `probe`) repairs from the `writers`; the raw `client`
 * pulls from `servers[0]` (the baseline), and from all three servers at once.
 */
async function measureRepairGet(
  reader: Peer,
  probe: Probe,
  writers: readonly RemotePeer[],
  servers: readonly RemotePeer[],
  client: Libp2pNetwork,
): Promise<FigureInput[]> {
  const [first] = writers as [RemotePeer, ...RemotePeer[]]
  const [server] = servers as [RemotePeer, ...RemotePeer[]]
  await waitFor(
    'the reader to know the writers',
    () => writers.every((writer) => knows(reader, writer)),
    [reader.replica],
  )
  await Promise.all(writers.map((writer) => writer.knows(reader.peerId, 20_000)))
  // The baseline serves the same bytes as the pulled state of a fresh key written at one peer.
  await first.put('probe', registerValue('probe', VALUE_BYTES))
  const state = await first.stored('probe')
  if (state === undefined) throw new Error('bench: the probe write is missing')
  await Promise.all(servers.map((raw) => raw.serve(state)))
  const channel = await client.join(SPACE, rawHandlers(new Map()))
  await waitFor('the raw pull peers', () =>
    servers.every((raw) => channel.peers().includes(raw.peerId)),
  )

  // Before each measured call: no peer has work in flight (the reader's write-back of the last
  // 3-peer repair has reached the writers, which joined it: their summaries moved past the put's),
  // the reader has heard every writer's latest summary (so the hint of the key to repair), then a
  // short idle. Every remote peer answered a request just before, so the repairing and the raw
  // pulls reach processes that have been idle for as long.
  const allHeard = () => writers.every((writer) => heard(reader, writer.peerId, writer.summary))
  const quiet = async () => {
    await reader.replica.settled()
    await Promise.all([...writers, ...servers].map((peer) => peer.settled()))
    await waitFor('the writers gossip', allHeard, [reader.replica])
    await idle(SETTLE_MS)
  }
  const samples = {
    one: [] as number[],
    three: [] as number[],
    raw: [] as number[],
    raw3: [] as number[],
  }
  // Per measured read: the time in flight in each kind of I/O call, and outside all of them.
  const breakdown = { one: new Map<string, number[]>(), three: new Map<string, number[]>() }
  const parts = (total: number): Map<string, number> => {
    probe.active = false
    const busy = new Map<string, number>(probe.busy)
    busy.set('engine', total - (probe.busy.get('all') ?? 0))
    busy.delete('all')
    probe.reset()
    return busy
  }
  const record = (into: Map<string, number[]>, measured: Map<string, number>) => {
    for (const kind of BREAKDOWN) {
      const list = into.get(kind) ?? []
      list.push(measured.get(kind) ?? 0)
      into.set(kind, list)
    }
  }
  const total = WARMUP + SIZES.repairReads * RUNS
  for (let i = 0; i < total; i++) {
    // One peer ahead: a fresh key written at one pull-only peer; its gossip hint reached us.
    const one = `one/${i}`
    const oneValue = registerValue(one, VALUE_BYTES)
    await first.put(one, oneValue)
    await quiet()
    let started = performance.now()
    probe.active = true
    const read1 = await reader.replica.get(one, { repair: 'sync' })
    const oneMs = performance.now() - started
    const oneParts = parts(oneMs)
    if (read1.value !== oneValue || !read1.repair.repaired)
      throw new Error(`bench: the 1-peer repair failed: ${JSON.stringify(read1.repair)}`)
    // Three peers ahead: the key written concurrently at all three (three siblings).
    const three = `three/${i}`
    await Promise.all(writers.map((w, n) => w.put(three, registerValue(`${three}/${n}`))))
    await quiet()
    started = performance.now()
    probe.active = true
    const read3 = await reader.replica.get(three, { repair: 'sync' })
    const threeMs = performance.now() - started
    const threeParts = parts(threeMs)
    if (read3.siblings.length !== 3 || read3.repair.unanswered.length > 0)
      throw new Error(`bench: the 3-peer repair failed: ${JSON.stringify(read3.repair)}`)
    // The baseline: one raw pull round trip of the same bytes on the reused stream.
    await quiet()
    started = performance.now()
    const pulled = await channel.pull(server.peerId, ['state'], 'state')
    const rawMs = performance.now() - started
    if (pulled.mode !== 'state' || pulled.states[0]?.byteLength !== state.byteLength)
      throw new Error('bench: wrong raw pull')
    await idle(SETTLE_MS)
    started = performance.now()
    await Promise.all(servers.map((raw) => channel.pull(raw.peerId, ['state'], 'state')))
    const raw3Ms = performance.now() - started
    if (i >= WARMUP) {
      samples.one.push(oneMs)
      samples.three.push(threeMs)
      samples.raw.push(rawMs)
      samples.raw3.push(raw3Ms)
      record(breakdown.one, oneParts)
      record(breakdown.three, threeParts)
    }
  }
  const runs = (list: number[]) =>
    Array.from({ length: RUNS }, (_, r) =>
      list.slice(r * SIZES.repairReads, (r + 1) * SIZES.repairReads),
    )
  const one = runs(samples.one)
  const three = runs(samples.three)
  const raw = runs(samples.raw)
  const raw3 = runs(samples.raw3)
  return [
    figure('repair_get_p50_1_peer', acrossRuns(one, 50), 'ms', acrossRuns(raw, 50), 1.25),
    figure('repair_get_p99_1_peer', acrossRuns(one, 99), 'ms', acrossRuns(raw, 99)),
    // Against what a 3-peer repair must do at the least: a raw pull of the key from all three.
    figure('repair_get_p50_3_peers', acrossRuns(three, 50), 'ms', acrossRuns(raw3, 50), 1.15),
    figure('repair_get_p99_3_peers', acrossRuns(three, 99), 'ms', acrossRuns(raw3, 99)),
    figure('raw_pull_p50_reused_stream', acrossRuns(raw, 50), 'ms'),
    figure('raw_pull_p99_reused_stream', acrossRuns(raw, 99), 'ms'),
    figure('raw_pull_p50_3_peers_at_once', acrossRuns(raw3, 50), 'ms'),
    figure('repair_state_bytes', state.byteLength, 'B'),
    ...(['one', 'three'] as const).flatMap((which) =>
      BREAKDOWN.map((kind) =>
        figure(
          `repair_get_${which === 'one' ? '1_peer' : '3_peers'}_breakdown_${kind.replace('-', '_')}_p50`,
          acrossRuns(runs(breakdown[which].get(kind) ?? []), 50),
          'ms',
        ),
      ),
    ),
  ]
}

// ---- 3. a write visible at 10 peers through a relay ----------------------------------------------

interface RelayRun {
  /** Per (reader, write): from the `put` call to the reader's `subscribe` firing, ms. */
  readonly latencies: number[]
  readonly delivered: number
  /** Largest handoff outbox (queued key x peer entries) of a reader after the writes. */
  readonly readerOutbox: number
  /** Reconciliation sessions during the measured writes (the relay's, so all of them). */
  readonly sessions: number
}

/** One run on a fresh topology: the relay's replica, a writer and 10 readers, all fresh. */
async function relayRun(dirs: Directories): Promise<RelayRun> {
  const relay = await openPeer(
    dirs.next(),
    await startNetwork({}, { relayServer: true, inboundConnectionThreshold: 100 }),
  )
  const writer = await openPeer(dirs.next(), await startNetwork())
  const readers: Peer[] = []
  for (let i = 0; i < READERS; i++) readers.push(await openPeer(dirs.next(), await startNetwork()))
  const peers = [relay, writer, ...readers]
  try {
    for (const peer of [writer, ...readers]) await connect(peer.network, relay.network)
    await waitFor(
      'every peer and the relay to know each other',
      () => [writer, ...readers].every((peer) => knows(relay, peer) && knows(peer, relay)),
      peers.map((peer) => peer.replica),
      30_000,
    )
    const written = new Map<string, number>()
    const seen = new Map<string, number[]>()
    for (const reader of readers) {
      reader.replica.subscribe({ prefix: 'vis/' }, ({ key }) => {
        const at = written.get(key)
        if (at === undefined) return
        const list = seen.get(key) ?? []
        list.push(performance.now() - at)
        seen.set(key, list)
      })
    }
    const write = async (key: string, timeoutMs: number): Promise<number[]> => {
      written.set(key, performance.now())
      await writer.replica.put(key, registerValue(key, VALUE_BYTES))
      const everywhere = () => seen.get(key)?.length === READERS
      // A reader the write never reached is a result (write_visible_fraction), not a failure.
      await waitFor(`${key} at ${READERS} peers`, everywhere, [], timeoutMs).catch(
        reportIgnored(`waiting for ${key} at ${READERS} peers`),
      )
      await idle(WRITE_GAP_MS)
      return seen.get(key) ?? []
    }
    // Warm up until writes reach all 10 readers (mesh formed, replica ids known by gossip).
    const deadline = Date.now() + 30_000
    for (let attempt = 0, complete = 0; complete < RELAY_WARMUP; attempt++) {
      if ((await write(`vis/warm/${attempt}`, 2_000)).length === READERS) complete++
      if (Date.now() > deadline) throw new Error('bench: the relay never delivered to every peer')
    }
    // Every session of this star has the relay at one end.
    const sessions = () => relay.replica.metrics().reconcile_sessions
    const sessionsBefore = sessions()
    const latencies: number[] = []
    for (let i = 0; i < SIZES.relayWrites; i++) latencies.push(...(await write(`vis/${i}`, 5_000)))
    return {
      latencies,
      delivered: latencies.length / (SIZES.relayWrites * READERS),
      readerOutbox: Math.max(...readers.map((reader) => reader.replica.status().outbox)),
      sessions: sessions() - sessionsBefore,
    }
  } finally {
    await closePeers(peers)
  }
}

async function relayVisibility(dirs: Directories): Promise<FigureInput[]> {
  const runs: RelayRun[] = []
  for (let run = 0; run < RUNS; run++) {
    const result = await relayRun(dirs)
    runs.push(result)
    const { latencies, ...rest } = result
    log(
      `  relay run ${run + 1}/${RUNS}: p50 ${percentile(latencies, 50).toFixed(1)} ms, ${JSON.stringify(rest)}`,
    )
  }
  const latencies = runs.map((run) => run.latencies)
  const of = (pick: (run: RelayRun) => number) => median(runs.map(pick))
  return [
    figure('write_visible_p50_1_to_10_via_relay', acrossRuns(latencies, 50), 'ms'),
    figure('write_visible_p99_1_to_10_via_relay', acrossRuns(latencies, 99), 'ms'),
    figure(
      'write_visible_fraction',
      of((run) => run.delivered),
      'ratio',
    ),
    figure(
      'write_visible_reader_outbox_max',
      of((run) => run.readerOutbox),
      'entries',
    ),
    figure(
      'write_visible_reconcile_sessions',
      of((run) => run.sessions),
      'sessions',
    ),
  ]
}

// ---- 4. anti-entropy after a partition -------------------------------------------------------------

interface AntiEntropyRun {
  readonly bytes: number
  readonly minimum: number
  readonly rounds: number
  readonly sessions: number
  readonly seconds: number
}

async function antiEntropyRun(dirs: Directories): Promise<AntiEntropyRun> {
  const a = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  const b = await openPeer(dirs.next(), await startNetwork(FAST_GOSSIP), PULL_ONLY)
  try {
    await connect(a.network, b.network)
    await waitFor('a and b to know each other', () => knows(a, b) && knows(b, a), [
      a.replica,
      b.replica,
    ])
    // Partitioned writes: half the keys on each side; no handoff, reconciliation held off.
    const half = SIZES.divergedKeys / 2
    const writeHalf = async (peer: Peer, prefix: string) => {
      for (let i = 0; i < half; i++) {
        const key = `${prefix}/${String(i).padStart(6, '0')}`
        await peer.replica.put(key, registerValue(key, VALUE_BYTES))
      }
    }
    await Promise.all([writeHalf(a, 'a'), writeHalf(b, 'b')])
    await waitFor('a and b to hear each other', () => heardLatest(a, b) && heardLatest(b, a), [
      a.replica,
      b.replica,
    ])
    const total = (name: 'reconcile_bytes' | 'reconcile_rounds' | 'reconcile_sessions') =>
      a.replica.metrics()[name] + b.replica.metrics()[name]
    const before = {
      bytes: total('reconcile_bytes'),
      rounds: total('reconcile_rounds'),
      sessions: total('reconcile_sessions'),
    }
    const started = performance.now()
    const synced = a.replica.sync()
    await waitFor(
      'equal summaries',
      () => summariesEqual(a, b) && a.replica.status().keys === SIZES.divergedKeys,
      [a.replica, b.replica],
      120_000,
    )
    const seconds = (performance.now() - started) / 1000
    await synced
    await Promise.all([a.replica.settled(), b.replica.settled()])
    // What had to cross at the least: every diverged key and its state, once.
    let minimum = 0
    let after: string | undefined
    const encoder = new TextEncoder()
    for (;;) {
      const page = await a.storage.scan({
        namespace: 'values',
        ...(after === undefined ? {} : { after }),
      })
      for (const entry of page.entries) {
        if (entry.key.startsWith('a/') || entry.key.startsWith('b/'))
          minimum += entry.value.byteLength + encoder.encode(entry.key).byteLength
      }
      if (page.cursor === undefined) break
      after = page.cursor
    }
    return {
      bytes: total('reconcile_bytes') - before.bytes,
      rounds: total('reconcile_rounds') - before.rounds,
      // Both ends of a session count it.
      sessions: (total('reconcile_sessions') - before.sessions) / 2,
      seconds,
      minimum,
    }
  } finally {
    await closePeers([a, b])
  }
}

async function antiEntropy(dirs: Directories): Promise<FigureInput[]> {
  const runs: AntiEntropyRun[] = []
  for (let run = 0; run < RUNS; run++) {
    runs.push(await antiEntropyRun(dirs))
    log(`  anti-entropy run ${run + 1}/${RUNS}: ${JSON.stringify(runs.at(-1))}`)
  }
  const of = (pick: (run: AntiEntropyRun) => number) => median(runs.map(pick))
  return [
    figure('anti_entropy_diverged_keys', SIZES.divergedKeys, 'keys'),
    figure(
      'anti_entropy_bytes',
      of((r) => r.bytes),
      'B',
      of((r) => r.minimum),
    ),
    figure(
      'anti_entropy_rounds',
      of((r) => r.rounds),
      'rounds',
    ),
    figure(
      'anti_entropy_sessions',
      of((r) => r.sessions),
      'sessions',
    ),
    figure(
      'anti_entropy_seconds',
      of((r) => r.seconds),
      's',
    ),
  ]
}

// ---- main ----------------------------------------------------------------------------------------

const dirs = new Directories(bench.values.dir ?? tmpdir())
// At any exit: the end, a failure, or SIGINT (figure 2 exits once its peer processes are killed).
process.once('exit', () => dirs.remove())
const benchStarted = performance.now()
for (const [name, part] of [
  ['1. local get vs raw storage read', localGet],
  ['2. repairing get vs raw pull', repairGet],
  ['3. write visible at 10 peers via a relay', relayVisibility],
  ['4. anti-entropy after a partition', antiEntropy],
] as const) {
  const started = performance.now()
  log(`${name}...`)
  for (const figure of await part(dirs)) bench.record(figure)
  log(`  ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
bench.finish(
  `replica bench: median of ${RUNS} run(s)${QUICK ? ' (--quick)' : ''}, ` +
    `${((performance.now() - benchStarted) / 1000).toFixed(0)} s`,
)
// libp2p leaves timers behind after close; the figures are out.
process.exit(0)
