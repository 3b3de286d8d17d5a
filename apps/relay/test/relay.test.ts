// The built `mendsync-relay` binary as a child process: it answers /healthz and /metrics, two
// Node peers sync through it, SIGTERM stops it with status 0, a restart keeps its peer id and its
// data, and neither SIGTERM nor SIGKILL loses a write it acknowledged.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeValue, emptyValue, encodeValue, valueEquals, writeRegister } from '@mendsync/core'
import type { KeyState } from '@mendsync/replica/adapter'
import { describe, expect, it } from 'vitest'
import {
  type Client,
  connectedTo,
  nextChange,
  type RelayProcess,
  rawPeer,
  relayTestbed,
  sampleValue,
  scrape,
  waitFor,
} from './helpers.js'

const testbed = relayTestbed('mendsync-relay-')
const spawnRelay = (args: string[]): RelayProcess => testbed.spawn(args)
const client = (address: string): Promise<Client> => testbed.client(address)

function stateOf(key: string): Uint8Array {
  return encodeValue(writeRegister(emptyValue(), { replica: 'pusher' }, key).state)
}

describe('mendsync-relay (the built binary)', () => {
  it('serves health and metrics, syncs two peers, stops on SIGTERM and restarts with its identity and data', async () => {
    const dataDir = join(testbed.dir, 'single')
    const relay = spawnRelay(['--data-dir', dataDir])
    const info = await relay.started()
    expect(info.address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/)
    expect(info.address.endsWith(`/p2p/${info.peerId}`)).toBe(true)
    expect((await stat(join(dataDir, 'peer.key'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dataDir, 'spaces', 'demo.sqlite'))).isFile()).toBe(true)

    const health = await fetch(info.healthUrl)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({
      status: 'ok',
      peerId: info.peerId,
      spaces: ['demo'],
    })
    expect((await fetch(info.healthUrl.replace('/healthz', '/nope'))).status).toBe(404)

    const metricsResponse = await fetch(info.metricsUrl)
    expect(metricsResponse.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const before = await scrape(info.metricsUrl)
    expect(before.types.get('mendsync_replica_writes_total')).toBe('counter')
    expect(before.types.get('mendsync_replica_outbox_size')).toBe('gauge')
    expect(before.types.get('mendsync_replica_repair_latency_seconds')).toBe('histogram')
    expect(before.types.get('mendsync_libp2p_connections')).toBe('gauge')
    expect(before.types.get('mendsync_relay_refusals_total')).toBe('counter')
    expect(before.types.get('process_cpu_user_seconds_total')).toBe('counter')
    expect(before.types.get('nodejs_heap_size_used_bytes')).toBe('gauge')
    expect(sampleValue(before, 'mendsync_replica_keys', { space: 'demo' })).toBe(0)
    expect(sampleValue(before, 'mendsync_relay_info', { peer_id: info.peerId })).toBe(1)
    expect(
      sampleValue(before, 'mendsync_replica_repair_latency_seconds_bucket', {
        space: 'demo',
        le: '+Inf',
      }),
    ).toBe(0)

    // Two Node peers, each connected to the relay only: a write at one is readable at the other.
    const alice = await client(info.address)
    const bob = await client(info.address)
    await connectedTo(alice, info.peerId)
    await connectedTo(bob, info.peerId)
    const atBob = nextChange(bob.replica, 'cart/shared')
    await alice.replica.cart('cart/shared').add('apple', 2, { name: 'Apple' })
    await atBob
    expect((await bob.replica.get('cart/shared')).lines).toMatchObject([{ sku: 'apple', qty: 2 }])
    const atAlice = nextChange(alice.replica, 'note')
    await bob.replica.put('note', 'from bob')
    await atAlice
    expect((await alice.replica.get('note')).value).toBe('from bob')

    const after = await scrape(info.metricsUrl)
    expect(sampleValue(after, 'mendsync_replica_keys', { space: 'demo' })).toBe(2)
    expect(sampleValue(after, 'mendsync_replica_remote_changes_total', { space: 'demo' })).toBe(2)
    expect(sampleValue(after, 'mendsync_replica_peers', { space: 'demo' })).toBe(2)
    expect(
      sampleValue(after, 'mendsync_libp2p_connections', { direction: 'inbound' }),
    ).toBeGreaterThanOrEqual(2)
    expect(
      sampleValue(after, 'mendsync_libp2p_gossip_messages_total', { verdict: 'accepted' }),
    ).toBeGreaterThan(0)

    relay.kill('SIGTERM')
    expect(await relay.exited).toBe(0)
    expect(relay.events.some((event) => event.msg === 'stopped')).toBe(true)
    await testbed.cleanup()

    // Same data directory: same identity, same data (a new peer gets it by reconciliation).
    const again = spawnRelay(['--data-dir', dataDir])
    const second = await again.started()
    expect(second.peerId).toBe(info.peerId)
    const carol = await client(second.address)
    const arrived = nextChange(carol.replica, 'cart/shared')
    await arrived
    expect((await carol.replica.get('cart/shared')).lines).toMatchObject([{ sku: 'apple', qty: 2 }])
    again.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  })

  it.each([
    ['SIGTERM', 0],
    ['SIGKILL', null],
  ] as const)('loses no acknowledged write on %s while peers push', async (signal, status) => {
    const dataDir = join(testbed.dir, `stopped-by-${signal}`)
    const relay = spawnRelay(['--data-dir', dataDir])
    const info = await relay.started()
    const pusher = await rawPeer(info.address, info.peerId, (close) => testbed.defer(close))

    // Four writers push one key each per call until the relay dies; a resolved push is an
    // acknowledgement.
    const acknowledged: string[] = []
    const writer = async (lane: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const key = `k/${lane}/${i}`
        const states: KeyState[] = [{ key, state: stateOf(key) }]
        try {
          await pusher.push(info.peerId, states, { timeoutMs: 5_000 })
        } catch {
          return
        }
        acknowledged.push(key)
      }
    }
    const lanes = [0, 1, 2, 3].map(writer)
    await waitFor('200 acknowledged writes', () => acknowledged.length >= 200)
    relay.kill(signal)
    expect(await relay.exited).toBe(status)
    await Promise.all(lanes)
    const total = acknowledged.length

    const again = spawnRelay(['--data-dir', dataDir])
    const second = await again.started()
    expect(second.peerId).toBe(info.peerId)
    const reader = await rawPeer(second.address, second.peerId, (close) => testbed.defer(close))
    for (let i = 0; i < total; i += 1_000) {
      const keys = acknowledged.slice(i, i + 1_000)
      const result = await reader.pull(second.peerId, keys, 'state')
      if (result.mode !== 'state') throw new Error('expected states')
      keys.forEach((key, j) => {
        const state = result.states[j]
        expect(state, `acknowledged ${key} is missing after SIGKILL`).toBeInstanceOf(Uint8Array)
        expect(valueEquals(decodeValue(state as Uint8Array), decodeValue(stateOf(key)))).toBe(true)
      })
    }
    expect(total).toBeGreaterThanOrEqual(200)
  })
})
