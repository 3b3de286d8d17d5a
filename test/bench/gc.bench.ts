// Benchmark of tombstone collection (issue 18), each figure the median over `--runs` runs:
//  1. tombstones_left: 1e5 keys (1e4 with --quick) written at one of three replicas on file
//     storage, synced, deleted, synced; the clock then passes the grace while the replicas keep
//     gossiping, and each runs collection passes until none holds a tombstone (at most 20 rounds).
//     Target 0.
//  2. file_bytes_after_gc_ratio: the file of a replica of figure 1 after its collection (closed,
//     database + WAL) against the file of a replica of an empty space opened and closed in the
//     same run. Target <= 1.1.
//  3. vv_entries_after_retire: 100 replicas (memory storage) each join, write a key and leave
//     for good; 3 stay; once the clock passed the horizon a collection pass retires the 100.
//     The remaining replica's version-vector entries; target <= 4.
//  4. cart_state_bytes_10k_cycles: the stored bytes of a cart after 10,000 add/remove cycles of
//     one line by one replica (no target: the compact context keeps one counter per writer).
// Beside them: the file before collection, the seconds collection took, and the rounds needed.
//
//   pnpm bench:gc [--json] [--runs N] [--quick] [--dir <path>]
//
// Runs on the built packages (`tsc -b` first). Replicas talk over the in-process hub (the
// collection itself is local work; the network only carries gossip and reconciliations).
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median, startBench } from '@mendsync/bench'
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'
import { fileStoragePath, openFileStorage } from '@mendsync/storage-file'

const bench = startBench({
  name: 'gc',
  defaultRuns: 3,
  options: { dir: { type: 'string' } },
})
const KEYS = bench.flags.quick ? 10_000 : 100_000
const RETIRED = bench.flags.quick ? 20 : 100
const CYCLES = 10_000
const MINUTE = 60_000
const GC = { horizonMs: 60 * MINUTE, graceMs: MINUTE, intervalMs: 24 * 60 * MINUTE }
const SPACE = 'gc-bench'

/** A clock every replica of a run shares, moved by the bench. */
class Clock {
  t = Date.now()
  readonly now = () => this.t
}

function sameSummaries(replicas: readonly Replica[]): boolean {
  const [first, ...rest] = replicas.map((r) => r.status().summary)
  return rest.every((s) => s.length === first?.length && s.every((b, i) => b === first[i]))
}

/** Syncs until every summary is equal (bounded). */
async function converge(replicas: readonly Replica[]): Promise<void> {
  for (let round = 0; round < 50; round++) {
    await Promise.all(replicas.map((replica) => replica.sync()))
    await Promise.all(replicas.map((replica) => replica.settled()))
    if (sameSummaries(replicas)) return
    bench.log(`converging: ${replicas.map((r) => r.status().keys).join(' / ')} keys`)
  }
  throw new Error('the replicas did not converge in 50 sync rounds')
}

/** Resolves once every replica received `n` more gossip messages (evidence is gossiped). */
async function gossipRounds(replicas: readonly Replica[], n: number): Promise<void> {
  await Promise.all(
    replicas.map(
      (replica) =>
        new Promise<void>((resolve) => {
          const target = replica.metrics().gossip_received + n
          const stop = replica.onMetric(() => {
            if (replica.metrics().gossip_received >= target) {
              stop()
              resolve()
            }
          })
        }),
    ),
  )
}

async function fileBytes(directory: string): Promise<number> {
  const path = fileStoragePath(directory, SPACE)
  let total = 0
  for (const file of [path, `${path}-wal`]) {
    total += await stat(file).then(
      (s) => s.size,
      () => 0,
    )
  }
  return total
}

async function openFilePeer(hub: InProcessHub, clock: Clock, directory: string) {
  return openReplica({
    space: SPACE,
    storage: await openFileStorage({ directory, space: SPACE }),
    network: hub.createNetwork(),
    now: clock.now,
    gossipIntervalMs: 50,
    gc: GC,
  })
}

