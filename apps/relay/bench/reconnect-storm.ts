// The reconnect storm: a relay (the built binary, its own process) with N clients (full peers
// made by createNodeLibp2p, in a few worker processes, bench/storm-worker.ts) connected and
// subscribed; the relay is SIGKILLed, every client writes its own key while it is down, and the
// relay is restarted on the same port and data. Measures the seconds from the restart until
// every client is connected to it again (and knows its replica) and every client and the relay
// hold every client's key. Nothing in the clients redials by itself: that is the library's
// keepConnected service.
//
//   pnpm exec tsc -b && node apps/relay/bench/reconnect-storm.ts [--clients 200] [--workers 4]
//     [--runs 3] [--json] [--relay-debug 'libp2p:gossipsub,mendsync:*' --relay-log <file>]
//
// A phase that times out names the clients left out and each one's view of the relay (its
// connections and their streams, gossipsub's state of the relay, the keepConnected state);
// `--relay-debug` sets both relays' DEBUG namespaces and `--relay-log` where their stderr goes.
//
// Prints `reconnect_all_after_restart_s` (bench `abuse`; target <= 30 s at 200 clients on 2
// cores). `runReconnectStorm` is the same scenario for tests and `pnpm bench:abuse`.
import { type ChildProcess, fork } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Bench, median, startBench } from '@mendsync/bench'
import { RelayProcess, sampleValue, scrape } from '../test/helpers.ts'
import type { StormDiagnosis, StormInit, StormStatus } from './storm-worker.ts'

const WORKER = fileURLToPath(new URL('./storm-worker.ts', import.meta.url))

/**
 * Inbound connections the relay accepts per second from one address in the storm. Every client
 * of the bench dials from 127.0.0.1, like a crowd behind one NAT; the README's "Reconnect storms"
 * says how to size it.
 */
export const STORM_INBOUND_CONNECTION_THRESHOLD = 100

/** How often the scenario looks at the clients and the relay, ms. */
const POLL_MS = 250

/** How often a phase that is still waiting logs where it stands, ms. */
const PROGRESS_MS = 5_000

/** Options of {@link runReconnectStorm}. */
export interface ReconnectStormOptions {
  /** Clients (each a full peer with its own libp2p node). */
  readonly clients: number
  /** The relay's data directory (its identity and spaces; created, not removed). */
  readonly relayDir: string
  /** Worker processes the clients are spread over. Default `min(4, clients)`. */
  readonly workers?: number
  /** The relay's `--inbound-connection-threshold`. Default {@link STORM_INBOUND_CONNECTION_THRESHOLD}. */
  readonly inboundConnectionThreshold?: number
  /** Longest wait of each phase (connect, reconnect and converge), ms. Default `300_000`. */
  readonly phaseTimeoutMs?: number
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void
  /**
   * `DEBUG` namespaces for both relay processes (e.g. `libp2p:gossipsub*,mendsync:*`), whose
   * stderr then goes to {@link relayLogPath}. Default: none.
   */
  readonly relayDebug?: string
  /** File both relays' stderr is appended to (with `relayDebug`, their debug log). */
  readonly relayLogPath?: string
}

/** What {@link runReconnectStorm} measured. */
export interface ReconnectStormResult {
  readonly clients: number
  /** From forking the workers until every client was connected and subscribed, s. */
  readonly connectAllAtStartSeconds: number
  /** From the restart until the relay logged that it started, s. */
  readonly relayStartSeconds: number
  /** From the restart until every client was connected to the relay again, s. */
  readonly reconnectAllSeconds: number
  /** From the restart until every client was connected and every client and the relay held every key, s. */
  readonly reconnectAllAfterRestartSeconds: number
  /** Clients connected (and converged) at the end: always `clients`, or the scenario throws. */
  readonly connected: number
  readonly converged: number
  /** Keys at the restarted relay at the end (one per client). */
  readonly relayKeys: number
}

interface Worker {
  readonly child: ChildProcess
  request<T>(message: Record<string, unknown>, answer: string): Promise<T>
}

function startWorker(onError: (error: Error) => void): Worker {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  const waiting = new Map<string, ((message: Record<string, unknown>) => void)[]>()
  child.on('message', (message: Record<string, unknown>) => {
    if (message.op === 'error') {
      onError(new Error(`a storm worker failed: ${String(message.message)}`))
      return
    }
    waiting.get(String(message.op))?.shift()?.(message)
  })
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) onError(new Error(`a storm worker exited with ${code}`))
  })
  return {
    child,
    request: <T>(message: Record<string, unknown>, answer: string) =>
      new Promise<T>((resolve) => {
        const queue = waiting.get(answer) ?? []
        queue.push((reply) => resolve(reply as T))
        waiting.set(answer, queue)
        child.send(message)
      }),
  }
}

