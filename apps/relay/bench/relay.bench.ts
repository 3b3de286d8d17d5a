// Relay load benchmark: one relay (the built binary, its own process) and N simulated peers in
// worker processes (bench/peer-worker.ts), all on 127.0.0.1, in one space. Every peer writes its
// own key at a fixed rate for a bounded time; one observer peer per worker process records when
// each other peer's writes become visible to it. Reports sustained writes/s, write-to-visibility
// latency p50/p99, the relay's CPU and RSS over time (scraped from its /metrics), and lost
// writes (a peer's last write not visible at an observer after the drain; must be 0).
//
//   pnpm exec tsc -b && node apps/relay/bench/relay.bench.ts [--peers 200] [--rate 5]
//     [--seconds 60] [--workers 4] [--mode light|full] [--cpu-prof <dir>] [--json] [--quick]
//
// Target: 200 peers x 5 writes/s for 60 s with p99 < 250 ms. `--quick`: 10 peers x 5 writes/s
// for 5 s in 1 worker (explicit flags win). `--json` prints the harness's lines; the
// `relay_cpu_over_time` / `relay_rss_over_time` lines come one per second of the write phase, in
// order (the table shows their times). `--runs` is not used: one run is one long measurement.
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type FigureInput, percentile, startBench } from '@mendsync/bench'

const bench = startBench({
  name: 'relay',
  options: {
    peers: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    workers: { type: 'string' },
    'drain-seconds': { type: 'string' },
    mode: { type: 'string', default: 'light' },
    'cpu-prof': { type: 'string' },
  },
})
const flags = bench.values
const QUICK = bench.flags.quick
const PEERS = positive('peers', QUICK ? 10 : 200)
const RATE = positive('rate', 5)
const SECONDS = positive('seconds', QUICK ? 5 : 60)
const WORKERS = Math.min(positive('workers', QUICK ? 1 : 4), PEERS)
const DRAIN_SECONDS = positive('drain-seconds', QUICK ? 10 : 30)
const SPACE = 'bench'
const MODE = flags.mode === 'full' ? 'full' : 'light'
if (flags.mode !== MODE) throw new Error('--mode must be light or full')
const TARGET_P99_MS = 250

function positive(
  name: 'peers' | 'rate' | 'seconds' | 'workers' | 'drain-seconds',
  fallback: number,
): number {
  const raw = flags[name]
  const value = raw === undefined ? fallback : Number(raw)
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`)
  return value
}

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const WORKER = fileURLToPath(new URL('./peer-worker.ts', import.meta.url))
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`pnpm exec tsc -b\` first`)

const log = (line: string): void => bench.log(line)

interface Worker {
  readonly child: ChildProcess
  next(op: string): Promise<Record<string, unknown>>
  send(message: Record<string, unknown>): void
}

function startWorker(): Worker {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  const inbox: Record<string, unknown>[] = []
  const waiting: { op: string; resolve: (m: Record<string, unknown>) => void }[] = []
  const deliver = (): void => {
    for (const waiter of [...waiting]) {
      const index = inbox.findIndex((message) => message.op === waiter.op)
      if (index < 0) continue
      const [message] = inbox.splice(index, 1)
      waiting.splice(waiting.indexOf(waiter), 1)
      waiter.resolve(message as Record<string, unknown>)
    }
  }
  child.on('message', (message: Record<string, unknown>) => {
    if (message.op === 'error') {
      process.stderr.write(`worker failed: ${String(message.message)}\n`)
      process.exit(1)
    }
    inbox.push(message)
    deliver()
  })
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) {
      process.stderr.write(`a worker exited with ${code}\n`)
      process.exit(1)
    }
  })
  return {
    child,
    send: (message) => child.send(message),
    next: (op) =>
      new Promise((resolve) => {
        waiting.push({ op, resolve })
        deliver()
      }),
  }
}

