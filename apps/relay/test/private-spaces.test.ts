// Private spaces served on demand by a relay (in this process, real libp2p over loopback, real
// files): a space opens when a peer's proof is presented, its data survives a restart with no
// configuration, a write past its quota fails QUOTA_EXCEEDED at the writer, and the named
// spaces are served as before.
//
// A device's join presents its proof to the relay (a trusted peer), and the relay's network
// calls `onSpaceRequested`, which opens the space. `present` calls the same hook by hand
// (`relay.privateSpaces.request`), for a space evicted while its device stays connected.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeValue, valueEquals } from '@mendsync/core'
import { AccessVerifier, type SpaceDescriptor, spaceIdOf } from '@mendsync/core/access'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type PrivateKey,
} from '@mendsync/libp2p'
import type { KeyState, SpaceChannel } from '@mendsync/replica/adapter'
import { FakeSpaceStore } from '@mendsync/replica/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type RelayConfig, type RelayHandle, startRelay } from '../src/index.js'
import { outcome, sampleValue, scrape, registerState as stateOf, waitFor } from './helpers.js'

let dir: string
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mendsync-private-'))
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function relayAt(dataDir: string, config: RelayConfig = {}): Promise<RelayHandle> {
  const relay = await startRelay({
    dataDir,
    port: 0,
    metricsPort: 0,
    logLevel: 'silent',
    ...config,
  })
  cleanups.push(() => relay.stop())
  return relay
}

/** A device that owns a private space: its libp2p key is the owner key (an empty chain). */
interface Owner {
  readonly key: PrivateKey
  readonly space: SpaceDescriptor
  readonly spaceId: string
}

async function owner(name = 'cart'): Promise<Owner> {
  const key = await generateIdentity()
  const space = { owner: key.publicKey.raw, name }
  return { key, space, spaceId: spaceIdOf(space) }
}

