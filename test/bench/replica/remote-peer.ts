// One peer of the replica benchmark's figure 2 in its own OS process, forked and driven over IPC
// by `remote.ts` (see there for the requests and messages). It runs the built packages (`dist`),
// like the bench:
//   node test/bench/replica/remote-peer.ts '<RemoteOptions as JSON>'
// It listens on 127.0.0.1 only and dials the `bootstrap` peers at start.
import type { Libp2pNetwork } from '@mendsync/libp2p'
import {
  fromBase64,
  type RemoteMessage,
  type RemoteOptions,
  type RemoteRequest,
  toBase64,
} from './remote.ts'
import {
  addressOf,
  closePeers,
  FAST_GOSSIP,
  knowsPeer,
  openPeer,
  type Peer,
  PULL_ONLY,
  rawHandlers,
  SPACE,
  startNetwork,
  waitFor,
} from './support.ts'

const options = JSON.parse(process.argv[2] ?? '') as RemoteOptions
const send = (message: RemoteMessage) => {
  if (process.connected) process.send?.(message)
}

// The bench process went away (even killed): this peer must not outlive it.
process.on('disconnect', () => process.exit(1))

interface Opened {
  readonly network: Libp2pNetwork
  readonly peer: Peer | undefined
}

async function open(): Promise<Opened> {
  // On 127.0.0.1 only, as every peer of the bench.
  const network = await startNetwork(options.kind === 'replica' ? FAST_GOSSIP : {}, {
    bootstrap: options.bootstrap,
  })
  if (options.kind === 'raw') return { network, peer: undefined }
  const peer = await openPeer(options.dir, network, PULL_ONLY)
  return { network, peer }
}

function replicaOf({ peer }: Opened): Peer {
  if (peer === undefined) throw new Error('a raw peer has no replica')
  return peer
}

async function handle(opened: Opened, request: RemoteRequest): Promise<unknown> {
  switch (request.op) {
    case 'address':
      return addressOf(opened.network)
    case 'put': {
      const { replica } = replicaOf(opened)
      await replica.put(request.key, request.value)
      return toBase64(replica.status().summary)
    }
    case 'settled': {
      if (opened.peer === undefined) return null
      await opened.peer.replica.settled()
      return toBase64(opened.peer.replica.status().summary)
    }
    case 'knows': {
      const { replica } = replicaOf(opened)
      const what = `peer ${request.peerId}'s gossip`
      await waitFor(what, () => knowsPeer(replica, request.peerId), [replica], request.waitMs)
      return null
    }
    case 'get-stored': {
      const [state] = await replicaOf(opened).storage.get('values', [request.key])
      return state === undefined ? null : toBase64(state)
    }
    case 'serve': {
      const state = fromBase64(request.state)
      await opened.network.join(SPACE, rawHandlers(new Map([['state', state]])))
      return null
    }
    case 'close':
      if (opened.peer === undefined) await opened.network.close()
      else await closePeers([opened.peer])
      // libp2p leaves timers behind after close: exit once the reply is out.
      setImmediate(() => process.exit(0))
      return null
  }
}

// Listening before opening, so a request sent early waits for the peer instead of being lost.
const opening = open()
process.on('message', (request: RemoteRequest & { readonly id: number }) => {
  opening
    .then((opened) => handle(opened, request))
    .then(
      (result) => send({ kind: 'reply', id: request.id, ok: true, result: result ?? null }),
      (error: unknown) => send({ kind: 'reply', id: request.id, ok: false, error: String(error) }),
    )
})
const opened = await opening
send({ kind: 'ready', peerId: opened.network.peerId, address: addressOf(opened.network) })
