// `pnpm bench:reconcile [--n N --d D] [--pattern uniform|clustered|one-sided|versions]
//   [--json] [--reps R] [--figures]`
//
// Runs reconciliation sessions between two in-process replicas (ReconcileTree + ReconcileSession
// from the built `@mendsync/core`: run `pnpm exec tsc -b` first) and prints one JSON line per
// (n, d, pattern) run:
//   {"n","d","pattern","rounds","bytesAtoB","bytesBtoA","cpuMsA","cpuMsB","buildMs","heapMB","correct"}
// `rounds` = ceil(messages / 2) (a message and its reply; a lone last message counts as a round);
// zero when the gossip summaries are equal (no session). Bytes are session metadata only (the
// 22-byte gossip summary not included). cpuMs = CPU time (process.cpuUsage) spent in that side's
// initiate()/receive() calls, median of --reps sessions (default 5). buildMs = CPU time of
// bulk-loading A's tree (hashing included). heapMB = V8 heap + array buffers after the run.
// Without --n/--d: the grid n in {1e4, 1e5, 1e6} x d in {0, 1, 10, 100, 1000, 10000} as a table
// (plus JSON lines with --json), then the tree figures at n = 1e6 as JSON lines
// {"bench":"reconcile","figure","value","unit","target"} (also printed with --figures).

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { markdownTable, median } from '@mendsync/bench'
import { ReconcileSession, ReconcileTree, summariesEqual } from '@mendsync/core'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

type Pattern = 'uniform' | 'clustered' | 'one-sided' | 'versions'
const PATTERNS: readonly Pattern[] = ['uniform', 'clustered', 'one-sided', 'versions']

interface Args {
  n: number | null
  d: number | null
  pattern: Pattern
  json: boolean
  reps: number
  figures: boolean
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { n: null, d: null, pattern: 'uniform', json: false, reps: 5, figures: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--n') args.n = Number(value())
    else if (a === '--d') args.d = Number(value())
    else if (a === '--reps') args.reps = Number(value())
    else if (a === '--pattern') {
      const p = value() as Pattern
      if (!PATTERNS.includes(p)) throw new Error(`--pattern must be one of ${PATTERNS.join(', ')}`)
      args.pattern = p
    } else if (a === '--json') args.json = true
    else if (a === '--figures') args.figures = true
    else throw new Error(`unknown argument ${a}`)
  }
  for (const [name, v] of [
    ['--n', args.n],
    ['--d', args.d],
  ] as const) {
    if (v !== null && (!Number.isInteger(v) || v < 0)) throw new Error(`${name} must be an integer`)
  }
  if (!Number.isInteger(args.reps) || args.reps < 1) throw new Error('--reps must be >= 1')
  return args
}

// ---- data ------------------------------------------------------------------------------------

/** xorshift32, seeded: reproducible data. */
function rng(seed: number): () => number {
  let s = seed | 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return s >>> 0
  }
}

/** Time-ordered keys: "key:" + 10-digit counter, so key order is insertion order. */
function makeKeys(count: number): string[] {
  const keys = new Array<string>(count)
  for (let i = 0; i < count; i++) keys[i] = `key:${String(i * 7).padStart(10, '0')}`
  return keys
}

function fillRandom(bytes: Uint8Array, next: () => number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2)
  for (let i = 0; i < words.length; i++) words[i] = next()
}

interface Side {
  keys: string[]
  hashes: Uint8Array
}

interface Scenario {
  a: Side
  b: Side
  /** The keys of the true difference. */
  expected: Set<string>
}

function pickDistinct(count: number, from: number, next: () => number): number[] {
  const chosen = new Set<number>()
  while (chosen.size < count) chosen.add(next() % from)
  return [...chosen]
}

/**
 * uniform: d random keys differ, half only on A and half only on B; clustered: the d most recent
 * keys differ (alternately A-only and B-only); one-sided: B has d keys A lacks (A is a subset of
 * B); versions: both have the same keys and d of them carry different states on each side.
 */
