// Helpers of the replica benchmark (`test/bench/replica.bench.ts`): statistics, figures, libp2p
// peers on 127.0.0.1 (as `packages/libp2p/bench/net.bench.ts` sets them up), replicas on file
// storage, and waits driven by the replicas' metric events. The peers in their own processes
// (`remote-peer.ts`) open theirs with these helpers too.
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type FigureInput, median, percentile, reportIgnored } from '@mendsync/bench'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  type NodeLibp2pOptions,
} from '@mendsync/libp2p'
import { openReplica, type Replica, type ReplicaOptions } from '@mendsync/replica'
import type { Network, PeerId, SpaceChannel, Storage } from '@mendsync/replica/adapter'
import { type FileStorage, openFileStorage } from '@mendsync/storage-file'

export { rawHandlers } from '@mendsync/bench/raw-handlers'
export { median, percentile }

/** The space every replica of the benchmark holds. */
export const SPACE = 'bench'

/** Longer than any run: keeps timers (reconciliation delay, anti-entropy) out of measurements. */
export const NEVER_MS = 60 * 60 * 1000

/** The benchmark writes faster than gossip's default per-sender acceptance rate (20/s). */
export const FAST_GOSSIP = { gossipRatePerSecond: 10_000, gossipBurst: 10_000 }

/** Pull-only replicas whose divergence only the measured operation (or `sync()`) repairs. */
export const PULL_ONLY = {
  handoff: false,
  reconcileDelayMs: NEVER_MS,
  antiEntropyIntervalMs: NEVER_MS,
  // The per-peer repair rate limit (default 50/s, a flood guard) would pace back-to-back reads.
  repairRatePerSecond: 10_000,
} as const

/** A figure for the harness (its ratio is `value / baseline`); a target bounds it from above. */
export function figure(
  name: string,
  value: number,
  unit: string,
  baseline: number | null = null,
  target: number | null = null,
): FigureInput {
  return { figure: name, value, unit, baseline, target }
}

/** Median over runs of a per-run statistic. */
export function acrossRuns(runs: readonly (readonly number[])[], p: number): number {
  return median(runs.map((samples) => percentile(samples, p)))
}

export const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Fresh directories under one temporary root, removed together. */
export class Directories {
  private readonly root: string
  private count = 0

  constructor(parent: string) {
    this.root = mkdtempSync(join(parent, 'mendsync-replica-bench-'))
  }

  next(): string {
    return mkdtempSync(join(this.root, `r${this.count++}-`))
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** A libp2p node (WebSockets on 127.0.0.1) with the mendsync network on it. */
export async function startNetwork(
  options: Libp2pNetworkOptions = {},
  node: Partial<NodeLibp2pOptions> = {},
): Promise<Libp2pNetwork> {
  const libp2p = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    ...node,
  })
  return await createLibp2pNetwork(libp2p, { stopNodeOnClose: true, ...options })
}

/** Where `network` listens: its first multiaddr, with `/p2p/<peer id>` (what `bootstrap` takes). */
export function addressOf(network: Libp2pNetwork): string {
  const address = network.node.getMultiaddrs()[0]?.toString()
  if (address === undefined) throw new Error('bench: the peer listens nowhere')
  return address.includes('/p2p/') ? address : `${address}/p2p/${network.peerId}`
}

export async function connect(from: Libp2pNetwork, to: Libp2pNetwork): Promise<void> {
  const address = to.node.getMultiaddrs()[0]
  if (address === undefined) throw new Error('bench: the peer listens nowhere')
  await from.node.dial(address)
}

/** A replica on its own file storage and libp2p network. */
export interface Peer {
  readonly replica: Replica
  readonly storage: FileStorage
  readonly network: Libp2pNetwork
  readonly peerId: PeerId
}

/** Opens a replica on a new file storage in `directory`; `probe` times its I/O calls. */
export async function openPeer(
  directory: string,
  network: Libp2pNetwork,
  options: Partial<ReplicaOptions> = {},
  probe?: Probe,
): Promise<Peer> {
  const storage = await openFileStorage({ directory, space: SPACE })
  const replica = await openReplica({
    space: SPACE,
    storage: probe === undefined ? storage : probe.storage(storage),
    network: probe === undefined ? network : probe.network(network),
    ...options,
  })
  return { replica, storage, network, peerId: network.peerId }
}

/** Kinds of call a {@link Probe} times. */
export type CallKind = 'pull' | 'push' | 'storage-get' | 'storage-write'

/**
 * Times a replica's storage and network calls while `active`: per kind of call and for all calls
 * together, the wall time during which at least one such call was in flight (concurrent calls
 * count once), so `total - busy.all` is time the engine spent outside I/O.
 */
export class Probe {
  active = false
  readonly busy = new Map<CallKind | 'all', number>()
  private readonly inFlight = new Map<CallKind | 'all', { count: number; since: number }>()