/**
 * Runs the storm once with `options.clients` clients and returns its figures. Throws when a
 * phase does not complete within `phaseTimeoutMs` (naming the clients left out) or a worker or
 * the relay fails. Needs the built packages (`tsc -b`): the relay and the workers run on dist.
 */
export async function runReconnectStorm(
  options: ReconnectStormOptions,
): Promise<ReconnectStormResult> {
  const total = options.clients
  const workerCount = Math.max(1, Math.min(options.workers ?? 4, total))
  const phaseTimeoutMs = options.phaseTimeoutMs ?? 300_000
  const log = options.log ?? (() => {})
  const relayArgs = [
    '--data-dir',
    options.relayDir,
    '--inbound-connection-threshold',
    String(options.inboundConnectionThreshold ?? STORM_INBOUND_CONNECTION_THRESHOLD),
  ]
  const relayEnv: Record<string, string> =
    options.relayDebug === undefined ? {} : { DEBUG: options.relayDebug }
  const relayLog =
    options.relayLogPath === undefined ? undefined : createWriteStream(options.relayLogPath)
  const spawnRelay = (args: readonly string[]): RelayProcess => {
    const relay = RelayProcess.spawn(args, relayEnv)
    if (relayLog) relay.child.stderr?.pipe(relayLog, { end: false })
    return relay
  }
  const relays: RelayProcess[] = []
  const workers: Worker[] = []
  let failure: Error | undefined
  const fail = (error: Error): void => {
    failure ??= error
  }
  try {
    const first = spawnRelay(relayArgs)
    relays.push(first)
    const relay = await first.started()
    const port = /\/tcp\/(\d+)\//.exec(relay.address)?.[1]
    if (port === undefined) throw new Error(`no port in the relay's address ${relay.address}`)

    const startedAt = Date.now()
    for (let i = 0; i < workerCount; i++) workers.push(startWorker(fail))
    await Promise.all(
      workers.map((worker, w) => {
        const init: StormInit = {
          op: 'init',
          relay: relay.address,
          relayPeerId: relay.peerId,
          space: 'demo',
          clients: Array.from({ length: total }, (_, i) => i).filter((i) => i % workerCount === w),
          totalKeys: total,
        }
        return worker.request(init as unknown as Record<string, unknown>, 'started')
      }),
    )
    const status = async () => {
      if (failure) throw failure
      const all = await Promise.all(
        workers.map((worker) => worker.request<StormStatus>({ op: 'status' }, 'status')),
      )
      return {
        connected: all.reduce((sum, s) => sum + s.connected, 0),
        converged: all.reduce((sum, s) => sum + s.converged, 0),
        linked: all.reduce((sum, s) => sum + s.linked, 0),
        missing: all.flatMap((s) => s.missing).slice(0, 10),
      }
    }
    const until = async (
      what: string,
      check: (s: Awaited<ReturnType<typeof status>>) => boolean | Promise<boolean>,
    ) => {
      const deadline = Date.now() + phaseTimeoutMs
      let reported = Date.now()
      for (;;) {
        const now = await status()
        if (await check(now)) return now
        if (Date.now() - reported >= PROGRESS_MS) {
          reported = Date.now()
          log(
            `  waiting for ${what}: ${now.linked}/${total} linked, ${now.connected}/${total} connected and subscribed, ${now.converged}/${total} converged`,
          )
        }
        if (Date.now() > deadline) {
          const diagnoses = await Promise.all(
            workers.map((worker) =>
              worker.request<StormDiagnosis>({ op: 'diagnose' }, 'diagnosis'),
            ),
          )
          const left = diagnoses.flatMap((d) => d.clients).slice(0, 10)
          throw new Error(
            `timed out waiting for ${what}: ${now.linked}/${total} linked, ${now.connected}/${total} connected and subscribed, ${now.converged}/${total} converged; not connected: ${now.missing.join(', ')}; their view of the relay: ${JSON.stringify(left)}`,
          )
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      }
    }
    await until('every client to connect', (s) => s.connected === total)
    const connectAllAtStartSeconds = (Date.now() - startedAt) / 1000
    log(`${total} clients connected and subscribed in ${connectAllAtStartSeconds.toFixed(1)} s`)

    first.kill('SIGKILL')
    await first.exited
    await until('every client to see the relay gone', (s) => s.connected === 0)
    await Promise.all(workers.map((worker) => worker.request({ op: 'write' }, 'written')))
    log('relay killed; every client wrote its key while it was down; restarting it')

    const restartedAt = Date.now()
    const second = spawnRelay([...relayArgs, '--port', port])
    relays.push(second)
    const restarted = await second.started()
    const relayStartSeconds = (Date.now() - restartedAt) / 1000
    let reconnectAllSeconds: number | undefined
    let relayKeys = 0
    const end = await until('every client to reconnect and converge', async (s) => {
      if (s.connected === total) reconnectAllSeconds ??= (Date.now() - restartedAt) / 1000
      if (s.connected !== total || s.converged !== total) return false
      relayKeys = await relayKeyCount(restarted.metricsUrl)
      return relayKeys >= total
    })
    const reconnectAllAfterRestartSeconds = (Date.now() - restartedAt) / 1000
    log(
      `after the restart: relay up in ${relayStartSeconds.toFixed(1)} s, all reconnected in ${reconnectAllSeconds?.toFixed(1)} s, all converged in ${reconnectAllAfterRestartSeconds.toFixed(1)} s`,
    )
    return {
      clients: total,
      connectAllAtStartSeconds,
      relayStartSeconds,
      reconnectAllSeconds: reconnectAllSeconds ?? reconnectAllAfterRestartSeconds,
      reconnectAllAfterRestartSeconds,
      connected: end.connected,
      converged: end.converged,
      relayKeys,
    }
  } finally {
    await Promise.allSettled(
      workers.map(async (worker) => {
        if (worker.child.exitCode !== null) return
        const exited = new Promise((resolve) => worker.child.once('exit', resolve))
        worker.child.send({ op: 'close' })
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
        worker.child.kill('SIGKILL')
      }),
    )
    for (const relay of relays) relay.kill('SIGKILL')
    await Promise.all(relays.map((relay) => relay.exited))
    relayLog?.end()
  }
}

async function relayKeyCount(metricsUrl: string): Promise<number> {
  return sampleValue(await scrape(metricsUrl), 'mendsync_replica_keys', { space: 'demo' }) ?? 0
}

/**
 * Runs the storm `bench.flags.runs` times with `clients` clients and records its figures
 * (medians): `reconnect_all_after_restart_s` and the three that explain it. Used by this
 * module's command and by `pnpm bench:abuse`.
 */
export async function recordReconnectStorm(
  bench: Pick<Bench<Record<never, never>>, 'flags' | 'record'>,
  {
    clients,
    workers,
    relayDebug,
    relayLogPath,
  }: {
    readonly clients: number
    readonly workers: number
    readonly relayDebug?: string
    readonly relayLogPath?: string
  },
): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`)
  }
  const results: ReconnectStormResult[] = []
  for (let run = 1; run <= bench.flags.runs; run++) {
    const relayDir = await mkdtemp(join(tmpdir(), 'mendsync-reconnect-storm-'))
    try {
      log(`run ${run}/${bench.flags.runs}: ${clients} clients`)
      results.push(
        await runReconnectStorm({
          clients,
          workers,
          relayDir,
          log,
          ...(relayDebug === undefined ? {} : { relayDebug }),
          ...(relayLogPath === undefined ? {} : { relayLogPath }),
        }),
      )
    } finally {
      await rm(relayDir, { recursive: true, force: true })
    }
  }
  const of = (pick: (result: ReconnectStormResult) => number): number => median(results.map(pick))
  const runs = `median of ${results.length}, ${clients} clients`
  bench.record({
    figure: 'reconnect_all_after_restart_s',
    value: of((r) => r.reconnectAllAfterRestartSeconds),
    unit: 's',
    target: 30,
    note: `restart to every client connected and holding every key; ${runs}`,
  })
  bench.record({
    figure: 'reconnect_connected_after_restart_s',
    value: of((r) => r.reconnectAllSeconds),
    unit: 's',
    note: `restart to every client connected (keys not awaited); ${runs}`,
  })
  bench.record({
    figure: 'reconnect_relay_start_s',
    value: of((r) => r.relayStartSeconds),
    unit: 's',
    note: `restart to the relay listening; ${runs}`,
  })
  bench.record({
    figure: 'connect_all_at_start_s',
    value: of((r) => r.connectAllAtStartSeconds),
    unit: 's',
    note: `all clients bootstrapping at once to a fresh relay; ${runs}`,
  })
}

async function main(): Promise<void> {
  const bench = startBench({
    name: 'abuse',
    defaultRuns: 3,
    options: {
      clients: { type: 'string', default: '200' },
      workers: { type: 'string', default: '4' },
      'relay-debug': { type: 'string' },
      'relay-log': { type: 'string' },
    },
  })
  const clients = Number(bench.values.clients)
  const workers = Number(bench.values.workers)
  if (!(Number.isInteger(clients) && clients > 0))
    throw new Error('--clients must be a positive integer')
  if (!(Number.isInteger(workers) && workers > 0))
    throw new Error('--workers must be a positive integer')
  const relayDebug = bench.values['relay-debug']
  const relayLogPath = bench.values['relay-log']
  await recordReconnectStorm(bench, {
    clients,
    workers,
    ...(typeof relayDebug === 'string' ? { relayDebug } : {}),
    ...(typeof relayLogPath === 'string' ? { relayLogPath } : {}),
  })
  bench.finish(`Reconnect storm (${clients} clients, ${workers} worker processes)`)
}

if (import.meta.main) await main()
