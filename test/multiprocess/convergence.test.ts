import { type ChildProcess, fork } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

// The real-parts version of the convergence checker: separate OS processes, libp2p over
// loopback WebSockets, file replicas, a crash (SIGKILL) and offline writes.

const here = dirname(fileURLToPath(import.meta.url))
const FIXTURE = join(here, 'fixtures', 'peer.ts')
const REPLICA_DIST = join(here, '..', '..', 'packages', 'replica', 'dist', 'index.js')
const SPACE = 'carts'
const CART = 'shared-cart'

interface Ready {
  peerId?: string
  addresses: string[]
}

/** A peer process and its IPC request/reply channel. */
class PeerProcess {
  private nextId = 0
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  readonly exited: Promise<number | null>
  readonly child: ChildProcess
  readonly ready: Ready

  private constructor(child: ChildProcess, ready: Ready) {
    this.child = child
    this.ready = ready
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    child.on(
      'message',
      (message: { id: number; ok: boolean; result?: unknown; error?: string }) => {
        const waiter = this.pending.get(message.id)
        if (waiter === undefined) return
        this.pending.delete(message.id)
        if (message.ok) waiter.resolve(message.result)
        else waiter.reject(new Error(message.error))
      },
    )
    child.once('exit', (code) => {
      for (const waiter of this.pending.values())
        waiter.reject(new Error(`peer exited with ${code}`))
      this.pending.clear()
    })
  }

  static start(options: Record<string, unknown>): Promise<PeerProcess> {
    const child = fork(FIXTURE, [JSON.stringify({ space: SPACE, port: 0, ...options })], {
      execPath: process.execPath,
      // Not the vitest worker's flags: the child must load the built packages, not sources.
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    return new Promise((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`peer exited with ${code} before it was ready`)),
      )
      child.once('message', (message: Ready & { ready?: boolean }) => {
        if (message.ready) resolve(new PeerProcess(child, message))
      })
    })
  }

  request<T>(request: Record<string, unknown>): Promise<T> {
    const id = ++this.nextId
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ id, ...request })
    })
  }

  async close(): Promise<void> {
    await this.request({ op: 'close' })
    await this.exited
  }
}

interface Status {
  summary: string
  keys: number
}

/** Syncs every peer with its neighbours, round after round, until all summaries agree. */
async function converge(peers: PeerProcess[], maxRounds = 40): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    await Promise.all(peers.map((peer) => peer.request({ op: 'sync' })))
    const statuses = await Promise.all(peers.map((peer) => peer.request<Status>({ op: 'status' })))
    if (statuses.every((status) => status.summary === statuses[0]?.summary)) return round
  }
  throw new Error(`peers did not converge within ${maxRounds} sync rounds`)
}

const dataRoot = mkdtempSync(join(tmpdir(), 'mendsync-multiprocess-'))
const running: PeerProcess[] = []
afterAll(async () => {
  for (const peer of running) if (peer.child.exitCode === null) peer.child.kill('SIGKILL')
  rmSync(dataRoot, { recursive: true, force: true })
})

async function start(name: string, options: Record<string, unknown> = {}): Promise<PeerProcess> {
  const peer = await PeerProcess.start({ dir: join(dataRoot, name), ...options })
  running.push(peer)
  return peer
}

describe('five Node processes with file replicas over libp2p', () => {
  it('converge after a peer crashes, writes offline and reconnects, losing nothing', async () => {
    if (!existsSync(REPLICA_DIST))
      throw new Error('build first: the peers import dist (pnpm exec tsc -b)')
    const relay = await start('relay', { relay: true })
    const bootstrap = relay.ready.addresses
    const peers = [
      await start('p1', { bootstrap }),
      await start('p2', { bootstrap }),
      await start('p3', { bootstrap }),
    ]
    let p4 = await start('p4', { bootstrap })
    const everyone = () => [relay, ...peers, p4]
    await Promise.all([...peers, p4].map((peer) => peer.request({ op: 'waitPeers', count: 1 })))
    await relay.request({ op: 'waitPeers', count: 4 })

    const [p1, p2, p3] = peers as [PeerProcess, PeerProcess, PeerProcess]
    await Promise.all(
      [p1, p2, p3, p4].map((peer, i) =>
        peer.request({ op: 'add', key: CART, sku: `sku-p${i + 1}`, qty: 1 }),
      ),
    )
    await converge(everyone())
    const before = await p4.request<[string, number][]>({ op: 'cart', key: CART })
    expect(before).toEqual([
      ['sku-p1', 1],
      ['sku-p2', 1],
      ['sku-p3', 1],
      ['sku-p4', 1],
    ])

    // p4 crashes, comes back without a network and writes; the others keep writing meanwhile.
    p4.child.kill('SIGKILL')
    await p4.exited
    p4 = await start('p4', { offline: true })
    await p4.request({ op: 'remove', key: CART, sku: 'sku-p1' })
    await p4.request({ op: 'add', key: CART, sku: 'offline-x', qty: 2 })
    await p1.request({ op: 'add', key: CART, sku: 'sku-p1', qty: 1 })
    await p2.request({ op: 'add', key: CART, sku: 'online-y', qty: 3 })
    await p4.close()

    p4 = await start('p4', { bootstrap })
    await p4.request({ op: 'waitPeers', count: 1 })
    await converge(everyone())
    const expected = [
      ['offline-x', 2],
      ['online-y', 3],
      // p4 removed the line it had seen; p1's concurrent add survives, alone.
      ['sku-p1', 1],
      ['sku-p2', 1],
      ['sku-p3', 1],
      ['sku-p4', 1],
    ]
    for (const peer of everyone())
      expect(await peer.request({ op: 'cart', key: CART })).toEqual(expected)
    await Promise.all(everyone().map((peer) => peer.close()))
  }, 120_000)
})
