// Benchmark of @mendsync/storage-file against raw node:sqlite on the same bytes, in the same run.
//
//   pnpm exec tsc -b && node packages/storage-file/bench/storage.bench.ts [--json] [--runs 5] [--quick] [--dir <path>]
//
// Figures: writes/s and reads/s (records per second) for 100 B and 10 KB values in batches of 1,
// 100 and 1,000, each the median of `--runs` runs, beside a raw baseline measured on the same
// keys and values: raw writes are plain INSERTs into a `k TEXT PRIMARY KEY, v BLOB` table, one
// transaction per batch, with the same durability settings (WAL, synchronous=FULL); raw reads are
// one prepared `SELECT` per key, collected into an array per batch (what `get` returns). Each
// write run uses fresh files. Targets: writes in batches >= 0.7x
// raw, reads >= 0.8x raw (ratio = value / baseline). `--quick`: a tenth of the records, 2 runs.
// `--json` prints one line per figure:
//   {"bench":"storage","figure":"file.write.100B.batch100","value":..,"unit":"ops/s",
//    "baseline":..,"ratio":..,"target":0.7}
// The files go to a temporary directory under `--dir` (default: the OS temp directory); use a
// directory on the disk you care about (a tmpfs makes fsync free and the figures meaningless).
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { median, startBench } from '@mendsync/bench'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
if (!existsSync(dist)) {
  console.error(`storage bench: ${dist} is missing; build first with \`pnpm exec tsc -b\``)
  process.exit(1)
}
const { openFileStorage } = await import('@mendsync/storage-file')

const bench = startBench({
  name: 'storage',
  defaultRuns: 5,
  quickRuns: 2,
  options: { dir: { type: 'string', default: tmpdir() } },
})
const RUNS = bench.flags.runs
/** Under `--quick`, every record count is divided by this. */
const SCALE = bench.flags.quick ? 10 : 1
const READS = 20_000 / SCALE
const root = mkdtempSync(join(bench.values.dir ?? tmpdir(), 'mendsync-storage-bench-'))

interface Workload {
  readonly keys: string[]
  readonly values: Uint8Array[]
}

let counter = 0
function freshDirectory(): string {
  return mkdtempSync(join(root, `run${counter++}-`))
}

function workload(count: number, size: number): Workload {
  const keys: string[] = []
  const values: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    // Scattered, not ascending: inserts land all over the B-tree, as application keys do.
    keys.push(`user/${(Math.imul(i + 1, 2_654_435_761) >>> 0).toString(16).padStart(8, '0')}/${i}`)
    values.push(new Uint8Array(randomBytes(size)))
  }
  return { keys, values }
}

function openRaw(path: string): DatabaseSync {
  const db = new DatabaseSync(path)
  db.exec(`PRAGMA journal_mode = WAL;
           PRAGMA synchronous = FULL;
           CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL);`)
  return db
}

/** Records per second writing `work` in batches of `batch` through FileStorage. */
async function writeFile(work: Workload, batch: number): Promise<number> {
  const storage = await openFileStorage({ directory: freshDirectory(), space: 'bench' })
  const start = performance.now()
  for (let i = 0; i < work.keys.length; i += batch) {
    const values = []
    for (let j = i; j < Math.min(work.keys.length, i + batch); j++) {
      values.push({ key: work.keys[j]!, value: work.values[j]! })
    }
    await storage.write({ values })
  }
  const seconds = (performance.now() - start) / 1000
  await storage.close()
  return work.keys.length / seconds
}

/** Records per second writing `work` with `concurrency` single-record writes in flight. */
async function writeFileConcurrent(work: Workload, concurrency: number): Promise<number> {
  const storage = await openFileStorage({ directory: freshDirectory(), space: 'bench' })
  let next = 0
  const start = performance.now()
  const writer = async () => {
    while (next < work.keys.length) {
      const i = next++
      await storage.write({ values: [{ key: work.keys[i]!, value: work.values[i]! }] })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, writer))
  const seconds = (performance.now() - start) / 1000
  await storage.close()
  return work.keys.length / seconds
}

/** Records per second writing `work` in batches of `batch` with raw node:sqlite. */
function writeRaw(work: Workload, batch: number): number {
  const db = openRaw(join(freshDirectory(), 'raw.sqlite'))
  const insert = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)')
  const start = performance.now()
  for (let i = 0; i < work.keys.length; i += batch) {
    db.exec('BEGIN IMMEDIATE')
    for (let j = i; j < Math.min(work.keys.length, i + batch); j++)
      insert.run(work.keys[j]!, work.values[j]!)
    db.exec('COMMIT')
  }
  const seconds = (performance.now() - start) / 1000
  db.close()
  return work.keys.length / seconds
}

