// A blind relay (the built binary, real libp2p over loopback, real SQLite files): two Node
// devices holding the space key sync an encrypted cart through a relay that never gets the key.
// Everything the relay wrote (its data directory), logged (debug level) and exported on
// /metrics is then scanned for the strings the devices wrote: none may appear.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SpaceKeyring } from '@mendsync/core/sealed'
import { createLibp2pNetwork, createNodeLibp2p, generateIdentity } from '@mendsync/libp2p'
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nextChange, RelayProcess, waitFor } from './helpers.js'

const SPACE = 'demo'
const SECRETS = ['cart-secret-key', 'sku-secret-banana', 'meta-secret-yellow', 'note-secret-value']

let dir: string
const closers: (() => Promise<void>)[] = []
let relay: RelayProcess | undefined

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mendsync-blind-'))
})
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  relay?.kill('SIGKILL')
  await relay?.exited
  await rm(dir, { recursive: true, force: true })
})

/** A device holding `keyring`, connected to the relay only. */
async function holder(address: string, keyring: SpaceKeyring): Promise<Replica> {
  const node = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrap: [address],
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  const replica = await openReplica({
    space: SPACE,
    storage: new MemoryStorage(),
    network,
    sealed: keyring,
  })
  closers.push(async () => {
    await replica.close()
    await network.close()
  })
  return replica
}

/** Every file under `root`, as latin1 text (SQLite pages, WAL, identity). */
async function filesText(root: string): Promise<string> {
  const parts: string[] = []
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      parts.push((await readFile(join(entry.parentPath, entry.name))).toString('latin1'))
    }
  }
  return parts.join('\n')
}

describe('a relay without the space key', () => {
  it('syncs an encrypted cart between two holders and writes, logs and exports none of its strings', async () => {
    const dataDir = join(dir, 'relay')
    relay = RelayProcess.spawn(['--data-dir', dataDir, '--log-level', 'debug'])
    const info = await relay.started()
    const keyring = SpaceKeyring.create(SPACE)
    const alice = await holder(info.address, keyring)
    const bob = await holder(info.address, keyring)
    const known = (replica: Replica) => () =>
      replica.status().peers.some((p) => p.peer === info.peerId && p.replicaId !== undefined)
    await waitFor('alice to know the relay', known(alice))
    await waitFor('bob to know the relay', known(bob))

    const atBob = nextChange(bob, 'cart-secret-key')
    await alice.cart('cart-secret-key').add('sku-secret-banana', 2, 'meta-secret-yellow')
    await atBob
    expect((await bob.get('cart-secret-key')).lines).toMatchObject([
      { sku: 'sku-secret-banana', qty: 2, meta: 'meta-secret-yellow' },
    ])
    const atAlice = nextChange(alice, 'cart-secret-key')
    await bob.cart('cart-secret-key').setMeta('sku-secret-banana', 'note-secret-value')
    await atAlice
    expect((await alice.get('cart-secret-key')).lines[0]?.meta).toBe('note-secret-value')
    await alice.settled()
    await bob.settled()

    const metrics = await (await fetch(info.metricsUrl)).text()
    // The relay did receive and store the writes (two remote changes of one keyed key).
    expect(metrics).toMatch(/mendsync_replica_keys\{[^}]*space="demo"[^}]*\} 1/)
    const logs = relay.events.map((event) => JSON.stringify(event)).join('\n')
    expect(logs.length).toBeGreaterThan(0)
    const files = await filesText(dataDir)
    for (const secret of SECRETS) {
      expect(files).not.toContain(secret)
      expect(logs).not.toContain(secret)
      expect(metrics).not.toContain(secret)
    }
  })
})
