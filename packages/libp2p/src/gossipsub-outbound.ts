// gossipsub 14 opens its outbound stream to each new peer one at a time (an `outboundInflightQueue`
// drained by a single loop that awaits `createOutboundStream`), and it sends a peer its own
// subscriptions only once that stream is open. When a relay restarts under a few hundred
// clients, every client's connection queues behind the others' stream negotiations, and a
// client only learns that the relay serves its space after all those before it: 200 clients
// took over a minute to see the relay's subscription although their connections were up in
// seconds. This opens the streams concurrently (bounded) instead, one at a time per peer.
//
// gossipsub also keeps an outbound stream whose connection died while the peer stays connected
// on another one (a client that redialled before its old connection's close was processed): it
// then never opens a new stream, and that peer never hears the relay's subscriptions (seen as 2
// of 200 clients stuck for good in the reconnect storm). A sweep replaces such dead streams.
//
// And libp2p's registrar tells gossipsub of a disconnect late: on `peer:disconnect` it first
// reads the peer store (asynchronously) and only then calls the topology's `onDisconnect`. A
// client that reconnected in that gap (under a storm the peer store is slow) has its new
// connection's gossipsub state wiped by the old connection's disconnect: gossipsub forgets the
// peer, its streams and its subscriptions while the peer stays connected, and never sends it
// anything again (seen in the storm's relay log as a client's fresh subscription followed by
// `delete peer` with the client still connected). A disconnect of a peer that has an open
// connection is therefore not a disconnect: the peer is kept, and its outbound stream reopened
// on the open connection if it is dead.
//
// Last, gossipsub learns of a connection only from libp2p's identify (the registrar calls the
// topology on `peer:identify`). When identify fails on a connection (it timed out while a
// relay worked through a storm) neither side ever opens a gossipsub stream on it: the storm
// test caught a client whose open connection, 4 minutes old, carried no stream at all and whose
// gossipsub did not know the relay. The sweep therefore also hands gossipsub every open
// connection older than {@link GOSSIPSUB_UNIDENTIFIED_GRACE_MS} whose peer it does not know.
//
// It relies on internals of @chainsafe/libp2p-gossipsub 14: the method
// `createOutboundStream(peerId, connection)` (awaited by that loop, idempotent per peer: it
// returns when the peer already has an outbound stream), `onPeerDisconnected(peerId)` (the
// topology's and a failed inbound stream's way to remove a peer), the maps `streamsOutbound` (peer id ->
// stream with `rawStream` and `close()`) and `peers` (peer id -> PeerId), `components.
// connectionManager` and `stop()`. Installing refuses a service without them, and a test pins
// the version's shape.
import type { Connection, PeerId } from '@libp2p/interface'
import { type Logger, Semaphore } from '@mendsync/core/toolbox'
import {
  GOSSIPSUB_DEAD_STREAM_SWEEP_MS,
  GOSSIPSUB_OUTBOUND_STREAM_CONCURRENCY,
} from './constants.defaults.js'

/**
 * How old an open connection gossipsub was never told of must be, ms, before the sweep hands
 * it over: past libp2p's identify timeout (5 s), so a connection whose identify is merely slow
 * is left to the registrar.
 */
export const GOSSIPSUB_UNIDENTIFIED_GRACE_MS = 10_000

/** The part of gossipsub's instance this relies on. */
export interface OutboundStreamOpener {
  createOutboundStream(peerId: PeerId, connection: Connection): Promise<void>
  onPeerConnected(peerId: PeerId, connection: Connection): void
  onPeerDisconnected(peerId: PeerId): void
  readonly streamsOutbound: Map<string, OutboundStreamLike>
  readonly peers: Map<string, PeerId>
  readonly components: {
    readonly connectionManager: { getConnections(peer?: PeerId): Connection[] }
  }
  stop(): Promise<void>
}

/** gossipsub's wrapper of an outbound stream. */
export interface OutboundStreamLike {
  readonly rawStream: { readonly status: string; readonly writeStatus: string }
  close(): Promise<void>
}

/** Whether gossipsub's outbound stream can no longer carry anything to its peer. */
function isDead(stream: OutboundStreamLike): boolean {
  const { status, writeStatus } = stream.rawStream
  return status !== 'open' || writeStatus === 'closing' || writeStatus === 'closed'
}

/**
 * Replaces `service.createOutboundStream` with a version that returns at once and opens the
 * stream in the background: at most `concurrency` negotiations at a time, at most one per peer
 * (a request for a peer whose stream is being opened runs after it, on the newest connection).
 * A disconnect of a peer that has an open connection keeps the peer (its outbound stream is
 * reopened on that connection when dead) instead of removing it.
 * Every `sweepMs` a dead outbound stream of a peer that is still connected is replaced (the
 * sweep stops with the service). Throws when `service` lacks the internals this relies on (a
 * gossipsub version this was not written for).
 */
