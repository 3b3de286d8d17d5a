// `pnpm bench:reconcile [--n N --d D] [--pattern P] [--against negentropy] [--figures]
//   [--json] [--runs R] [--quick]`
//
// Runs reconciliation sessions between two in-process replicas (ReconcileTree + ReconcileSession
// from the built `@mendsync/core`: run `pnpm exec tsc -b` first); A initiates, and every session
// is checked to find exactly the true difference (a wrong one exits 1). Figures (one JSON line
// each with --json, the harness schema):
// - without --against: per (n, d) of the grid n in {1e4, 1e5, 1e6} x d in {0, 1, 10, 100, 1e3,
//   1e4} (or the one point --n/--d name), pattern --pattern (default uniform):
//   reconcile_bytes_<pattern>_n<N>_d<D> (session bytes, both directions), reconcile_rounds_...
//   (ceil(messages / 2); 0 when the summaries are equal), reconcile_cpu_ms_... (CPU of both
//   sides' initiate/receive calls, median of --runs sessions); then the tree figures at n = 1e6
//   (tree.updatesPerSec.1e6, tree.bytesPerItem.1e6, tree.rebuildMs.1e6, tree.loadMs.1e6), with
//   --figures also after a single point;
// - with --against negentropy: the same sets reconciled by mendsync and by the reference
//   negentropy implementation at every pattern (or --pattern), n = 1e5 (d = 1e3, 1e4) and n = 1e6
//   (d = 1e2, 1e4, 1e5): bytes_vs_negentropy_<pattern>_n<N>_d<D> (ratio = mendsync/negentropy,
//   target <= 0.1), rounds_vs_negentropy_..., cpu_ms_vs_negentropy_... (both sides together).
// --quick: the grid at n <= 1e5 and the tree figures at 1e5; against negentropy only n = 1e5.

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { median, startBench } from '@mendsync/bench'
import { ReconcileTree } from '@mendsync/core'
import { foundExactly, runMendsyncSession, type SessionResult } from './reconcile/mendsync.ts'
import { runNegentropy } from './reconcile/negentropy.ts'
import {
  cpuMs,
  fillRandom,
  makeKeys,
  PATTERNS,
  type Pattern,
  rng,
  type Scenario,
  scenario,
} from './reconcile/scenario.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const bench = startBench({
  name: 'reconcile',
  defaultRuns: 5,
  quickRuns: 2,
  options: {
    n: { type: 'string' },
    d: { type: 'string' },
    pattern: { type: 'string' },
    against: { type: 'string' },
    figures: { type: 'boolean', default: false },
  },
})
const { flags, values } = bench

