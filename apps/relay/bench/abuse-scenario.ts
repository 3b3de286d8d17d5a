// One abuse run against the built relay in its own process: a space with an allowlist, two
// well-behaved peers on it (a writer and a reader), then the fuzz attack (bench/fuzz-attack.ts)
// while the writer keeps writing and the reader must see every write; the relay's heap is scraped
// from its /metrics throughout. Shared by the fuzz test and `pnpm bench:abuse`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateIdentity, peerIdOf } from '@mendsync/libp2p'
import { type Client, connectedTo, nextChange, RelayProcess, startClient } from '../test/helpers.ts'
import { allowedIdentitiesFor, type FuzzReport, runFuzz } from './fuzz-attack.ts'

const MiB = 1024 * 1024
const SPACE = 'fuzz'

/** The documented bound on the relay's heap growth under the attack, MiB (issue 19). */
export const HEAP_GROWTH_BOUND_MIB = 64

/** Options of {@link runAbuseScenario}. */
export interface AbuseOptions {
  /** Fuzzed streams in all. */
  readonly frames: number
  readonly seed?: number
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void
}

/** What {@link runAbuseScenario} measured. */
export interface AbuseReport {
  readonly fuzz: FuzzReport
  /** The relay's live V8 heap (after a full collection) before the attack, median of 5, MiB. */
  readonly heapBaselineMiB: number
  /** The largest live heap sample (after a full collection) during the attack and the second after, MiB. */
  readonly heapPeakMiB: number
  /** `heapPeakMiB - heapBaselineMiB`. */
  readonly heapGrowthMiB: number
  /** The largest resident set sample, MiB. */
  readonly rssPeakMiB: number
  readonly heapSamples: number
  /** Fuzzed streams handled per second of attack. */
  readonly framesPerSecond: number
  /** Writes of the writer that the reader saw while the attack ran. */
  readonly syncedDuring: number
  /** Writes of the writer that the reader did not see (within 20 s each) while the attack ran. */
  readonly syncFailures: number
  /** Whether a write after the attack reached the reader. */
  readonly syncedAfter: boolean
  /** The relay's exit code if it exited during the run; `undefined` while it runs. */
  readonly relayExitCode: number | null | undefined
}

const PROBE = fileURLToPath(new URL('./heap-probe.ts', import.meta.url))

/** The relay's live heap (after a full collection, see bench/heap-probe.ts) and resident set. */
class HeapProbe {
  private probes = 0
  private readonly relay: RelayProcess

  constructor(relay: RelayProcess) {
    this.relay = relay
  }

  async sample(): Promise<{ heap: number; rss: number }> {
    this.probes += 1
    const seq = this.probes
    this.relay.kill('SIGUSR2')
    const event = await this.relay.waitForEvent(
      `heap probe ${seq}`,
      (e) => e.msg === 'heap probe' && e.seq === seq,
    )
    if (event.collected !== true) throw new Error('the relay runs without --expose-gc')
    return { heap: Number(event.heapUsed), rss: Number(event.rss) }
  }
}

/** Writes `key` at `writer` and resolves once `reader` saw it (rejects after 20 s). */
async function syncOnce(writer: Client, reader: Client, key: string, value: number) {
  const seen = nextChange(reader.replica, key)
  await writer.replica.put(key, value)
  await seen
  const read = await reader.replica.get(key)
  if ((read as { value?: unknown }).value !== value) {
    throw new Error(`the reader read ${JSON.stringify(read)} for ${key}, not ${value}`)
  }
}

/** Runs the scenario; cleans everything up before it resolves. */
export async function runAbuseScenario(options: AbuseOptions): Promise<AbuseReport> {
  const log = options.log ?? (() => {})
  const dir = await mkdtemp(join(tmpdir(), 'mendsync-abuse-'))
  const clients: Client[] = []
  let relay: RelayProcess | undefined
  try {
    const writerKey = await generateIdentity()
    const readerKey = await generateIdentity()
    const allowed = await Promise.all(
      Array.from({ length: allowedIdentitiesFor(options.frames) }, () => generateIdentity()),
    )
    const config = join(dir, 'relay.json')
    await writeFile(
      config,
      JSON.stringify({
        spaces: [{ name: SPACE, allow: [writerKey, readerKey, ...allowed].map(peerIdOf) }],
      }),
    )
    // The flood guard (connections per second per address) is raised: every attacker and every
    // identity replacing a banned one dials from 127.0.0.1, and the guard is not under test.
    relay = RelayProcess.spawn(
      [
        '--data-dir',
        join(dir, 'data'),
        '--config',
        config,
        '--inbound-connection-threshold',
        '10000',
      ],
      { NODE_OPTIONS: `--expose-gc --import=${PROBE}` },
    )
    const info = await relay.started()
    const probe = new HeapProbe(relay)
    const writer = await startClient([info.address], { space: SPACE, privateKey: writerKey })
    clients.push(writer)
    const reader = await startClient([info.address], { space: SPACE, privateKey: readerKey })
    clients.push(reader)
    await connectedTo(writer, info.peerId)
    await connectedTo(reader, info.peerId)
    await syncOnce(writer, reader, 'before', 0)

    const baseline: number[] = []
    for (let i = 0; i < 5; i++) {
      baseline.push((await probe.sample()).heap)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    baseline.sort((a, b) => a - b)
    const heapBaseline = baseline[2] as number
    log(`relay heap before the attack: ${(heapBaseline / MiB).toFixed(1)} MiB`)

    let attacking = true
    const samples: { heap: number; rss: number }[] = []
    const sampling = (async () => {
      while (attacking) {
        samples.push(await probe.sample())
        // A full collection costs the relay some milliseconds: one a second.
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    })()
    let syncedDuring = 0
    let syncFailures = 0
    const syncing = (async () => {
      for (let n = 1; attacking; n++) {
        try {
          await syncOnce(writer, reader, `during/${n}`, n)
          syncedDuring += 1
        } catch (error) {
          syncFailures += 1
          log(`a write during the attack was not seen: ${(error as Error).message}`)
        }
      }
    })()

    const fuzz = await runFuzz({
      relayAddress: info.address,
      space: SPACE,
      frames: options.frames,
      allowed,
      newIdentity: generateIdentity,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      onFrame: (sent) => {
        if (sent % 500 === 0) log(`${sent} of ${options.frames} frames sent`)
      },
    })
    // The second after the attack counts too (work queued by it is still running). The write
    // in progress when the attack ends started during it and counts as during.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    attacking = false
    await Promise.all([sampling, syncing])
    let syncedAfter = true
    try {
      await syncOnce(writer, reader, 'after', 1)
    } catch (error) {
      syncedAfter = false
      log(`the write after the attack was not seen: ${(error as Error).message}`)
    }
    const heapPeak = Math.max(...samples.map((sample) => sample.heap))
    return {
      fuzz,
      heapBaselineMiB: heapBaseline / MiB,
      heapPeakMiB: heapPeak / MiB,
      heapGrowthMiB: (heapPeak - heapBaseline) / MiB,
      rssPeakMiB: Math.max(...samples.map((sample) => sample.rss)) / MiB,
      heapSamples: samples.length,
      framesPerSecond: fuzz.frames / fuzz.seconds,
      syncedDuring,
      syncFailures,
      syncedAfter,
      relayExitCode: relay.exitCode,
    }
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()))
    relay?.kill('SIGKILL')
    await relay?.exited
    await rm(dir, { recursive: true, force: true })
  }
}