export function openOutboundStreamsConcurrently(
  service: object,
  logger: Logger,
  concurrency: number = GOSSIPSUB_OUTBOUND_STREAM_CONCURRENCY,
  sweepMs: number = GOSSIPSUB_DEAD_STREAM_SWEEP_MS,
): void {
  const candidate = service as Partial<OutboundStreamOpener>
  if (
    typeof candidate.createOutboundStream !== 'function' ||
    typeof candidate.onPeerConnected !== 'function' ||
    typeof candidate.onPeerDisconnected !== 'function' ||
    typeof candidate.stop !== 'function' ||
    !(candidate.streamsOutbound instanceof Map) ||
    !(candidate.peers instanceof Map) ||
    typeof candidate.components?.connectionManager?.getConnections !== 'function'
  ) {
    throw new TypeError(
      'this gossipsub lacks the internals mendsync relies on (createOutboundStream, onPeerConnected, onPeerDisconnected, streamsOutbound, peers, components.connectionManager): mendsync was written for @chainsafe/libp2p-gossipsub 14',
    )
  }
  const opener = candidate as OutboundStreamOpener
  const open = opener.createOutboundStream.bind(service)
  // Every waiter is a distinct connected peer (requests for one peer are merged below), so the
  // queue is bounded by the connection manager's connection limit; this is a backstop.
  const slots = new Semaphore({
    limit: concurrency,
    maxQueued: 65_536,
    overloadedMessage: 'too many gossipsub outbound streams wait to be opened',
  })
  const opening = new Set<string>()
  const next = new Map<string, { peerId: PeerId; connection: Connection }>()

  const run = async (peerId: PeerId, connection: Connection): Promise<void> => {
    const id = peerId.toString()
    opening.add(id)
    try {
      const release = await slots.acquire()
      try {
        const current = opener.streamsOutbound.get(id)
        if (current !== undefined && isDead(current)) dropStream(id, current)
        await open(peerId, connection)
      } finally {
        release()
      }
    } catch (error) {
      logger.warn('could not open a gossipsub stream', { error, peer: id })
    } finally {
      opening.delete(id)
      const queued = next.get(id)
      if (queued !== undefined) {
        next.delete(id)
        void run(queued.peerId, queued.connection)
      }
    }
  }

  const request = (peerId: PeerId, connection: Connection): void => {
    const id = peerId.toString()
    if (opening.has(id)) next.set(id, { peerId, connection })
    else void run(peerId, connection)
  }
  const dropStream = (id: string, stream: OutboundStreamLike): void => {
    opener.streamsOutbound.delete(id)
    stream.close().catch((error: unknown) => {
      logger.debug('closing a dead gossipsub stream failed', { error, peer: id })
    })
  }

  opener.createOutboundStream = (peerId: PeerId, connection: Connection): Promise<void> => {
    request(peerId, connection)
    return Promise.resolve()
  }

  const openConnectionOf = (peerId: PeerId): Connection | undefined =>
    opener.components.connectionManager
      .getConnections(peerId)
      .find((candidate) => candidate.status === 'open')

  const disconnected = opener.onPeerDisconnected.bind(service)
  opener.onPeerDisconnected = (peerId: PeerId): void => {
    const connection = openConnectionOf(peerId)
    if (connection === undefined) {
      disconnected(peerId)
      return
    }
    const id = peerId.toString()
    logger.debug(
      'kept a gossipsub peer that is connected: its disconnect was of an older connection',
      {
        peer: id,
        connection: connection.id,
      },
    )
    const current = opener.streamsOutbound.get(id)
    if (current !== undefined && isDead(current)) dropStream(id, current)
    if (!opener.streamsOutbound.has(id)) request(peerId, connection)
  }

  const sweep = setInterval(() => {
    for (const [id, stream] of opener.streamsOutbound) {
      if (!isDead(stream) || opening.has(id)) continue
      const peerId = opener.peers.get(id)
      if (peerId === undefined) continue
      const connection = openConnectionOf(peerId)
      if (connection === undefined) continue
      logger.debug('replacing a dead gossipsub stream', { peer: id })
      dropStream(id, stream)
      request(peerId, connection)
    }
    const now = Date.now()
    for (const connection of opener.components.connectionManager.getConnections()) {
      const id = connection.remotePeer.toString()
      if (opener.peers.has(id) || connection.status !== 'open') continue
      // A limited (relayed) connection is gossipsub's only when configured so; libp2p decides.
      if (connection.limits != null) continue
      if (now - connection.timeline.open < GOSSIPSUB_UNIDENTIFIED_GRACE_MS) continue
      logger.debug('handing gossipsub a connection it was never told of (identify failed)', {
        peer: id,
        connection: connection.id,
      })
      opener.onPeerConnected(connection.remotePeer, connection)
    }
  }, sweepMs)
  // The sweep must never keep a process alive, and ends with the service.
  sweep.unref?.()
  const stop = opener.stop.bind(service)
  opener.stop = () => {
    clearInterval(sweep)
    return stop()
  }
}