function count(name: string, raw: string | undefined): number | null {
  if (raw === undefined) return null
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be an integer >= 0`)
  return value
}

const onlyN = count('n', values.n)
const onlyD = count('d', values.d)
if (values.pattern !== undefined && !PATTERNS.includes(values.pattern as Pattern)) {
  throw new Error(`--pattern must be one of ${PATTERNS.join(', ')}`)
}
if (values.against !== undefined && values.against !== 'negentropy') {
  throw new Error(`--against takes 'negentropy', got '${values.against}'`)
}

/** 1e5 for 100000, 7 for 7: the size in figure names. */
function tag(x: number): string {
  const exponent = Math.log10(x)
  return x >= 10 && Number.isInteger(exponent) ? `1e${exponent}` : String(x)
}

function round1(x: number): number {
  return Math.round(x * 10) / 10
}

function heapMB(): number {
  const m = process.memoryUsage()
  return Math.round((m.heapUsed + m.arrayBuffers) / 2 ** 20)
}

let failed = false

interface Measured {
  readonly first: SessionResult
  readonly cpuMs: number
  readonly buildMs: number
  readonly correct: boolean
}

/** Builds both trees of `s` and runs `flags.runs` mendsync sessions between them. */
function measureMendsync(s: Scenario): Measured {
  let a: ReconcileTree | undefined
  const buildMs = cpuMs(() => {
    a = ReconcileTree.fromSorted(s.a.keys, s.a.hashes, { times: s.a.times })
  })
  const b = ReconcileTree.fromSorted(s.b.keys, s.b.hashes, { times: s.b.times })
  const results: SessionResult[] = []
  for (let r = 0; r < flags.runs; r++) results.push(runMendsyncSession(a!, b))
  const first = results[0]!
  return {
    first,
    cpuMs: round1(median(results.map((r) => r.cpuA + r.cpuB))),
    buildMs: round1(buildMs),
    correct: results.every((r) => foundExactly(r, s.expected)),
  }
}

function gridPoint(pool: readonly string[], n: number, d: number, pattern: Pattern): void {
  const m = measureMendsync(scenario(pool, n, d, pattern))
  failed ||= !m.correct
  const name = `${pattern}_n${tag(n)}_d${tag(d)}`
  const { bytesAtoB, bytesBtoA } = m.first
  bench.record({
    figure: `reconcile_bytes_${name}`,
    value: bytesAtoB + bytesBtoA,
    unit: 'bytes',
    note: `A->B ${bytesAtoB}, B->A ${bytesBtoA}, ${m.correct ? 'correct' : 'WRONG DIFFERENCE'}`,
  })
  bench.record({ figure: `reconcile_rounds_${name}`, value: m.first.rounds, unit: 'rounds' })
  bench.record({
    figure: `reconcile_cpu_ms_${name}`,
    value: m.cpuMs,
    unit: 'ms',
    note: `both sides; build of A ${m.buildMs} ms, heap ${heapMB()} MB`,
  })
}

async function againstNegentropy(
  pool: readonly string[],
  n: number,
  d: number,
  pattern: Pattern,
): Promise<void> {
  const s = scenario(pool, n, d, pattern)
  const m = measureMendsync(s)
  gc()
  // One negentropy run per point: its bytes and rounds are deterministic, and a run at n = 1e6
  // takes tens of seconds; its CPU figure is that one run's.
  const ne = await runNegentropy(s)
  const neCorrect = ne.correct
  failed ||= !m.correct || !neCorrect
  const name = `${pattern}_n${tag(n)}_d${tag(d)}`
  const mendsyncBytes = m.first.bytesAtoB + m.first.bytesBtoA
  const negentropyBytes = ne.bytesClientToServer + ne.bytesServerToClient
  const correctness = `mendsync ${m.correct ? 'correct' : 'WRONG'}, negentropy ${neCorrect ? 'correct' : 'WRONG'}`
  bench.record({
    figure: `bytes_vs_negentropy_${name}`,
    value: mendsyncBytes,
    unit: 'bytes',
    baseline: negentropyBytes,
    target: 0.1,
    note: correctness,
  })
  bench.record({
    figure: `rounds_vs_negentropy_${name}`,
    value: m.first.rounds,
    unit: 'rounds',
    baseline: ne.rounds,
    note: 'issue 17 bound: mendsync <= 3 rounds',
  })
  bench.record({
    figure: `cpu_ms_vs_negentropy_${name}`,
    value: m.cpuMs,
    unit: 'ms',
    baseline: round1(ne.cpuA + ne.cpuB),
    note: 'both sides together; mendsync median of --runs, negentropy one run',
  })
  bench.log(
    `${name}: mendsync ${mendsyncBytes} B / ${m.first.rounds} rounds, negentropy ${negentropyBytes} B / ${ne.rounds} rounds (${correctness})`,
  )
}

function treeFigures(n: number): void {
  const pool = makeKeys(n)
  const hashes = new Uint8Array(32 * n)
  fillRandom(hashes, rng(42))
  gc()
  gc()
  const m = () => {
    const u = process.memoryUsage()
    return u.heapUsed + u.arrayBuffers
  }
  const before = m()
  let tree: ReconcileTree | undefined
  const rebuild: number[] = []
  for (let r = 0; r < 3; r++) {
    tree = undefined
    gc()
    rebuild.push(
      cpuMs(() => {
        tree = ReconcileTree.fromSorted(pool, hashes)
      }),
    )
  }
  gc()
  gc()
  const bytesPerItem = (m() - before) / n
  const t = tree!
  // A write mix at size n: half updates of existing keys, a quarter inserts of new keys, a
  // quarter deletes of those new keys.
  const next = rng(7)
  const ops = flags.quick ? 100_000 : 400_000
  const h = new Uint8Array(32)
  const inserted: string[] = []
  const opMs = cpuMs(() => {
    for (let i = 0; i < ops; i++) {
      h[0] = i
      h[1] = i >>> 8
      h[2] = i >>> 16
      switch (i & 3) {
        case 0:
        case 1:
          t.set(pool[next() % n]!, h)
          break
        case 2: {
          const key = `${pool[next() % n]!}~${i}`
          inserted.push(key)
          t.set(key, h)
          break
        }
        default:
          t.delete(inserted.pop()!)
      }
    }
  })
  const bytes = t.serialize()
  const loadMs = cpuMs(() => {
    ReconcileTree.load(bytes)
  })
  const size = n === 1_000_000 ? '1e6' : String(n)
  bench.record({
    figure: `tree.updatesPerSec.${size}`,
    value: Math.round(ops / (opMs / 1000)),
    unit: 'ops/s',
    target: 200_000,
    bound: 'min',
    note: 'half updates, a quarter inserts, a quarter deletes',
  })
  bench.record({
    figure: `tree.bytesPerItem.${size}`,
    value: round1(bytesPerItem),
    unit: 'bytes/item',
    target: 80,
    note: 'heap + array buffers delta / n, key strings excluded',
  })
  bench.record({
    figure: `tree.rebuildMs.${size}`,
    value: round1(median(rebuild)),
    unit: 'ms',
    target: 2000,
    note: `CPU time, bulk load with hashing, median of 3`,
  })
  bench.record({
    figure: `tree.loadMs.${size}`,
    value: round1(loadMs),
    unit: 'ms',
    target: 2000,
    note: `CPU time, load of the serialised tree`,
  })
}

async function main(): Promise<void> {
  const treeSize = flags.quick ? 100_000 : 1_000_000
  if (values.against === 'negentropy') {
    const points: [number, number][] =
      onlyN !== null || onlyD !== null
        ? [[onlyN ?? 100_000, onlyD ?? 1000]]
        : [
            [100_000, 1000],
            [100_000, 10_000],
            ...(flags.quick
              ? []
              : ([
                  [1_000_000, 100],
                  [1_000_000, 10_000],
                  [1_000_000, 100_000],
                ] as [number, number][])),
          ]
    const patterns = values.pattern === undefined ? PATTERNS : [values.pattern as Pattern]
    for (const [n, d] of points) {
      const pool = makeKeys(n + d)
      for (const pattern of patterns) {
        await againstNegentropy(pool, n, d, pattern)
        gc()
      }
    }
    bench.finish(
      `mendsync vs negentropy (reference JS, unlimited frame size), same sets, same process; mendsync CPU median of ${flags.runs} sessions`,
    )
  } else {
    const pattern = (values.pattern as Pattern | undefined) ?? 'uniform'
    if (onlyN !== null || onlyD !== null) {
      const n = onlyN ?? 100_000
      const d = onlyD ?? 100
      gridPoint(makeKeys(n + d), n, d, pattern)
      if (values.figures) treeFigures(treeSize)
    } else {
      const sizes = flags.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]
      for (const n of sizes) {
        const pool = makeKeys(n + 10_000)
        for (const d of [0, 1, 10, 100, 1000, 10_000]) {
          gridPoint(pool, n, d, pattern)
          gc()
        }
      }
      treeFigures(treeSize)
    }
    bench.finish(
      `mendsync reconciliation, pattern ${pattern}, CPU median of ${flags.runs} sessions`,
    )
  }
  if (failed) {
    console.error('bench:reconcile: a session returned a wrong difference')
    process.exitCode = 1
  }
}

await main()
