// Two relays (built binaries) in a cluster, a Node peer on each: writes on either side become
// readable on the other, and after one relay restarts, the other dials it again by itself.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Client, connectedTo, nextChange, type RelayProcess, relayTestbed } from './helpers.js'

const testbed = relayTestbed('mendsync-relay-cluster-')
const spawnRelay = (args: string[]): RelayProcess => testbed.spawn(args)
const client = (address: string): Promise<Client> => testbed.client(address)

describe('two relays in a cluster', () => {
  it('carry writes between peers connected to different relays, and reconnect after a restart', async () => {
    const first = spawnRelay(['--data-dir', join(testbed.dir, 'a')])
    const a = await first.started()
    const second = spawnRelay([
      '--data-dir',
      join(testbed.dir, 'b'),
      '--bootstrap',
      a.address,
      '--bootstrap-redial-ms',
      '200',
    ])
    const b = await second.started()
    await second.waitForEvent(
      'relay b to connect to relay a',
      (event) => event.msg === 'connected to a cluster peer' && event.peer === a.peerId,
    )

    const alice = await client(a.address)
    const bob = await client(b.address)
    await connectedTo(alice, a.peerId)
    await connectedTo(bob, b.peerId)
    expect(alice.replica.status().peers.map((peer) => peer.peer)).toEqual([a.peerId])
    expect(bob.replica.status().peers.map((peer) => peer.peer)).toEqual([b.peerId])

    const atBob = nextChange(bob.replica, 'cart/1')
    await alice.replica.cart('cart/1').add('pear', 3)
    await atBob
    expect((await bob.replica.get('cart/1')).lines).toMatchObject([{ sku: 'pear', qty: 3 }])

    const atAlice = nextChange(alice.replica, 'cart/1')
    await bob.replica.cart('cart/1').add('fig', 1)
    await atAlice
    const lines = (await alice.replica.get('cart/1')).lines.map(({ sku, qty }) => ({ sku, qty }))
    expect(lines).toEqual([
      { sku: 'fig', qty: 1 },
      { sku: 'pear', qty: 3 },
    ])

    // Relay a goes away and comes back on the same port with the same identity; relay b (which
    // lists it as bootstrap) dials it again, and writes flow again.
    first.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    await second.waitForEvent(
      'relay b to notice',
      (event) =>
        String(event.msg).startsWith('disconnected from a cluster peer') && event.peer === a.peerId,
    )
    const port = /\/tcp\/(\d+)\//.exec(a.address)?.[1] as string
    const restarted = spawnRelay(['--data-dir', join(testbed.dir, 'a'), '--port', port])
    const again = await restarted.started()
    expect(again.peerId).toBe(a.peerId)
    const reconnects = (): number =>
      second.events.filter(
        (event) => event.msg === 'connected to a cluster peer' && event.peer === a.peerId,
      ).length
    await second.waitForEvent('relay b to dial relay a again', () => reconnects() >= 2)

    const carol = await client(again.address)
    // Relay a kept what it stored before its restart: carol gets it by reconciliation.
    const old = nextChange(carol.replica, 'cart/1')
    await connectedTo(carol, a.peerId)
    const atCarol = nextChange(carol.replica, 'after-restart')
    await bob.replica.put('after-restart', 'hello from bob')
    await atCarol
    expect((await carol.replica.get('after-restart')).value).toBe('hello from bob')
    await old
    expect((await carol.replica.get('cart/1')).lines).toHaveLength(2)
  })
})