/** Figures 1 and 2: one run. */
async function collectionRun(root: string) {
  const clock = new Clock()
  const hub = createInProcessHub()
  const directories = [0, 1, 2].map((i) => join(root, `r${i}`))
  const replicas = await Promise.all(directories.map((dir) => openFilePeer(hub, clock, dir)))
  const writer = replicas[0] as Replica
  const value = 'x'.repeat(100)
  const chunk = 1000
  for (let i = 0; i < KEYS; i += chunk) {
    await Promise.all(
      Array.from({ length: Math.min(chunk, KEYS - i) }, (_, j) => writer.put(`k${i + j}`, value)),
    )
  }
  await converge(replicas)
  for (let i = 0; i < KEYS; i += chunk) {
    await Promise.all(
      Array.from({ length: Math.min(chunk, KEYS - i) }, (_, j) => writer.delete(`k${i + j}`)),
    )
  }
  await converge(replicas)
  await Promise.all(replicas.map((replica) => replica.settled()))
  const before = await fileBytes(directories[0] as string)
  clock.t += GC.graceMs
  const started = performance.now()
  let rounds = 0
  while (rounds < 20 && replicas.some((replica) => replica.status().gc.tombstones > 0)) {
    rounds++
    for (const replica of replicas) await replica.collectGarbage()
    await gossipRounds(replicas, replicas.length)
  }
  await converge(replicas)
  const seconds = (performance.now() - started) / 1000
  const left = replicas.reduce((sum, replica) => sum + replica.status().gc.tombstones, 0)
  const keys = replicas.reduce((sum, replica) => sum + replica.status().keys, 0)
  await Promise.all(replicas.map((replica) => replica.close()))
  const after = await fileBytes(directories[0] as string)

  const emptyDir = join(root, 'empty')
  const empty = await openFilePeer(createInProcessHub(), clock, emptyDir)
  await empty.close()
  const emptyBytes = await fileBytes(emptyDir)
  return { left, keys, before, after, emptyBytes, seconds, rounds }
}

/** Figure 3: one run. */
async function retireRun(): Promise<number> {
  const clock = new Clock()
  const hub = createInProcessHub()
  const open = (name: string) =>
    openReplica({
      space: SPACE,
      storage: new MemoryStorage(),
      network: hub.createNetwork({ peerId: `peer-${name}` }),
      replicaId: name,
      now: clock.now,
      gossipIntervalMs: 50,
      gc: GC,
    })
  const stay = await Promise.all(['a', 'b', 'c'].map(open))
  const watcher = stay[0] as Replica
  for (let i = 0; i < RETIRED; i++) {
    const visitor = await open(`visitor-${i}`)
    await visitor.put(`from-visitor-${i}`, i)
    await converge([...stay, visitor])
    await visitor.close()
    clock.t += MINUTE
  }
  for (const replica of stay) await replica.put(`from-${replica.replicaId}`, 1)
  await converge(stay)
  clock.t += 2 * GC.horizonMs
  await gossipRounds(stay, stay.length)
  await watcher.collectGarbage()
  const entries = watcher.status().versionVector.size
  await Promise.all(stay.map((replica) => replica.close()))
  return entries
}

/** Figure 4. */
async function cartBytes(): Promise<number> {
  const storage = new MemoryStorage()
  const replica = await openReplica({ space: SPACE, storage, replicaId: 'shopper' })
  const cart = replica.cart('cart')
  for (let i = 0; i < CYCLES; i++) {
    await cart.add('apple', 1, { name: 'Apple' })
    await cart.remove('apple')
  }
  await cart.add('pear', 1)
  const [bytes] = await storage.get('values', ['cart'])
  await replica.close()
  return bytes?.length ?? 0
}

const root =
  bench.values.dir === undefined ? await mkdtemp(join(tmpdir(), 'mendsync-gc-')) : bench.values.dir
try {
  const runs: Awaited<ReturnType<typeof collectionRun>>[] = []
  for (let run = 0; run < bench.flags.runs; run++) {
    const dir = join(root, `run-${run}`)
    runs.push(await collectionRun(dir))
    await rm(dir, { recursive: true, force: true })
    bench.log(`run ${run + 1}: ${JSON.stringify(runs.at(-1))}`)
  }
  const of = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick))
  bench.record({
    figure: 'tombstones_left',
    value: of((r) => r.left),
    unit: 'tombstones',
    target: 0,
    note: `${KEYS} keys written and deleted, 3 replicas; keys left ${of((r) => r.keys)}`,
  })
  bench.record({
    figure: 'file_bytes_after_gc_ratio',
    value: of((r) => r.after),
    unit: 'bytes',
    baseline: of((r) => r.emptyBytes),
    target: 1.1,
    note: 'baseline: the file of an empty space',
  })
  bench.record({
    figure: 'file_bytes_before_gc',
    value: of((r) => r.before),
    unit: 'bytes',
    note: 'diagnostic: the same file with every tombstone held',
  })
  bench.record({
    figure: 'gc_seconds',
    value: of((r) => r.seconds),
    unit: 's',
    note: `diagnostic: collection until no tombstone is left, ${of((r) => r.rounds)} rounds`,
  })
  const retired: number[] = []
  for (let run = 0; run < bench.flags.runs; run++) retired.push(await retireRun())
  bench.record({
    figure: 'vv_entries_after_retire',
    value: median(retired),
    unit: 'entries',
    target: 4,
    note: `${RETIRED} replicas came and went, 3 remain`,
  })
  bench.record({
    figure: 'cart_state_bytes_10k_cycles',
    value: await cartBytes(),
    unit: 'bytes',
    note: `${CYCLES} add/remove cycles of one line, then one line added`,
  })
  bench.finish('pnpm bench:gc')
} finally {
  if (bench.values.dir === undefined) await rm(root, { recursive: true, force: true })
}
