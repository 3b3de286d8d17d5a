// Abuse benchmark (issue 19): the built relay in its own process under hostile peers.
//
//   pnpm bench:abuse [--frames 5000] [--seed 1] [--runs 3] [--quick] [--json]
//
// Figures (medians over the runs):
// - relay_heap_growth_under_fuzz_mib: the relay's V8 heap peak during a fuzz attack (random,
//   mutated, never-ending and oversized frames on pull, push and reconcile, from allowed and
//   not-allowed identities; bench/fuzz-attack.ts) minus its heap before it. Target <= 64.
// - fuzz_frames_per_second: fuzzed streams the relay handled per second (8 attackers at once,
//   one stream per frame, on the same machine as the relay).
// Each run also checks that a well-behaved writer's writes reached a well-behaved reader during
// and after the attack, and fails when one did not.

import { existsSync } from 'node:fs'
import { type Bench, median, startBench } from '@mendsync/bench'
import { RELAY_CLI } from '../test/helpers.ts'
import { HEAP_GROWTH_BOUND_MIB, runAbuseScenario } from './abuse-scenario.ts'
import { recordReconnectStorm } from './reconnect-storm.ts'

const options = {
  frames: { type: 'string' },
  seed: { type: 'string', default: '1' },
} as const
type AbuseBench = Bench<typeof options>

const bench: AbuseBench = startBench({ name: 'abuse', options, defaultRuns: 3 })
if (!existsSync(RELAY_CLI))
  throw new Error(`${RELAY_CLI} is missing: run \`pnpm exec tsc -b\` first`)
const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** relay_heap_growth_under_fuzz_mib and fuzz_frames_per_second. */
async function fuzzFigures(bench: AbuseBench): Promise<void> {
  const frames = Number(bench.values.frames ?? (bench.flags.quick ? 1000 : 5000))
  if (!(Number.isInteger(frames) && frames > 0))
    throw new Error('--frames must be a positive integer')
  const growth: number[] = []
  const rate: number[] = []
  const rss: number[] = []
  for (let run = 0; run < bench.flags.runs; run++) {
    const seed = Number(bench.values.seed) + run
    const report = await runAbuseScenario({ frames, seed, log })
    log(
      `run ${run + 1}: heap ${report.heapBaselineMiB.toFixed(1)} -> ${report.heapPeakMiB.toFixed(1)} MiB, ` +
        `${report.framesPerSecond.toFixed(0)} frames/s, outcomes ${JSON.stringify(report.fuzz.outcomes)}, ` +
        `identities ${JSON.stringify(report.fuzz.identities)}, writes seen during ${report.syncedDuring}`,
    )
    if (report.relayExitCode !== undefined)
      throw new Error(`the relay exited (${report.relayExitCode})`)
    if (report.syncFailures > 0 || !report.syncedAfter) {
      throw new Error('a well-behaved write did not reach the reader under the attack')
    }
    growth.push(report.heapGrowthMiB)
    rate.push(report.framesPerSecond)
    rss.push(report.rssPeakMiB)
  }
  bench.record({
    figure: 'relay_heap_growth_under_fuzz_mib',
    value: median(growth),
    unit: 'MiB',
    target: HEAP_GROWTH_BOUND_MIB,
    note: `${frames} frames, heap peak minus heap before`,
  })
  bench.record({
    figure: 'fuzz_frames_per_second',
    value: median(rate),
    unit: 'frames/s',
    note: '8 attackers, one stream per frame',
  })
  bench.record({ figure: 'relay_rss_peak_under_fuzz_mib', value: median(rss), unit: 'MiB' })
}

/** The reconnect storm: 200 clients (60 under `--quick`) across a relay SIGKILL and restart. */
async function reconnectFigures(bench: AbuseBench): Promise<void> {
  await recordReconnectStorm(bench, { clients: bench.flags.quick ? 60 : 200, workers: 4 })
}

// The scenarios, in order.
const scenarios: readonly ((bench: AbuseBench) => Promise<void>)[] = [fuzzFigures, reconnectFigures]
for (const scenario of scenarios) await scenario(bench)
bench.finish('abuse')