  reset(): void {
    this.busy.clear()
  }

  private async time<T>(kind: CallKind, call: () => Promise<T>): Promise<T> {
    if (!this.active) return call()
    const enter = (name: CallKind | 'all') => {
      const slot = this.inFlight.get(name) ?? { count: 0, since: 0 }
      if (slot.count++ === 0) slot.since = performance.now()
      this.inFlight.set(name, slot)
    }
    const leave = (name: CallKind | 'all') => {
      const slot = this.inFlight.get(name)
      if (slot === undefined) return
      if (--slot.count === 0)
        this.busy.set(name, (this.busy.get(name) ?? 0) + performance.now() - slot.since)
    }
    enter(kind)
    enter('all')
    try {
      return await call()
    } finally {
      leave(kind)
      leave('all')
    }
  }

  storage(inner: Storage): Storage {
    return {
      get: (namespace, keys) => this.time('storage-get', () => inner.get(namespace, keys)),
      write: (batch) => this.time('storage-write', () => inner.write(batch)),
      scan: (options) => inner.scan(options),
      close: () => inner.close(),
    }
  }

  network(inner: Network): Network {
    const join: Network['join'] = async (space, handlers, options) => {
      const channel = await inner.join(space, handlers, options)
      const timed: SpaceChannel = {
        space: channel.space,
        peers: () => channel.peers(),
        publish: (message) => channel.publish(message),
        on: (event, listener) => channel.on(event, listener),
        leave: () => channel.leave(),
        pull: (peer, keys, mode, call) =>
          this.time('pull', () => channel.pull(peer, keys, mode, call)),
        push: (peer, states, call) => this.time('push', () => channel.push(peer, states, call)),
        reconcile: (peer, driver, call) => channel.reconcile(peer, driver, call),
      }
      return timed
    }
    return {
      get peerId() {
        return inner.peerId
      },
      join,
      close: () => inner.close(),
    }
  }
}

/** Closes the replicas (and their storages), then their networks. */
export async function closePeers(peers: readonly Peer[]): Promise<void> {
  await Promise.all(
    peers.map((peer) => peer.replica.close().catch(reportIgnored('closing a replica'))),
  )
  await Promise.all(
    peers.map((peer) => peer.network.close().catch(reportIgnored('closing a network'))),
  )
}

/**
 * Resolves once `check` holds: checked now, after every metric change of `replicas` (each gossip
 * received is one) and every 20 ms; rejects after `timeoutMs`.
 */
export function waitFor(
  what: string,
  check: () => boolean,
  replicas: readonly Replica[] = [],
  timeoutMs = 20_000,
): Promise<void> {
  if (check()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const stops: (() => void)[] = []
    const finish = (error?: Error) => {
      for (const stop of stops) stop()
      if (error === undefined) resolve()
      else reject(error)
    }
    const poll = () => {
      if (check()) finish()
    }
    for (const replica of replicas) stops.push(replica.onMetric(poll))
    const interval = setInterval(poll, 20)
    const timer = setTimeout(
      () => finish(new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    )
    stops.push(
      () => clearInterval(interval),
      () => clearTimeout(timer),
    )
  })
}

function bytesEqual(x: Uint8Array | undefined, y: Uint8Array): boolean {
  return x !== undefined && x.length === y.length && x.every((byte, i) => byte === y[i])
}

/** `a` knows `b` by gossip (its status lists `b` with a replica id). */
export function knows(a: Peer, b: { readonly peerId: PeerId }): boolean {
  return knowsPeer(a.replica, b.peerId)
}

/** `replica`'s status lists `peer` with a replica id (it heard `peer`'s gossip). */
export function knowsPeer(replica: Replica, peer: PeerId): boolean {
  return replica.status().peers.some((p) => p.peer === peer && p.replicaId !== undefined)
}

/** `reader` has received `writer`'s current summary by gossip (so its latest hints). */
export function heardLatest(reader: Peer, writer: Peer): boolean {
  return heard(reader, writer.peerId, writer.replica.status().summary)
}

/** `reader`'s status shows `summary` as `peer`'s last gossiped summary. */
export function heard(reader: Peer, peer: PeerId, summary: Uint8Array): boolean {
  return reader.replica
    .status()
    .peers.some((p) => p.peer === peer && bytesEqual(p.summary, summary))
}

/** `a` and `b` hold the same keys and states (equal reconciliation summaries). */
export function summariesEqual(a: Peer, b: Peer): boolean {
  return bytesEqual(a.replica.status().summary, b.replica.status().summary)
}

/** A register value of exactly `bytes` ASCII characters, distinct per `seed`. */
export function registerValue(seed: string, bytes = 100): string {
  return `${seed}:`.padEnd(bytes, '.').slice(0, bytes)
}
