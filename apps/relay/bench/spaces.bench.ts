// `pnpm bench:spaces [--json] [--runs N] [--quick] [--spaces N] [--open N]`: every private-space
// figure. First the grant figures of packages/core/bench/spaces.bench.ts (its own process, the
// same common flags), then the relay's, against a relay in its own process
// (spaces-relay-worker.ts) and one device over real libp2p (WebSockets on loopback):
//
// - relay_rss_per_open_space: the relay's RSS with `--open` (1,000) private spaces open and idle
//   (each holding one key) minus its RSS before any, per space (after a full GC). Target 200 KB.
// - relay_spaces_served: `--spaces` (10,000) spaces created, one key pushed to each, at most
//   `--open` open at once (the relay closes the least recently used to open the next); then
//   every space is asked for its key again (each one closed by then, so each is reopened) and
//   counted when it answers with exactly the state pushed. Target: all of them.
// - space_open_p50: from the first request for a closed space (its proof presented) until the
//   relay answered a pull from it, p50 over those reopens. Target 20 ms. Beside it,
//   space_open_baseline_p50: the same request to a space already open, measured in the same run.
// - outsider_bytes_received: an outsider from stock libp2p + gossipsub (outsider.ts) subscribed
//   to a private space's topic while two granted devices sync through the relay, counted after
//   the second device received the relay's gossip of each of 5 writes. Must be 0.
//
// Runs on the built packages: `pnpm bench:spaces` runs `tsc -b` first.
import { fork, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commonArgv, median, percentile, startBench } from '@mendsync/bench'
import { decodeValue, isMendsyncError, valueEquals } from '@mendsync/core'
import { type AccessProof, type SpaceDescriptor, spaceIdOf } from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type PrivateKey,
} from '@mendsync/libp2p'
import type { SpaceChannel } from '@mendsync/replica/adapter'
import { multiaddr } from '@multiformats/multiaddr'
import {
  grantReadWrite,
  joinPrivateSpace,
  nextGossipFrom,
  registerState as stateOf,
} from '../test/helpers.ts'
import { startOutsider } from './outsider.ts'
import type { WorkerRequest } from './spaces-relay-worker.ts'

const options = {
  spaces: { type: 'string' },
  open: { type: 'string' },
} as const
const bench = startBench({ name: 'spaces', options, defaultRuns: 1 })
const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '..', '..', '..')
const WORKER = join(here, 'spaces-relay-worker.ts')
if (!existsSync(join(here, '..', 'dist', 'index.js'))) {
  throw new Error('apps/relay/dist is missing: run `pnpm exec tsc -b` first')
}

const grants = spawnSync(
  process.execPath,
  [join(root, 'packages/core/bench/spaces.bench.ts'), ...commonArgv(bench.flags)],
  { stdio: 'inherit' },
)
if (grants.status !== 0) throw new Error(`the grant bench exited with ${grants.status}`)

const totalSpaces = Number(bench.values.spaces ?? (bench.flags.quick ? 1_000 : 10_000))
const maxOpen = Number(bench.values.open ?? (bench.flags.quick ? 100 : 1_000))
if (!(Number.isInteger(totalSpaces) && Number.isInteger(maxOpen) && maxOpen < totalSpaces)) {
  throw new Error('--spaces and --open must be integers with --open < --spaces')
}
/** Spaces created at once (the device's requests in flight). */
const CREATE_CONCURRENCY = 8
/** Writes whose gossip the second device must see while the outsider listens. */
const WATCHED_WRITES = 5

/** A request to the worker before its id is assigned. */
type WorkerQuestion = WorkerRequest extends infer R
  ? R extends { readonly id: number }
    ? Omit<R, 'id'>
    : never
  : never

/** The relay process and its questions. */
class RelayWorker {
  private readonly child = fork(WORKER, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  private next = 0
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>()
  address = ''
  peerId = ''

  async start(dataDir: string): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.child.on('message', (message: Record<string, unknown>) => {
        if (message.op === 'ready') {
          this.address = String(message.address)
          this.peerId = String(message.peerId)
          resolve()
        } else if (message.op === 'reply') {
          this.waiting.get(message.id as number)?.(message)
          this.waiting.delete(message.id as number)
        } else if (message.op === 'error') {
          reject(new Error(String(message.message)))
          bench.log(`relay worker: ${String(message.message)}`)
        }
      })
      this.child.once('exit', (code) => reject(new Error(`the relay worker exited (${code})`)))
    })
    this.child.send({ op: 'init', dataDir, maxOpenSpaces: maxOpen })
    await ready
  }

  ask(request: WorkerQuestion): Promise<Record<string, unknown>> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.child.send({ ...request, id })
    })
  }

  /** Presents `space` for `peer` (the stand-in for the network's hook; see the worker). */
  async present(space: SpaceDescriptor, peer: string): Promise<boolean> {
    const reply = await this.ask({
      op: 'present',
      spaceId: spaceIdOf(space),
      owner: toHex(space.owner),
      name: space.name,
      peer,
    })
    return reply.served === true
  }

  async memory(): Promise<{ rss: number; heapUsed: number }> {
    const reply = await this.ask({ op: 'memory' })
    return { rss: reply.rss as number, heapUsed: reply.heapUsed as number }
  }

  async stop(): Promise<void> {
    await this.ask({ op: 'stop' })
    this.child.disconnect()
  }
}