interface Scrape {
  readonly at: number
  readonly cpuSeconds: number
  readonly rssBytes: number
  readonly keys: number
  readonly remoteChanges: number
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(url)).text()
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return {
    at: Date.now(),
    cpuSeconds: value('process_cpu_seconds_total'),
    rssBytes: value('process_resident_memory_bytes'),
    keys: value('mendsync_replica_keys'),
    remoteChanges: value('mendsync_replica_remote_changes_total'),
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mendsync-relay-bench-'))
  const profile = flags['cpu-prof']
  const relay = spawn(
    process.execPath,
    [
      ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
      CLI,
      '--log-format',
      'json',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--data-dir',
      dir,
      '--space',
      SPACE,
      '--inbound-connection-threshold',
      '100000',
      '--max-connections',
      String(PEERS + 100),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    relay.on('exit', (code) => reject(new Error(`the relay exited with ${code}`)))
    createInterface({ input: relay.stdout! }).on('line', (line) => {
      // The relay logs JSON lines; anything else on its stdout is not an event.
      if (!line.startsWith('{')) return
      const event = JSON.parse(line) as Record<string, unknown>
      if (event.msg === 'relay started') resolve(event)
    })
  })
  const children: ChildProcess[] = [relay]
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGKILL')
      process.exit(1)
    })
  }
  const address = (started.multiaddrs as string[])[0] as string
  const metricsUrl = String(started.metricsUrl)
  log(
    `relay ${started.peerId} at ${address}; ${PEERS} ${MODE} writers in ${WORKERS} processes` +
      (MODE === 'light' ? ` (+${WORKERS} observers)` : ''),
  )

  const workers = Array.from({ length: WORKERS }, () => startWorker())
  children.push(...workers.map((worker) => worker.child))
  const setupStart = Date.now()
  workers.forEach((worker, w) => {
    const writers: number[] = []
    for (let i = w; i < PEERS; i += WORKERS) writers.push(i + 1)
    worker.send({
      op: 'init',
      mode: MODE,
      relay: address,
      relayPeerId: started.peerId,
      space: SPACE,
      writers,
      rate: RATE,
      seconds: SECONDS,
    })
  })
  await Promise.all(workers.map((worker) => worker.next('ready')))
  log(`all peers connected in ${((Date.now() - setupStart) / 1000).toFixed(1)} s; writing`)

  const at = Date.now() + 500
  const samples: Scrape[] = []
  const sampler = setInterval(() => {
    scrape(metricsUrl).then(
      (sample) => {
        samples.push(sample)
        const previous = samples.at(-2)
        if (previous !== undefined && samples.length % 5 === 0) {
          const cpu = (sample.cpuSeconds - previous.cpuSeconds) / ((sample.at - previous.at) / 1000)
          log(
            `  t=${((sample.at - at) / 1000).toFixed(0)}s relay cpu ${(cpu * 100).toFixed(0)}% ` +
              `rss ${(sample.rssBytes / 2 ** 20).toFixed(0)} MiB, changes ${sample.remoteChanges}`,
          )
        }
      },
      () => {},
    )
  }, 1_000)
  samples.push(await scrape(metricsUrl))
  for (const worker of workers) worker.send({ op: 'start', at })
  const written = await Promise.all(workers.map((worker) => worker.next('written')))
  const writeEnd = Date.now()
  const finals = written.flatMap((message) => message.finals as [number, number][])
  const writes = finals.reduce((sum, [, seq]) => sum + seq, 0)
  const writeErrors = written.reduce((sum, message) => sum + Number(message.writeErrors), 0)
  log(`write phase over: ${writes} writes, ${writeErrors} failed; draining`)

  const deadline = Date.now() + DRAIN_SECONDS * 1000
  for (const worker of workers) worker.send({ op: 'drain', finals, deadline })
  const drained = await Promise.all(workers.map((worker) => worker.next('drained')))
  clearInterval(sampler)
  const end = await scrape(metricsUrl)
  samples.push(end)
  const latencies = drained.flatMap((message) => message.latencies as number[])
  const acks = drained.flatMap((message) => (message.acks as number[] | undefined) ?? [])
  const lost = drained.reduce((sum, message) => sum + Number(message.missing), 0)

  const duration = (writeEnd - at) / 1000
  const during = samples.filter((sample) => sample.at >= at && sample.at <= writeEnd + 1000)
  const cpuPerSecond: number[] = []
  for (let i = 1; i < during.length; i++) {
    const a = during[i - 1] as Scrape
    const b = during[i] as Scrape
    cpuPerSecond.push((b.cpuSeconds - a.cpuSeconds) / ((b.at - a.at) / 1000))
  }
  const first = during[0]
  const last = during.at(-1)
  const cpuAverage =
    first && last && last.at > first.at
      ? (last.cpuSeconds - first.cpuSeconds) / ((last.at - first.at) / 1000)
      : Number.NaN
  const rssMax = Math.max(...samples.map((sample) => sample.rssBytes))
  // Warm-up is the first third of the write phase; a relay that holds the load keeps its RSS
  // flat from there to the end of the writes.
  const warmedUp = during.find((sample) => sample.at >= at + ((writeEnd - at) * 1) / 3)
  const rssGrowth = warmedUp && last ? (last.rssBytes - warmedUp.rssBytes) / 2 ** 20 : Number.NaN
  const p50 = percentile(latencies, 50)
  const p99 = percentile(latencies, 99)

  // Targets bound the value (no figure here has a baseline): at least for the load figures, at
  // most for errors, losses and latency.
  const figures: FigureInput[] = [
    { figure: 'peers', value: PEERS, unit: 'peers', target: 200, bound: 'min' },
    { figure: 'target_rate_per_peer', value: RATE, unit: 'writes/s', target: 5, bound: 'min' },
    { figure: 'duration', value: round(duration), unit: 's', target: 60, bound: 'min' },
    {
      figure: 'writes_per_second',
      value: round(writes / duration),
      unit: 'writes/s',
      target: 1000,
      bound: 'min',
    },
    { figure: 'write_errors', value: writeErrors, unit: 'writes', target: 0 },
    { figure: 'visibility_p50', value: round(p50), unit: 'ms', target: null },
    { figure: 'visibility_p99', value: round(p99), unit: 'ms', target: TARGET_P99_MS },
    ...(acks.length > 0
      ? [
          { figure: 'ack_p50', value: round(percentile(acks, 50)), unit: 'ms', target: null },
          { figure: 'ack_p99', value: round(percentile(acks, 99)), unit: 'ms', target: null },
        ]
      : []),
    { figure: 'visibility_samples', value: latencies.length, unit: 'samples', target: null },
    { figure: 'lost_writes', value: lost, unit: 'writes', target: 0 },
    { figure: 'relay_keys', value: end.keys, unit: 'keys', target: PEERS, bound: 'min' },
    { figure: 'relay_cpu_avg', value: round(cpuAverage * 100), unit: '%', target: null },
    {
      figure: 'relay_cpu_max',
      value: round(Math.max(...cpuPerSecond) * 100),
      unit: '%',
      target: null,
    },
    { figure: 'relay_rss_max', value: round(rssMax / 2 ** 20), unit: 'MiB', target: null },
    {
      figure: 'relay_rss_growth_after_warmup',
      value: round(rssGrowth),
      unit: 'MiB',
      target: null,
    },
  ]
  // The relay's CPU and RSS over time, one figure each per second of the write phase, in order.
  during.slice(1).forEach((sample, i) => {
    const t = `t = ${round((sample.at - at) / 1000)} s`
    figures.push(
      {
        figure: 'relay_cpu_over_time',
        value: round((cpuPerSecond[i] ?? Number.NaN) * 100),
        unit: '%',
        note: t,
      },
      {
        figure: 'relay_rss_over_time',
        value: round(sample.rssBytes / 2 ** 20),
        unit: 'MiB',
        note: t,
      },
    )
  })
  for (const figure of figures) bench.record(figure)
  const met = p99 < TARGET_P99_MS && lost === 0 && writes / duration >= 0.95 * PEERS * RATE
  bench.finish(
    `relay bench (${MODE} writers): ${met ? 'held' : 'NOT held'}: ${PEERS} peers x ${RATE} writes/s for ${SECONDS} s (p99 < ${TARGET_P99_MS} ms, no lost write, rate within 5%)`,
  )

  for (const worker of workers) worker.send({ op: 'close' })
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise((resolve) => {
          worker.child.once('exit', resolve)
          setTimeout(() => {
            worker.child.kill('SIGKILL')
          }, 10_000).unref()
        }),
    ),
  )
  relay.removeAllListeners('exit')
  relay.kill('SIGTERM')
  await new Promise((resolve) => relay.once('exit', resolve))
  await rm(dir, { recursive: true, force: true })
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

await main()
