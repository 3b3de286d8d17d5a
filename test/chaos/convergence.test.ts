// The convergence checker (issue #6): random runs of cart and register operations, reads with
// every repair mode, partitions, lost / duplicated / reordered / delayed messages, restarts and
// clock skew over 3-5 replicas; every read and every persisted change is checked as it happens,
// and after the heal every replica must hold the same bytes, equal to the model.
//
//   CHAOS_RUNS=10000 pnpm exec vitest run --project cross-package test/chaos   # more runs
//   CHAOS_SEED=123 CHAOS_PATH="4:1:0" pnpm exec vitest run ...                 # replay a failure
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { convergenceProperty, Totals } from './property.js'

const RUNS = Number(process.env.CHAOS_RUNS ?? 200)
const SEED =
  process.env.CHAOS_SEED === undefined
    ? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0
    : Number(process.env.CHAOS_SEED)
const PATH = process.env.CHAOS_PATH
const MAX_COMMANDS = Number(process.env.CHAOS_COMMANDS ?? 200)

it(
  `replicas converge to the model after any schedule of operations and faults (${RUNS} runs)`,
  async () => {
    const totals = new Totals()
    const started = performance.now()
    await fc.assert(convergenceProperty({ maxCommands: MAX_COMMANDS, totals }), {
      numRuns: RUNS,
      seed: SEED,
      ...(PATH === undefined ? {} : { path: PATH }),
    })
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    console.info(
      `chaos: ${totals.runs} runs passed in ${seconds} s (seed ${SEED}); at most ` +
        `${totals.maxSyncRounds} sync rounds after the heal; totals ${JSON.stringify(totals.counts)}`,
    )
    expect(totals.runs).toBe(PATH === undefined ? RUNS : 1)
  },
  Math.max(120_000, RUNS * 2_000),
)