/** A device over libp2p whose key owns every space of the run (or holds a grant in one). */
interface Device {
  readonly key: PrivateKey
  readonly network: Libp2pNetwork
}

async function device(relay: RelayWorker, key?: PrivateKey): Promise<Device> {
  const privateKey = key ?? (await generateIdentity())
  const node = await createNodeLibp2p({
    privateKey,
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrap: [relay.address],
    // The relay's thread stalls on fsyncs while it creates spaces: as the relay does for its
    // clients, do not abort the connection for a late ping answer.
    pingTimeoutMs: 30_000,
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  await node.dial(multiaddr(relay.address))
  return { key: privateKey, network }
}

/** Most attempts of a call whose connection to the relay dropped (the device reconnects). */
const CALL_ATTEMPTS = 5

/**
 * Runs `call`; when it fails because the device is not connected to the relay (a connection
 * dropped under load), waits for the device's own reconnection and runs it again.
 */
async function viaRelay<T>(who: Device, relay: RelayWorker, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call()
    } catch (error) {
      if (!isMendsyncError(error, 'PEER_UNAVAILABLE') || attempt >= CALL_ATTEMPTS) throw error
      bench.log(`the device lost the relay (${(error as Error).message}); waiting to reconnect`)
      const deadline = Date.now() + 60_000
      while (
        !who.network.node
          .getConnections()
          .some((connection) => connection.remotePeer.toString() === relay.peerId)
      ) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
}

function joinSpace(
  who: Device,
  space: SpaceDescriptor,
  proof: AccessProof,
  relay: RelayWorker,
): Promise<SpaceChannel> {
  return joinPrivateSpace(who.network, space, proof, relay.peerId)
}

/** Runs `work(i)` for i in [from, to), `concurrency` at a time. */
async function eachIndex(
  from: number,
  to: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
) {
  let next = from
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await work(next++)
    }),
  )
}

interface RunFigures {
  readonly rssPerSpaceKb: number
  readonly served: number
  readonly openMs: number[]
  readonly openPullMs: number[]
  readonly outsiderBytes: number
}