/** A populated FileStorage and raw database holding `work`, for the read figures. */
async function populate(work: Workload) {
  const directory = freshDirectory()
  const storage = await openFileStorage({ directory, space: 'bench' })
  const raw = openRaw(join(directory, 'raw.sqlite'))
  const insert = raw.prepare('INSERT INTO kv (k, v) VALUES (?, ?)')
  for (let i = 0; i < work.keys.length; i += 1000) {
    const values = []
    raw.exec('BEGIN')
    for (let j = i; j < Math.min(work.keys.length, i + 1000); j++) {
      values.push({ key: work.keys[j]!, value: work.values[j]! })
      insert.run(work.keys[j]!, work.values[j]!)
    }
    raw.exec('COMMIT')
    await storage.write({ values })
  }
  return { storage, raw }
}

/** Keys to read, in batches: a scattered walk over `keys`, the same for both sides. */
function readPlan(keys: string[], reads: number, batch: number): string[][] {
  const batches: string[][] = []
  for (let i = 0; i < reads; i += batch) {
    const group: string[] = []
    for (let j = i; j < Math.min(reads, i + batch); j++) {
      group.push(keys[(Math.imul(j, 40_503) >>> 0) % keys.length]!)
    }
    batches.push(group)
  }
  return batches
}

const SIZES = [
  { label: '100B', bytes: 100 },
  { label: '10KB', bytes: 10 * 1024 },
] as const
const BATCHES = [1, 100, 1000] as const

/** Records written per run, by value size and batch size (each run ~0.1-0.5 s). */
function writeCount(bytes: number, batch: number): number {
  if (batch === 1) return 300 / SCALE
  if (bytes <= 100) return (batch === 100 ? 5000 : 20_000) / SCALE
  return (batch === 100 ? 2000 : 5000) / SCALE
}

/** Records a figure in records per second; the target is a lower bound on the ratio. */
function record(figure: string, value: number, baseline: number, target: number | null) {
  bench.record({
    figure,
    value: Math.round(value),
    unit: 'ops/s',
    baseline: Math.round(baseline),
    target,
    bound: 'min',
  })
}

for (const size of SIZES) {
  for (const batch of BATCHES) {
    const work = workload(writeCount(size.bytes, batch), size.bytes)
    const ours: number[] = []
    const raw: number[] = []
    for (let run = 0; run < RUNS; run++) {
      // Alternate which side goes first, so drift (page cache, disk) does not favour one.
      if (run % 2 === 0) {
        ours.push(await writeFile(work, batch))
        raw.push(writeRaw(work, batch))
      } else {
        raw.push(writeRaw(work, batch))
        ours.push(await writeFile(work, batch))
      }
    }
    record(`file.write.${size.label}.batch${batch}`, median(ours), median(raw), 0.7)
    if (batch === 1) {
      // Group commit: many single-record writes in flight share transactions.
      const concurrent: number[] = []
      const concurrentWork = workload(2000 / SCALE, size.bytes)
      for (let run = 0; run < RUNS; run++)
        concurrent.push(await writeFileConcurrent(concurrentWork, 64))
      record(`file.write.${size.label}.batch1.concurrent64`, median(concurrent), median(raw), null)
    }
  }

  const stored = workload((size.bytes <= 100 ? 20_000 : 5000) / SCALE, size.bytes)
  const { storage, raw } = await populate(stored)
  const select = raw.prepare('SELECT v FROM kv WHERE k = ?')
  for (const batch of BATCHES) {
    const plan = readPlan(stored.keys, READS, batch)
    const ours: number[] = []
    const base: number[] = []
    const readOurs = async () => {
      const start = performance.now()
      let found = 0
      for (const keys of plan)
        for (const value of await storage.get('values', keys)) if (value) found++
      const seconds = (performance.now() - start) / 1000
      if (found !== READS) throw new Error(`read ${found} of ${READS} records`)
      return READS / seconds
    }
    const readRaw = async () => {
      const start = performance.now()
      let found = 0
      for (const keys of plan) {
        // The same product as `get`: the batch's values in an array.
        const values: (Uint8Array | undefined)[] = new Array(keys.length)
        for (let i = 0; i < keys.length; i++) {
          values[i] = (select.get(keys[i]!) as { v: Uint8Array } | undefined)?.v
        }
        for (const value of values) if (value) found++
      }
      const seconds = (performance.now() - start) / 1000
      if (found !== READS) throw new Error(`raw read ${found} of ${READS} records`)
      return READS / seconds
    }
    await readOurs() // warm both the page cache and the JIT once, outside the samples
    await readRaw()
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) {
        ours.push(await readOurs())
        base.push(await readRaw())
      } else {
        base.push(await readRaw())
        ours.push(await readOurs())
      }
    }
    record(`file.read.${size.label}.batch${batch}`, median(ours), median(base), 0.8)
  }
  await storage.close()
  raw.close()
}

rmSync(root, { recursive: true, force: true })

bench.finish(
  `storage-file vs raw node:sqlite (WAL, synchronous=FULL), median of ${RUNS} runs${bench.flags.quick ? ' (--quick)' : ''}`,
)