function scenario(pool: readonly string[], n: number, d: number, pattern: Pattern): Scenario {
  const next = rng(0x5eed ^ (n * 31 + d * 7 + pattern.length))
  const total = pattern === 'versions' ? n : n + d
  const hashes = new Uint8Array(32 * total)
  fillRandom(hashes, next)
  const aOnly = new Set<number>()
  const bOnly = new Set<number>()
  const changed = new Set<number>()
  if (pattern === 'uniform') {
    const picked = pickDistinct(d, total, next)
    picked.forEach((i, k) => {
      ;(k % 2 === 0 ? aOnly : bOnly).add(i)
    })
  } else if (pattern === 'clustered') {
    for (let k = 0; k < d; k++) (k % 2 === 0 ? aOnly : bOnly).add(total - d + k)
  } else if (pattern === 'one-sided') {
    for (const i of pickDistinct(d, total, next)) bOnly.add(i)
  } else {
    for (const i of pickDistinct(d, total, next)) changed.add(i)
  }
  const expected = new Set<string>()
  const build = (skip: Set<number>, alt: boolean): Side => {
    const keys: string[] = []
    const out = new Uint8Array(32 * (total - skip.size))
    let j = 0
    for (let i = 0; i < total; i++) {
      if (skip.has(i)) continue
      keys.push(pool[i]!)
      out.set(hashes.subarray(32 * i, 32 * i + 32), 32 * j)
      if (alt && changed.has(i)) out[32 * j] = out[32 * j]! ^ 0xff
      j++
    }
    return { keys, hashes: out }
  }
  for (const i of [...aOnly, ...bOnly, ...changed]) expected.add(pool[i]!)
  return { a: build(bOnly, false), b: build(aOnly, true), expected }
}

// ---- measurement -----------------------------------------------------------------------------

