import { generateSigningKey, peerIdOfPublicKey } from '@mendsync/core/access'
import type { Network } from '@mendsync/replica'
import { createInProcessHub, runNetworkAdapterTests } from '@mendsync/replica/testing'

runNetworkAdapterTests(
  async () => {
    const hub = createInProcessHub({ autoLink: false })
    const networks: Network[] = []
    return {
      async createNetwork() {
        // Ed25519 peer ids: the private-space tests grant rights to the key inside the id.
        const key = await generateSigningKey()
        const network = hub.createNetwork({ peerId: peerIdOfPublicKey(key.publicKey.raw) })
        networks.push(network)
        return network
      },
      async connect(a, b) {
        hub.link(a.peerId, b.peerId)
      },
      async disconnect(a, b) {
        hub.unlink(a.peerId, b.peerId)
      },
      async teardown() {
        await Promise.all(networks.map((network) => network.close()))
      },
    }
  },
  { name: 'in-process network' },
)

runNetworkAdapterTests(
  async () => {
    const hub = createInProcessHub({ autoLink: false, latencyMs: 5 })
    const networks: Network[] = []
    return {
      async createNetwork() {
        // Ed25519 peer ids: the private-space tests grant rights to the key inside the id.
        const key = await generateSigningKey()
        const network = hub.createNetwork({ peerId: peerIdOfPublicKey(key.publicKey.raw) })
        networks.push(network)
        return network
      },
      async connect(a, b) {
        hub.link(a.peerId, b.peerId)
      },
      async disconnect(a, b) {
        hub.unlink(a.peerId, b.peerId)
      },
      async teardown() {
        await Promise.all(networks.map((network) => network.close()))
      },
    }
  },
  { name: 'in-process network with latency' },
)
