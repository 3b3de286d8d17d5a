// One process of clients for the reconnect storm (forked by reconnect-storm.ts, IPC): full peers
// (a replica on MemoryStorage over a libp2p node made by createNodeLibp2p, bootstrapped to the
// relay, nothing else), each writing its own key when asked. It reports, when asked, how many
// of its clients are connected to the relay (and know its replica) and how many hold every key.
// Nothing here redials: reconnecting is the library's job. Runs on the built packages (dist).
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  keepConnectedOf,
  type MendsyncLibp2p,
  spaceTopic,
} from '@mendsync/libp2p'
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'

/** The first message: which clients to run. */
export interface StormInit {
  readonly op: 'init'
  readonly relay: string
  readonly relayPeerId: string
  readonly space: string
  /** The indexes of this worker's clients (each writes `storm/<index>`). */
  readonly clients: readonly number[]
  /** Keys every client must end up holding (one per client of the whole storm). */
  readonly totalKeys: number
}

/** The answer to `{ op: 'status' }`. */
export interface StormStatus {
  readonly op: 'status'
  /** Clients connected to the relay that know its replica (its gossip reached them). */
  readonly connected: number
  /** Clients holding all `totalKeys` keys. */
  readonly converged: number
  /** Clients with a libp2p connection to the relay (subscribed or not yet). */
  readonly linked: number
  /** Indexes of clients not connected (at most 10, for the report). */
  readonly missing: readonly number[]
}

/**
 * The answer to `{ op: 'diagnose' }`: what each client that is not connected knows of the relay,
 * for the report of a phase that timed out (why a client is left out, not only which).
 */
export interface StormDiagnosis {
  readonly op: 'diagnosis'
  readonly clients: readonly ClientDiagnosis[]
}

/** One left-out client's view of the relay (see {@link StormDiagnosis}). */
export interface ClientDiagnosis {
  readonly index: number
  readonly peerId: string
  /** Its libp2p connections to the relay: status, direction, age and open streams' protocols. */
  readonly connections: readonly {
    readonly id: string
    readonly status: string
    readonly direction: string
    readonly ageMs: number
    readonly streams: readonly string[]
  }[]
  /** gossipsub's state of the relay: known peer, streams each way, the relay on the space topic. */
  readonly gossipsub: {
    readonly peer: boolean
    readonly inbound: string | null
    readonly outbound: string | null
    readonly relayOnTopic: boolean
  }
  /** The relay among the replica's peers of the space (the network's channel). */
  readonly inChannel: boolean
  /** The keepConnected service's state of the relay. */
  readonly kept: unknown
}

interface StormClient {
  readonly index: number
  readonly replica: Replica
  diagnose(): ClientDiagnosis
  connectedToRelay(): boolean
  linkedToRelay(): boolean
  close(): Promise<void>
}

const clients: StormClient[] = []
let init: StormInit | undefined

const send = (message: Record<string, unknown>): void => {
  process.send?.(message)
}

// The storm went away: so do its clients.
process.on('disconnect', () => process.exit(0))
process.on('message', (message: { op: string }) => {
  void handle(message).catch((error: unknown) => {
    send({ op: 'error', message: String((error as Error)?.stack ?? error) })
  })
})

async function handle(message: { op: string }): Promise<void> {
  switch (message.op) {
    case 'init':
      init = message as StormInit
      for (const index of init.clients) clients.push(await startClient(init, index))
      send({ op: 'started' })
      return
    case 'status':
      send({ ...status(), op: 'status' })
      return
    case 'diagnose':
      send({
        op: 'diagnosis',
        clients: clients
          .filter((client) => !client.connectedToRelay())
          .slice(0, 10)
          .map((client) => client.diagnose()),
      } satisfies StormDiagnosis)
      return
    case 'write':
      await Promise.all(
        clients.map((client) =>
          client.replica.put(`storm/${client.index}`, { client: client.index, at: Date.now() }),
        ),
      )
      send({ op: 'written' })
      return
    case 'close':
      await Promise.allSettled(clients.map((client) => client.close()))
      send({ op: 'closed' })
      process.exit(0)
  }
}

function status(): Omit<StormStatus, 'op'> {
  const total = init?.totalKeys ?? 0
  const missing: number[] = []
  let connected = 0
  let converged = 0
  let linked = 0
  for (const client of clients) {
    if (client.linkedToRelay()) linked += 1
    if (client.connectedToRelay()) connected += 1
    else if (missing.length < 10) missing.push(client.index)
    if (client.replica.status().keys >= total) converged += 1
  }
  return { connected, converged, linked, missing }
}

/**
 * The clients' liveness-ping timeout, ms. One worker process hosts dozens of clients on one
 * event loop, which stalls for seconds under the storm on a shared 2-core machine; at libp2p's 5 s
 * the clients' own ping monitors then abort their (healthy) relay connections by the dozen,
 * which a real client (its own process) would not. The relay's side is sized in relay.ts.
 */
const CLIENT_PING_TIMEOUT_MS = 30_000

async function startClient(options: StormInit, index: number): Promise<StormClient> {
  const node = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: [],
    bootstrap: [options.relay],
    pingTimeoutMs: CLIENT_PING_TIMEOUT_MS,
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  const replica = await openReplica({ space: options.space, storage: new MemoryStorage(), network })
  const relay = options.relayPeerId
  const linkedToRelay = (): boolean =>
    node.getConnections().some((connection) => connection.remotePeer.toString() === relay)
  // In the space with the relay, and its replica known (from its gossip, or from before).
  const subscribedWithRelay = (): boolean =>
    replica.status().peers.some(({ peer, replicaId }) => peer === relay && replicaId !== undefined)
  const diagnose = (): ClientDiagnosis => ({
    index,
    peerId: node.peerId.toString(),
    connections: node
      .getConnections()
      .filter((connection) => connection.remotePeer.toString() === relay)
      .map((connection) => ({
        id: connection.id,
        status: connection.status,
        direction: connection.direction,
        ageMs: Date.now() - connection.timeline.open,
        streams: connection.streams.map(
          (stream) => `${stream.direction}:${stream.protocol ?? '?'}:${stream.status}`,
        ),
      })),
    gossipsub: gossipsubView(node, relay, spaceTopic(options.space)),
    inChannel: replica.status().peers.some(({ peer }) => peer === relay),
    kept: keepConnectedOf(node)
      ?.peers()
      .find(({ peer }) => peer === relay),
  })
  return {
    index,
    replica,
    diagnose,
    linkedToRelay,
    connectedToRelay: () => linkedToRelay() && subscribedWithRelay(),
    close: async () => {
      await replica.close()
      await network.close()
    },
  }
}

/** The parts of gossipsub 14's state a diagnosis reads (internals: diagnostics only). */
interface GossipsubState {
  readonly peers: Map<string, unknown>
  readonly streamsInbound: Map<string, { readonly rawStream: { readonly status: string } }>
  readonly streamsOutbound: Map<string, { readonly rawStream: { readonly status: string } }>
  readonly topics: Map<string, Set<string>>
}

function gossipsubView(
  node: MendsyncLibp2p,
  relay: string,
  topic: string,
): ClientDiagnosis['gossipsub'] {
  const state = node.services.pubsub as unknown as GossipsubState
  return {
    peer: state.peers.has(relay),
    inbound: state.streamsInbound.get(relay)?.rawStream.status ?? null,
    outbound: state.streamsOutbound.get(relay)?.rawStream.status ?? null,
    relayOnTopic: state.topics.get(topic)?.has(relay) ?? false,
  }
}
