// Node <-> Node across two OS processes: the child runs test/fixtures/peer.ts on the bundled Node
// (importing the built packages), is killed with SIGKILL and restarted with the same identity file
// and port, dialling back through bootstrap. The parent sees the peer go and come back
// (`reconnect: true`), pulls and pushes across the boundary, and accepts the restarted child's
// gossip (a new epoch restarts its sequence numbers).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { isMendsyncError } from '@mendsync/core'
import type { SpaceEvents } from '@mendsync/replica/adapter'
import { FakeSpaceStore, text } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2pNetwork } from '../src/index.js'
import { startNetwork, waitFor } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/peer.ts', import.meta.url))

interface Child {
  process: ChildProcess
  events: Record<string, unknown>[]
  exited: Promise<number | null>
}

function spawnChild(args: string[]): Child {
  const child = spawn(process.execPath, [FIXTURE, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  })
  const events: Record<string, unknown>[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // not an event line
    }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(`fixture exited ${code}: ${stderr}`)
      resolve(code)
    })
  })
  return { process: child, events, exited }
}

async function ready(child: Child): Promise<Record<string, unknown>> {
  await waitFor(
    'the child to start',
    () => child.events.some((event) => event.event === 'ready'),
    30_000,
  )
  return child.events.find((event) => event.event === 'ready')!
}

describe('two OS processes', () => {
  let dir: string
  let parent: Libp2pNetwork
  const children: Child[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mendsync-two-process-'))
    parent = await startNetwork({}, { inboundConnectionThreshold: 100 })
  })
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL')
    await parent?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('survives a kill and restart of the other side', async () => {
    const store = new FakeSpaceStore({ 'k-parent': 'from-parent' })
    const channel = await parent.join('two-process', store)
    const connects: SpaceEvents['peer:connect'][] = []
    const disconnects: string[] = []
    const gossip: number[] = []
    channel.on('peer:connect', (event) => connects.push(event))
    channel.on('peer:disconnect', ({ peer }) => disconnects.push(peer))
    channel.on('gossip', ({ message }) => gossip.push(message.versionVector.get('child') ?? -1))

    const identity = join(dir, 'child.key')
    const first = spawnChild([identity, '0', 'two-process'])
    children.push(first)
    const hello = await ready(first)
    expect(hello.sameAsKey).toBe(true)
    const childId = String(hello.peerId)
    expect((await stat(identity)).mode & 0o777).toBe(0o600)

    await parent.node.dial(multiaddr(String((hello.addresses as string[])[0])))
    await waitFor('the child as a peer', () => channel.peers().includes(childId))
    expect(connects[0]).toEqual({ peer: childId, reconnect: false })
    await waitFor('gossip from the child', () => gossip.length >= 2)
    expect(await channel.pull(childId, ['k-child', 'nope'], 'state')).toEqual({
      mode: 'state',
      states: [text('from-child'), null],
    })
    await channel.push(childId, [{ key: 'k-parent', state: text('from-parent') }])
    // The child logs the push on stdout before it acknowledges; the pipe may still deliver later.
    await waitFor('the child to log the push', () =>
      first.events.some((event) => event.event === 'pushed'),
    )

    // Let its sequence numbers run ahead of where the restarted child will be when it reconnects.
    await waitFor('30 gossip messages', () => Math.max(...gossip) >= 30)
    const highest = Math.max(...gossip)
    first.process.kill('SIGKILL')
    await first.exited
    await waitFor('the disconnect', () => disconnects.includes(childId))
    let failure: unknown = null
    try {
      await channel.pull(childId, ['k-child'], 'state', { timeoutMs: 2_000 })
    } catch (error) {
      failure = error
    }
    expect(
      isMendsyncError(failure, 'PEER_UNAVAILABLE') || isMendsyncError(failure, 'NETWORK_CLOSED'),
    ).toBe(true)

    // Same identity file and port; it dials the parent through bootstrap.
    const parentAddress = parent.node.getMultiaddrs()[0]!.toString()
    const second = spawnChild([identity, String(hello.port), 'two-process', parentAddress])
    children.push(second)
    const again = await ready(second)
    expect(again.peerId).toBe(childId)
    expect(again.port).toBe(hello.port)
    await waitFor('the reconnect', () => connects.length === 2, 30_000)
    expect(connects[1]).toEqual({ peer: childId, reconnect: true })
    // The restarted child counts its gossip from 1 again, below what the parent saw before the
    // kill: only a new epoch makes those messages acceptable.
    const before = gossip.length
    await waitFor('gossip after the restart', () => gossip.length > before)
    expect(gossip[before]).toBeLessThan(highest)
    expect(await channel.pull(childId, ['k-child'], 'state')).toEqual({
      mode: 'state',
      states: [text('from-child')],
    })
    await channel.push(childId, [{ key: 'k-again', state: text('x') }])
    await waitFor('the push reported', () =>
      second.events.some((event) => event.event === 'pushed'),
    )

    second.process.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  })
})
