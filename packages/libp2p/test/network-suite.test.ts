import { runNetworkAdapterTests } from '@mendsync/replica/testing'
import { libp2pHarness } from './helpers.js'

runNetworkAdapterTests(libp2pHarness(), { name: 'libp2p network (Node <-> Node, one process)' })