function cpuMs(f: () => void): number {
  const start = process.cpuUsage()
  f()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

interface SessionResult {
  messages: number
  bytesAtoB: number
  bytesBtoA: number
  cpuA: number
  cpuB: number
  differing: Set<string>
  complete: boolean
}

function runSession(a: ReconcileTree, b: ReconcileTree): SessionResult {
  const result: SessionResult = {
    messages: 0,
    bytesAtoB: 0,
    bytesBtoA: 0,
    cpuA: 0,
    cpuB: 0,
    differing: new Set(),
    complete: false,
  }
  if (summariesEqual(a.summary(), b.summary())) {
    result.complete = true
    return result
  }
  const sa = new ReconcileSession(a)
  const sb = new ReconcileSession(b)
  let message: Uint8Array | null = null
  result.cpuA += cpuMs(() => {
    message = sa.initiate()
  })
  let toB = true
  let doneA = false
  let doneB = false
  while (message !== null) {
    const m: Uint8Array = message
    result.messages++
    if (toB) result.bytesAtoB += m.length
    else result.bytesBtoA += m.length
    const session = toB ? sb : sa
    let step: ReturnType<ReconcileSession['receive']> | undefined
    const ms = cpuMs(() => {
      step = session.receive(m)
    })
    if (toB) result.cpuB += ms
    else result.cpuA += ms
    const s = step!
    if (s.done) {
      for (const key of s.differing ?? []) result.differing.add(key)
      if (toB) doneB = true
      else doneA = true
    }
    message = s.reply
    toB = !toB
  }
  result.complete = doneA && doneB
  return result
}

interface RunLine {
  n: number
  d: number
  pattern: Pattern
  rounds: number
  bytesAtoB: number
  bytesBtoA: number
  cpuMsA: number
  cpuMsB: number
  buildMs: number
  heapMB: number
  correct: boolean
}

function heapMB(): number {
  const m = process.memoryUsage()
  return Math.round(((m.heapUsed + m.arrayBuffers) / 2 ** 20) * 10) / 10
}

function run(
  pool: readonly string[],
  n: number,
  d: number,
  pattern: Pattern,
  reps: number,
): RunLine {
  let s: Scenario | null = scenario(pool, n, d, pattern)
  let a: ReconcileTree | undefined
  const buildMs = cpuMs(() => {
    a = ReconcileTree.fromSorted(s!.a.keys, s!.a.hashes)
  })
  const b = ReconcileTree.fromSorted(s.b.keys, s.b.hashes)
  const expected = s.expected
  s = null
  const results: SessionResult[] = []
  for (let r = 0; r < reps; r++) results.push(runSession(a!, b))
  const first = results[0]!
  const correct =
    results.every((res) => res.complete) &&
    first.differing.size === expected.size &&
    [...expected].every((k) => first.differing.has(k))
  const line: RunLine = {
    n,
    d,
    pattern,
    rounds: Math.ceil(first.messages / 2),
    bytesAtoB: first.bytesAtoB,
    bytesBtoA: first.bytesBtoA,
    cpuMsA: round1(median(results.map((r) => r.cpuA))),
    cpuMsB: round1(median(results.map((r) => r.cpuB))),
    buildMs: round1(buildMs),
    heapMB: heapMB(),
    correct,
  }
  return line
}

function round1(x: number): number {
  return Math.round(x * 10) / 10
}

// ---- tree figures ----------------------------------------------------------------------------

interface Figure {
  bench: 'reconcile'
  figure: string
  value: number
  unit: string
  target: number
}

function treeFigures(n: number): Figure[] {
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
  const ops = 400_000
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
  const fig = (figure: string, value: number, unit: string, target: number): Figure => ({
    bench: 'reconcile',
    figure,
    value,
    unit,
    target,
  })
  const tag = n === 1_000_000 ? '1e6' : String(n)
  return [
    fig(`tree.updatesPerSec.${tag}`, Math.round(ops / (opMs / 1000)), 'ops/s', 200_000),
    fig(`tree.bytesPerItem.${tag}`, round1(bytesPerItem), 'bytes/item', 80),
    fig(`tree.rebuildMs.${tag}`, round1(median(rebuild)), 'ms', 2000),
    fig(`tree.loadMs.${tag}`, round1(loadMs), 'ms', 2000),
  ]
}

// ---- main ------------------------------------------------------------------------------------

function printTable(lines: readonly RunLine[]): void {
  const header = [
    'n',
    'd',
    'pattern',
    'rounds',
    'bytes A->B',
    'bytes B->A',
    'bytes total',
    'cpu ms A',
    'cpu ms B',
    'build ms',
    'heap MB',
    'correct',
  ]
  const rows = lines.map((l) => [
    l.n.toLocaleString('en-US'),
    l.d.toLocaleString('en-US'),
    l.pattern,
    String(l.rounds),
    l.bytesAtoB.toLocaleString('en-US'),
    l.bytesBtoA.toLocaleString('en-US'),
    (l.bytesAtoB + l.bytesBtoA).toLocaleString('en-US'),
    l.cpuMsA.toFixed(1),
    l.cpuMsB.toFixed(1),
    l.buildMs.toFixed(0),
    l.heapMB.toFixed(0),
    String(l.correct),
  ])
  console.log(markdownTable(header, rows, 3))
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  let failed = false
  if (args.n !== null || args.d !== null) {
    const n = args.n ?? 100_000
    const d = args.d ?? 100
    const pool = makeKeys(n + d)
    const line = run(pool, n, d, args.pattern, args.reps)
    failed ||= !line.correct
    if (args.json) console.log(JSON.stringify(line))
    else printTable([line])
    if (args.figures) for (const f of treeFigures(1_000_000)) console.log(JSON.stringify(f))
  } else {
    const lines: RunLine[] = []
    for (const n of [10_000, 100_000, 1_000_000]) {
      const pool = makeKeys(n + 10_000)
      for (const d of [0, 1, 10, 100, 1000, 10_000]) {
        const line = run(pool, n, d, args.pattern, args.reps)
        failed ||= !line.correct
        lines.push(line)
        if (args.json) console.log(JSON.stringify(line))
        gc()
      }
    }
    printTable(lines)
    for (const f of treeFigures(1_000_000)) console.log(JSON.stringify(f))
  }
  if (failed) {
    console.error('bench:reconcile: a session returned a wrong difference')
    process.exitCode = 1
  }
}

main()
