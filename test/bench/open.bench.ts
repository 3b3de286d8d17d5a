// Benchmark of opening a big file replica (issue #17 item 5): a file storage holding `--keys`
// records (default 1,000,000; 100,000 with --quick) is opened as a replica, then one key is read
// (repair 'none'):
//  - `replica_open_1e6_ms`: from `openFileStorage` until that first `get` resolved (target:
//    <= 300 ms); beside it the raw storage's open and read of the same key in the same run
//    (`raw_storage_open_1e6_ms`), and `replica_ready_1e6_ms`, until the replica has settled
//    (the reconciliation tree and the recency index built in the background).
// The records are one real state (written by a replica) stored under every key: what open costs
// depends on how many records there are and how large, not on their dots.
//
//   pnpm bench:open [--json] [--runs N] [--quick] [--keys N] [--dir <path>]
//
// Runs on the built packages (`tsc -b` first), in this process; the file is built once and
// reopened each run, alternating replica and raw opens. Each figure is the median over `--runs`.
import { tmpdir } from 'node:os'
import { startBench } from '@mendsync/bench'
import { openReplica } from '@mendsync/replica'
import { openFileStorage } from '@mendsync/storage-file'
import { Directories, figure, median, registerValue, SPACE } from './replica/support.ts'

const bench = startBench({
  name: 'open',
  defaultRuns: 5,
  quickRuns: 2,
  options: { dir: { type: 'string', default: tmpdir() }, keys: { type: 'string' } },
})
const KEYS = Number(bench.values.keys ?? (bench.flags.quick ? 100_000 : 1_000_000))
if (!Number.isInteger(KEYS) || KEYS < 1) throw new Error('--keys must be an integer >= 1')
const RUNS = bench.flags.runs
const BATCH = 10_000
const key = (i: number) => `item/${String(i).padStart(7, '0')}`
/** A key in the middle of the key order: no scan order favours it. */
const PROBE = key(Math.floor(KEYS / 2))
const suffix = KEYS === 1_000_000 ? '1e6' : `${KEYS}`

const dirs = new Directories(bench.values.dir ?? tmpdir())
process.once('exit', () => dirs.remove())
const directory = dirs.next()

// Build the file: one replica write for a real state, then that state under every key.
{
  const storage = await openFileStorage({ directory, space: SPACE })
  const replica = await openReplica({ space: SPACE, storage, repair: 'none' })
  await replica.put(key(0), registerValue(key(0)))
  const [state] = await storage.get('values', [key(0)])
  await replica.close()
  if (state === undefined) throw new Error('bench: the template write is missing')
  const filler = await openFileStorage({ directory, space: SPACE })
  const started = performance.now()
  for (let from = 1; from < KEYS; from += BATCH) {
    const values = []
    for (let i = from; i < Math.min(KEYS, from + BATCH); i++)
      values.push({ key: key(i), value: state })
    await filler.write({ values })
  }
  await filler.close()
  bench.log(`built ${KEYS} records in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

const open: number[] = []
const raw: number[] = []
const ready: number[] = []
for (let run = -1; run < RUNS; run++) {
  // Raw: the storage's own open and read of the same key.
  let started = performance.now()
  const storage = await openFileStorage({ directory, space: SPACE })
  const [bytes] = await storage.get('values', [PROBE])
  const rawMs = performance.now() - started
  await storage.close()
  if (bytes === undefined) throw new Error('bench: wrong raw read')
  // The replica: open, first read; then until its background indexing is done.
  started = performance.now()
  const replica = await openReplica({
    space: SPACE,
    storage: await openFileStorage({ directory, space: SPACE }),
    repair: 'none',
  })
  const read = await replica.get(PROBE)
  const openMs = performance.now() - started
  if (typeof read.value !== 'string') throw new Error('bench: wrong first read')
  await replica.settled()
  const readyMs = performance.now() - started
  await replica.close()
  bench.log(
    `  run ${run + 1}: open+read ${openMs.toFixed(0)} ms, raw ${rawMs.toFixed(0)} ms, ready ${readyMs.toFixed(0)} ms`,
  )
  if (run < 0) continue // warm-up (file cache)
  open.push(openMs)
  raw.push(rawMs)
  ready.push(readyMs)
}
bench.record(figure(`replica_open_${suffix}_ms`, median(open), 'ms', null, 300))
bench.record(figure(`raw_storage_open_${suffix}_ms`, median(raw), 'ms'))
bench.record(figure(`replica_ready_${suffix}_ms`, median(ready), 'ms'))
bench.record(figure('replica_open_keys', KEYS, 'keys'))
bench.finish(`open bench: median of ${RUNS} run(s)${bench.flags.quick ? ' (--quick)' : ''}`)