/** The owner's device joined to its space through `relay`, as a raw channel. */
async function device(relay: RelayHandle, who: Owner): Promise<SpaceChannel> {
  const node = await createNodeLibp2p({
    privateKey: who.key,
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrap: [relay.multiaddrs[0] as string],
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  cleanups.push(() => network.close())
  const channel = await network.join(who.spaceId, new FakeSpaceStore(), {
    access: {
      verifier: new AccessVerifier(who.space),
      proof: { space: who.space, chain: [] },
      trustedPeers: [relay.peerId],
    },
  })
  await waitFor(
    'the relay to open the space on demand',
    () => relay.privateSpaces?.open().includes(who.spaceId) ?? false,
  )
  await waitFor('the relay as a peer of the private space', () =>
    channel.peers().includes(relay.peerId),
  )
  return channel
}

/** Asks the relay's directory for the space by hand, as the network does for a proof. */
async function present(relay: RelayHandle, who: Owner, peer: string): Promise<void> {
  const served = await relay.privateSpaces?.request({
    spaceId: who.spaceId,
    space: who.space,
    peer,
  })
  expect(served).toBe(true)
}

function pushed(channel: SpaceChannel, relay: RelayHandle, states: KeyState[]) {
  return outcome(channel.push(relay.peerId, states))
}

describe('a relay serving private spaces on demand', () => {
  it('joins no private space at start, opens one when its proof is presented, and serves its data', async () => {
    const relay = await relayAt(join(dir, 'open'))
    expect(relay.privateSpaces?.stats()).toMatchObject({ open: 0, stored: 0 })
    const alice = await owner()
    const channel = await device(relay, alice)
    expect(relay.privateSpaces?.open()).toEqual([alice.spaceId])
    expect(await pushed(channel, relay, [{ key: 'k', state: stateOf('v') }])).toBe('ok')
    expect((await relay.replica(alice.spaceId)?.get('k'))?.value).toBe('v')
    const pulled = await channel.pull(relay.peerId, ['k'], 'state')
    expect(pulled.mode === 'state' && decodeValue(pulled.states[0] as Uint8Array)).toSatisfy(
      (value) => value !== false && valueEquals(value, decodeValue(stateOf('v'))),
    )
    // The named space of the default configuration is served as before.
    expect(relay.spaces).toEqual(['demo'])
    expect(relay.replica('demo')).toBeDefined()
    const metrics = await scrape(relay.metricsUrl as string)
    expect(sampleValue(metrics, 'mendsync_relay_private_spaces_open')).toBe(1)
    expect(sampleValue(metrics, 'mendsync_relay_private_spaces_opened_total')).toBe(1)
  })

  it('serves a space opened on demand again after a restart, with its data and no configuration', async () => {
    const dataDir = join(dir, 'restart')
    const alice = await owner()
    const first = await relayAt(dataDir)
    const channel = await device(first, alice)
    expect(await pushed(channel, first, [{ key: 'kept', state: stateOf('before') }])).toBe('ok')
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect((await readdir(join(dataDir, 'spaces'))).sort()).toEqual(
      expect.arrayContaining([`${alice.spaceId}.space`, `${alice.spaceId}.sqlite`]),
    )

    const second = await relayAt(dataDir)
    expect(second.privateSpaces?.stats()).toMatchObject({ open: 0, stored: 1 })
    const again = await device(second, alice)
    const pulled = await again.pull(second.peerId, ['kept'], 'state')
    expect(pulled.mode === 'state' && pulled.states[0] !== null).toBe(true)
    expect((await second.replica(alice.spaceId)?.get('kept'))?.value).toBe('before')
  })

  it("refuses a push past the space's quota with QUOTA_EXCEEDED at the pusher, storing none of it", async () => {
    const relay = await relayAt(join(dir, 'quota'), { spaceMaxKeys: 2 })
    const alice = await owner()
    const channel = await device(relay, alice)
    expect(await pushed(channel, relay, [{ key: 'a', state: stateOf('1') }])).toBe('ok')
    expect(
      await pushed(channel, relay, [
        { key: 'b', state: stateOf('2') },
        { key: 'c', state: stateOf('3') },
      ]),
    ).toBe('QUOTA_EXCEEDED')
    const replica = relay.replica(alice.spaceId)
    expect((await replica?.get('b'))?.value).toBeUndefined()
    expect(replica?.status().keys).toBe(1)
    expect(await pushed(channel, relay, [{ key: 'b', state: stateOf('2') }])).toBe('ok')
    expect(relay.privateSpaces?.stats().quotaRefusals).toBe(1)
    const metrics = await scrape(relay.metricsUrl as string)
    expect(sampleValue(metrics, 'mendsync_relay_quota_refusals_total')).toBe(1)
  })

  it('closes the least recently used space past maxOpenSpaces and opens it again on demand', async () => {
    const relay = await relayAt(join(dir, 'evict'), { maxOpenSpaces: 1 })
    const [alice, bob] = [await owner('a'), await owner('b')]
    const aliceChannel = await device(relay, alice)
    expect(await pushed(aliceChannel, relay, [{ key: 'k', state: stateOf('a') }])).toBe('ok')
    await device(relay, bob)
    expect(relay.privateSpaces?.open()).toEqual([bob.spaceId])
    expect(relay.replica(alice.spaceId)).toBeUndefined()
    await present(relay, alice, 'again')
    expect(relay.privateSpaces?.open()).toEqual([alice.spaceId])
    expect((await relay.replica(alice.spaceId)?.get('k'))?.value).toBe('a')
    expect(relay.privateSpaces?.stats().closed.evicted).toBe(2)
  })

  it('serves no private space with --no-private-spaces', async () => {
    const relay = await relayAt(join(dir, 'off'), { privateSpaces: false })
    expect(relay.privateSpaces).toBeUndefined()
    const metrics = await scrape(relay.metricsUrl as string)
    expect(sampleValue(metrics, 'mendsync_relay_private_spaces_open')).toBeUndefined()
  })
})
