// The calling side of the direct protocols, per peer: one pull and one push client (each keeps
// its long-lived request stream), and the opening of reconciliation streams. Shared by every
// space of the network; a peer's clients close when it disconnects.
import type { Connection, Libp2p, PeerId as Libp2pPeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MendsyncError } from '@mendsync/core'
import { describeError, type Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import { RECONCILE_MAX_QUEUED_WRITES, STREAM_OPEN_TIMEOUT_MS } from '../constants.defaults.js'
import { type BadFrameReporter, FramedStream, RpcClient } from '../rpc.js'
import { PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL } from './protocols.js'
import type { Settings } from './settings.js'

/** What {@link OutboundCalls} needs from the network. */
export interface OutboundContext {
  readonly node: Libp2p
  readonly settings: Settings
  readonly report: BadFrameReporter
  readonly logger: Logger
}

/** The per-peer clients of `pull` and `push`, and reconciliation streams, of one network. */
export class OutboundCalls {
  private readonly context: OutboundContext
  private readonly clients = new Map<PeerId, { pull: RpcClient; push: RpcClient }>()

  constructor(context: OutboundContext) {
    this.context = context
  }

  /** The `pull` or `push` client of `peer`, created on first use; the peer must be connected. */
  client(peer: PeerId, kind: 'pull' | 'push'): RpcClient {
    let clients = this.clients.get(peer)
    if (!clients) {
      const remote = parsePeerId(peer)
      const { node, settings, report } = this.context
      if (!isConnected(node, remote)) {
        throw new MendsyncError('PEER_UNAVAILABLE', `not connected to ${peer}`)
      }
      const make = (protocol: string) =>
        new RpcClient({
          protocol,
          peer: remote,
          connections: () => node.getConnections(remote),
          limits: settings.rpc,
          report,
          runOnLimitedConnection: settings.runOnLimitedConnection,
          reuseStreams: settings.reuseStreams,
        })
      clients = { pull: make(PULL_PROTOCOL), push: make(PUSH_PROTOCOL) }
      this.clients.set(peer, clients)
    }
    return clients[kind]
  }

  /**
   * Opens a reconciliation stream to `peer`. The stream is negotiated under its own deadline
   * (not `signal`: libp2p keeps the negotiation signal for the stream's first read, and an abort
   * after that would surface as an unhandled rejection inside it); `signal` only stops the wait,
   * and a stream that opens after it aborted is aborted at once.
   */
  async openReconcile(peer: PeerId, signal: AbortSignal): Promise<FramedStream> {
    const { settings, logger } = this.context
    const connection = this.connectionTo(peer)
    let stream: Stream
    try {
      const opening = connection.newStream(RECONCILE_PROTOCOL, {
        signal: AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS),
        runOnLimitedConnection: settings.runOnLimitedConnection,
      })
      opening.then(
        (late) => {
          if (signal.aborted) late.abort(new Error('reconciliation aborted'))
        },
        (error: unknown) => {
          // Also reported by the race below unless the call had already given up waiting.
          logger.debug('opening a reconciliation stream failed', {
            peer,
            protocol: RECONCILE_PROTOCOL,
            error: describeError(error),
          })
        },
      )
      stream = await Promise.race([opening, abortPromise(signal)])
    } catch (cause) {
      if (signal.aborted) throw signal.reason
      throw new MendsyncError('PEER_UNAVAILABLE', `${peer} does not serve reconciliation`, {
        cause,
      })
    }
    return new FramedStream(
      stream,
      settings.reconcile.wire.maxFrameBytes,
      RECONCILE_MAX_QUEUED_WRITES,
      settings.reconcile.logger ? { logger: settings.reconcile.logger } : {},
    )
  }

  /** `peer` disconnected: its clients fail their calls with `NETWORK_CLOSED` and are dropped. */
  disconnected(peer: PeerId): void {
    const clients = this.clients.get(peer)
    if (!clients) return
    this.clients.delete(peer)
    const error = new MendsyncError('NETWORK_CLOSED', `disconnected from ${peer}`)
    clients.pull.close(error)
    clients.push.close(error)
  }

  /** Closes every client with `error` (the network closed). */
  close(error: Error): void {
    for (const clients of this.clients.values()) {
      clients.pull.close(error)
      clients.push.close(error)
    }
    this.clients.clear()
  }

  /** An open connection to `peer` the direct protocols may use. */
  private connectionTo(peer: PeerId): Connection {
    const remote = parsePeerId(peer)
    const usable = this.context.node
      .getConnections(remote)
      .filter((connection) => connection.status === 'open')
      .filter(
        (connection) =>
          this.context.settings.runOnLimitedConnection || connection.limits === undefined,
      )
    const connection = usable[0]
    if (!connection) throw new MendsyncError('PEER_UNAVAILABLE', `not connected to ${peer}`)
    return connection
  }
}

/** Whether `node` has an open connection to `peer`. */
export function isConnected(node: Libp2p, peer: Libp2pPeerId): boolean {
  return node.getConnections(peer).some((connection) => connection.status === 'open')
}

function parsePeerId(peer: PeerId): Libp2pPeerId {
  try {
    return peerIdFromString(peer)
  } catch (cause) {
    throw new MendsyncError('PEER_UNAVAILABLE', `${peer} is not a peer id`, { cause })
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}