async function run(runIndex: number): Promise<RunFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mendsync-spaces-bench-'))
  const relay = new RelayWorker()
  try {
    await relay.start(dataDir)
    const owner = await device(relay)
    const spaceOf = (i: number): SpaceDescriptor => ({
      owner: owner.key.publicKey.raw,
      name: `s${i}`,
    })
    const ownerProof = (space: SpaceDescriptor): AccessProof => ({ space, chain: [] })
    const create = async (i: number) => {
      const space = spaceOf(i)
      const channel = await joinSpace(owner, space, ownerProof(space), relay)
      try {
        if (!(await relay.present(space, owner.network.peerId))) {
          throw new Error(`the relay refused space ${i}`)
        }
        await viaRelay(owner, relay, () =>
          channel.push(relay.peerId, [{ key: 'k', state: stateOf(`v${i}`) }]),
        )
      } finally {
        await channel.leave()
      }
    }

    const began = performance.now()
    const seconds = () => ((performance.now() - began) / 1000).toFixed(1)
    const before = await relay.memory()
    await eachIndex(0, maxOpen, CREATE_CONCURRENCY, create)
    const withOpen = await relay.memory()
    const rssPerSpaceKb = (withOpen.rss - before.rss) / maxOpen / 1024
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
    bench.log(
      `run ${runIndex + 1}: ${maxOpen} open idle spaces: relay RSS ${mib(before.rss)} -> ${mib(withOpen.rss)} MiB, ` +
        `heap ${mib(before.heapUsed)} -> ${mib(withOpen.heapUsed)} MiB (${seconds()} s)`,
    )
    await eachIndex(maxOpen, totalSpaces, CREATE_CONCURRENCY, create)
    bench.log(`run ${runIndex + 1}: ${totalSpaces} spaces created (${seconds()} s)`)

    // Every space again, in creation order: the last `maxOpen` were open, but reopening the
    // first ones closed them too, so every request here finds its space closed.
    const openMs: number[] = []
    let served = 0
    for (let i = 0; i < totalSpaces; i++) {
      const space = spaceOf(i)
      const channel = await joinSpace(owner, space, ownerProof(space), relay)
      try {
        const start = performance.now()
        if (!(await relay.present(space, owner.network.peerId))) continue
        const pulled = await viaRelay(owner, relay, () =>
          channel.pull(relay.peerId, ['k'], 'state'),
        )
        openMs.push(performance.now() - start)
        const state = pulled.mode === 'state' ? pulled.states[0] : null
        if (state && valueEquals(decodeValue(state), decodeValue(stateOf(`v${i}`)))) served += 1
      } finally {
        await channel.leave()
      }
    }
    // Baseline: the same present + pull on spaces already open (the last ones asked).
    const openPullMs: number[] = []
    for (let i = totalSpaces - Math.min(200, maxOpen); i < totalSpaces; i++) {
      const space = spaceOf(i)
      const channel = await joinSpace(owner, space, ownerProof(space), relay)
      try {
        const start = performance.now()
        await relay.present(space, owner.network.peerId)
        await viaRelay(owner, relay, () => channel.pull(relay.peerId, ['k'], 'state'))
        openPullMs.push(performance.now() - start)
      } finally {
        await channel.leave()
      }
    }
    bench.log(
      `run ${runIndex + 1}: ${served} of ${totalSpaces} spaces served their key (${seconds()} s)`,
    )

    const outsiderBytes = await watchOutsider(relay, owner)
    await owner.network.close()
    return { rssPerSpaceKb, served, openMs, openPullMs, outsiderBytes }
  } finally {
    await relay.stop().catch((error: unknown) => bench.log(`stopping the relay failed: ${error}`))
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** outsider_bytes_received: see the top of the file. */
async function watchOutsider(relay: RelayWorker, owner: Device): Promise<number> {
  const space = { owner: owner.key.publicKey.raw, name: 'watched' }
  const spaceId = spaceIdOf(space)
  const outsider = await startOutsider(relay.address, [spaceId])
  const second = await device(relay)
  try {
    const grant = await grantReadWrite(owner.key, space, second.key)
    const writer = await joinSpace(owner, space, { space, chain: [] }, relay)
    const reader = await joinSpace(second, space, { space, chain: [grant] }, relay)
    if (!(await relay.present(space, owner.network.peerId))) throw new Error('watched: refused')
    if (!(await relay.present(space, second.network.peerId))) throw new Error('watched: refused')
    for (let i = 0; i < WATCHED_WRITES; i++) {
      // The positive signal: the reader got the relay's gossip after this write.
      const gossiped = nextGossipFrom(reader, relay.peerId)
      await writer.push(relay.peerId, [{ key: `w${i}`, state: stateOf(`w${i}`) }])
      await gossiped
    }
    await writer.leave()
    await reader.leave()
    return outsider.bytesReceived()
  } finally {
    await outsider.stop()
    await second.network.close()
  }
}

const runs: RunFigures[] = []
for (let i = 0; i < bench.flags.runs; i++) runs.push(await run(i))
const openP50 = median(runs.map((figures) => percentile(figures.openMs, 50)))
const openBaseline = median(runs.map((figures) => percentile(figures.openPullMs, 50)))
// The target is on the value (ms), so the open figure carries no baseline (the harness bounds
// the ratio whenever there is one); the same request to an open space is its own figure.
bench.record({ figure: 'space_open_p50', value: openP50, unit: 'ms', target: 20 })
bench.record({
  figure: 'space_open_baseline_p50',
  value: openBaseline,
  unit: 'ms',
  note: 'the same request to a space already open',
})
bench.record({
  figure: 'relay_rss_per_open_space',
  value: median(runs.map((figures) => figures.rssPerSpaceKb)),
  unit: 'KB',
  target: 200,
  note: `${maxOpen} open idle spaces`,
})
bench.record({
  figure: 'relay_spaces_served',
  value: Math.min(...runs.map((figures) => figures.served)),
  unit: 'spaces',
  target: totalSpaces,
  bound: 'min',
  note: `${totalSpaces} created, at most ${maxOpen} open at once`,
})
bench.record({
  figure: 'outsider_bytes_received',
  value: Math.max(...runs.map((figures) => figures.outsiderBytes)),
  unit: 'bytes',
  target: 0,
  note: 'stock libp2p + gossipsub subscribed to the topic',
})
bench.finish('Private spaces: the relay')
