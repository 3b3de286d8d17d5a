// The Node example a new user would write: a relay and two devices, each with its own file
// replica, syncing a cart through the relay; then everything closes and the process exits by
// itself (nothing left listening or scheduled). Run from a project that installed the packed
// tarballs: `node sync-example.mjs`. Prints `bob sees apple x2` and exits 0, or exits 1.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { createLibp2pNetwork, createNodeLibp2p, generateIdentity } from '@mendsync/libp2p'
import { startRelay } from '@mendsync/relay'
import { openReplica } from '@mendsync/replica'
import { openFileStorage } from '@mendsync/storage-file'

const SPACE = 'shop'
const KEY = 'cart/shared'
const ATTEMPTS = 120

const dataDir = mkdtempSync(join(tmpdir(), 'mendsync-example-'))
const relay = await startRelay({
  port: 0,
  metrics: false,
  dataDir: join(dataDir, 'relay'),
  spaces: [SPACE],
  logLevel: 'warn',
})
const relayAddress = relay.multiaddrs.find((address) => address.includes('/ws/'))

/** One device: its libp2p node, its network and its replica, each closed by whoever made it. */
async function openDevice(name) {
  const node = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    bootstrap: [relayAddress],
  })
  const network = await createLibp2pNetwork(node)
  const storage = await openFileStorage({ directory: join(dataDir, name), space: SPACE })
  const replica = await openReplica({ space: SPACE, storage, network })
  return {
    replica,
    async close() {
      await replica.close() // closes the storage it was given
      await network.close()
      await node.stop()
    },
  }
}

const alice = await openDevice('alice')
const bob = await openDevice('bob')
let quantity = 0
try {
  await alice.replica.cart(KEY).add('apple', 2)
  for (let attempt = 0; attempt < ATTEMPTS && quantity !== 2; attempt += 1) {
    await alice.replica.sync()
    await bob.replica.sync()
    const view = await bob.replica.cart(KEY).view({ repair: 'sync', timeoutMs: 500 })
    quantity = view.lines.find((line) => line.sku === 'apple')?.qty ?? 0
    if (quantity !== 2) await delay(250)
  }
} finally {
  await bob.close()
  await alice.close()
  await relay.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
if (quantity !== 2) {
  console.error(`bob never saw alice's apples (after ${ATTEMPTS} attempts)`)
  process.exitCode = 1
} else {
  console.log('bob sees apple x2')
}
