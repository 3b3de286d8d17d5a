// Persistent identity files, the browser dial rule, and the frame-size behaviour of the protocols.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMendsyncError } from '@mendsync/core'
import { FakeSpaceStore, text } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { denyBrowserDial } from '../src/browser.js'
import {
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  type Libp2pNetwork,
  peerIdOf,
} from '../src/index.js'
import { loadIdentity, loadOrCreateIdentity, saveIdentity } from '../src/node-identity.js'
import { dial, startNetwork, waitFor } from './helpers.js'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  // Every cleanup runs; one that fails (a node already stopped by the test) does not stop the rest.
  await Promise.allSettled(cleanup.splice(0).map((close) => close()))
})

describe('identity', () => {
  it('saves with mode 0600, loads the same peer id, creates once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mendsync-identity-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const key = await generateIdentity()
    const path = join(dir, 'nested', 'peer.key')
    await saveIdentity(path, key)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(peerIdOf(await loadIdentity(path))).toBe(peerIdOf(key))
    const created = await loadOrCreateIdentity(join(dir, 'new.key'))
    expect(peerIdOf(await loadOrCreateIdentity(join(dir, 'new.key')))).toBe(peerIdOf(created))
    expect(peerIdOf(identityFromBytes(identityToBytes(key)))).toBe(peerIdOf(key))
  })

  it('fails on bad bytes with DECODE_ERROR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mendsync-identity-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'bad.key'), 'not a key')
    let failure: unknown
    try {
      await loadOrCreateIdentity(join(dir, 'bad.key'))
    } catch (error) {
      failure = error
    }
    expect(isMendsyncError(failure, 'DECODE_ERROR')).toBe(true)
  })
})

describe('browser dial rule', () => {
  const hosts = ['localhost', '127.0.0.1', '::1']
  it.each([
    ['/ip4/127.0.0.1/tcp/4001/ws', false],
    ['/dns4/localhost/tcp/4001/ws', false],
    ['/ip6/::1/tcp/4001/ws', false],
    ['/ip4/192.168.1.10/tcp/4001/ws', true],
    ['/dns4/relay.example.com/tcp/443/ws', true],
    ['/dns4/relay.example.com/tcp/443/wss', false],
    ['/dns4/relay.example.com/tcp/443/tls/ws', false],
    ['/ip4/10.0.0.1/tcp/4001', true],
    [
      '/dns4/relay.example.com/tcp/443/wss/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp/p2p-circuit',
      false,
    ],
  ])('%s denied: %s', (address, denied) => {
    expect(denyBrowserDial(multiaddr(address), hosts)).toBe(denied)
  })
})

describe('frame limits', () => {
  async function pair(options: Parameters<typeof startNetwork>[0]) {
    const a = await startNetwork(options)
    const b = await startNetwork(options)
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    const storeB = new FakeSpaceStore()
    const channelA = await a.join('space', new FakeSpaceStore())
    const channelB = await b.join('space', storeB)
    await dial(a.node, b.node)
    await waitFor(
      'peers',
      () => channelA.peers().includes(b.peerId) && channelB.peers().includes(a.peerId),
    )
    return { a, b, channelA, storeB }
  }

  it('splits a push over several frames and acknowledges it once', async () => {
    const { b, channelA, storeB } = await pair({ maxFrameBytes: 4096 })
    const states = Array.from({ length: 20 }, (_, i) => ({
      key: `k${i}`,
      state: new Uint8Array(1000).fill(i),
    }))
    await channelA.push(b.peerId, states)
    expect(storeB.pushed.length).toBeGreaterThan(4)
    expect(storeB.pushed.flatMap((entry) => entry.states)).toEqual(states)
  })

  it('fails a push of one state larger than a frame with FRAME_TOO_LARGE, locally', async () => {
    const { b, channelA, storeB } = await pair({ maxFrameBytes: 4096 })
    let failure: unknown
    try {
      await channelA.push(b.peerId, [{ key: 'big', state: new Uint8Array(5000) }])
    } catch (error) {
      failure = error
    }
    expect(isMendsyncError(failure, 'FRAME_TOO_LARGE')).toBe(true)
    expect(storeB.pushed).toEqual([])
  })

  it('answers a pull whose reply would not fit with FRAME_TOO_LARGE and keeps the stream', async () => {
    const { b, channelA, storeB } = await pair({ maxFrameBytes: 4096 })
    storeB.states.set('big', new Uint8Array(5000))
    storeB.states.set('small', text('s'))
    let failure: unknown
    try {
      await channelA.pull(b.peerId, ['big'], 'state')
    } catch (error) {
      failure = error
    }
    expect(isMendsyncError(failure, 'FRAME_TOO_LARGE')).toBe(true)
    expect(await channelA.pull(b.peerId, ['small'], 'state')).toEqual({
      mode: 'state',
      states: [text('s')],
    })
  })

  it('carries reconcile states over several frames', async () => {
    const { b, channelA, storeB } = await pair({ maxFrameBytes: 4096 })
    const storeA = new FakeSpaceStore()
    for (let i = 0; i < 12; i++) {
      storeA.states.set(`a${i}`, new Uint8Array(1000).fill(i))
      storeB.states.set(`b${i}`, new Uint8Array(1000).fill(i))
    }
    // Session messages carry hex hashes of whole states here: one item per message fits a frame.
    storeA.chunk = 1
    storeB.chunk = 1
    const outcome = await channelA.reconcile(b.peerId, storeA.driver())
    expect(outcome.received).toHaveLength(12)
    expect(storeB.accepted).toHaveLength(12)
    expect(outcome.bytesSent).toBeGreaterThan(12_000)
  })
})

describe('network lifecycle', () => {
  it('closes cleanly with streams open and leaves the node running unless asked', async () => {
    const a = await startNetwork({ stopNodeOnClose: false })
    const b = await startNetwork()
    cleanup.push(
      async () => {
        await a.node.stop()
      },
      () => b.close(),
    )
    const channelA = await a.join('space', new FakeSpaceStore())
    const channelB = await b.join('space', new FakeSpaceStore({ k: 'v' }))
    await dial(a.node, b.node)
    await waitFor('peers', () => channelA.peers().includes(b.peerId))
    await channelA.pull(b.peerId, ['k'], 'state')
    const disconnects: string[] = []
    channelB.on('peer:disconnect', ({ peer }) => disconnects.push(peer))
    await a.close()
    expect(a.node.status).toBe('started')
    // The peer sees it leave the space (unsubscribe) though the connection stays.
    await waitFor('leave seen', () => disconnects.includes(a.peerId))
    let failure: unknown
    try {
      await channelB.pull(a.peerId, ['k'], 'state')
    } catch (error) {
      failure = error
    }
    expect(isMendsyncError(failure, 'PEER_UNAVAILABLE')).toBe(true)
    expect((b as Libp2pNetwork).stats().inboundStreams).toBe(0)
  })
})
