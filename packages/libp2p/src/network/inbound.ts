// The serving side of the direct protocols: the libp2p handlers of pull, push and reconcile,
// each inbound request decoded, checked against the space's allowlist and handed to its
// channel's handlers. Streams in progress are tracked so `close` can reset them.
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { MendsyncError } from '@mendsync/core'
import { READ, WRITE } from '@mendsync/core/access'
import { describeError, type Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import { decodePullRequest, decodePushRequest } from '../codec.js'
import { RECONCILE_MAX_QUEUED_WRITES } from '../constants.defaults.js'
import type { InboundBudget } from '../framing/inbound-budget.js'
import { acceptReconcile } from '../reconcile.js'
import { type BadFrameReporter, FramedStream, type InboundRequest, serveRequests } from '../rpc.js'
import type { Libp2pChannel } from './channel.js'
import type { Refusal } from './options.js'
import { DIRECT_PROTOCOLS, PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL } from './protocols.js'
import type { Settings } from './settings.js'

/** What {@link InboundProtocols} needs from the network. */
export interface InboundContext {
  readonly node: Libp2p
  readonly settings: Settings
  readonly report: BadFrameReporter
  /** `mendsync:libp2p:inbound`. */
  readonly logger: Logger
  /** The bytes peers may make this node buffer (admitted before a frame body is read). */
  readonly budget: InboundBudget
  /** The open channel of `space`, if joined. */
  channel(space: string): Libp2pChannel | undefined
  /** Resolves once `space`, if it is being opened on demand, is open or refused. */
  opening(space: string): Promise<void>
  /** Tells `onRefused` about a refusal. */
  refused(refusal: Refusal): void
}

/** The handlers of the three direct protocols on one node. */
export class InboundProtocols {
  /** Inbound streams being served (for `stats().inboundStreams` and `close`). */
  readonly streams = new Set<FramedStream>()
  private readonly context: InboundContext

  constructor(context: InboundContext) {
    this.context = context
  }

  /** Registers the handlers with the node. */
  async start(): Promise<void> {
    const { node, settings } = this.context
    const requestProtocols = [
      [PULL_PROTOCOL, (bytes: Uint8Array, peer: PeerId) => this.decodePull(bytes, peer)],
      [PUSH_PROTOCOL, (bytes: Uint8Array, peer: PeerId) => this.decodePush(bytes, peer)],
    ] as const
    for (const [protocol, decode] of requestProtocols) {
      await node.handle(
        protocol,
        ({ stream, connection }) => {
          const peer = connection.remotePeer.toString()
          serveRequests(
            stream,
            connection,
            settings.rpc,
            (bytes) => decode(bytes, peer),
            this.context.report,
            this.streams,
            this.context.budget,
          ).catch((error: unknown) => {
            this.context.logger.debug('an inbound request stream failed', {
              peer,
              protocol,
              error: describeError(error),
            })
          })
        },
        {
          maxInboundStreams: settings.maxInboundStreams,
          runOnLimitedConnection: settings.runOnLimitedConnection,
        },
      )
    }
    await node.handle(
      RECONCILE_PROTOCOL,
      ({ stream, connection }) => {
        void this.serveReconcile(stream, connection)
      },
      {
        maxInboundStreams: settings.maxInboundReconcileStreams,
        runOnLimitedConnection: settings.runOnLimitedConnection,
      },
    )
  }

  /** Unregisters the handlers and resets the streams being served with `error`. */
  async stop(error: Error): Promise<void> {
    await Promise.all(
      DIRECT_PROTOCOLS.map((protocol) =>
        this.context.node.unhandle(protocol).catch((cause: unknown) => {
          // The node may be stopping already; nothing is left to unregister then.
          this.context.logger.debug('unregistering a protocol failed', {
            protocol,
            error: describeError(cause),
          })
        }),
      ),
    )
    for (const framed of [...this.streams]) framed.reset(error)
    this.streams.clear()
  }

  /**
   * The channel serving `space` for `peer`, which must hold `right` there, or the refusal the
   * peer gets. A space being opened on demand is waited for.
   */
  private async access(
    space: string,
    peer: PeerId,
    protocol: Refusal['protocol'],
    right: number,
  ): Promise<Libp2pChannel> {
    let channel = this.context.channel(space)
    if (!channel) {
      await this.context.opening(space)
      channel = this.context.channel(space)
    }
    if (!channel || channel.closed) {
      throw new MendsyncError('PEER_UNAVAILABLE', `space ${space} is not served here`)
    }
    try {
      await channel.authorize(peer, right)
    } catch (error) {
      this.context.refused({ peer, space, protocol })
      if (channel.access) throw error
      throw new MendsyncError('ACCESS_DENIED', `not allowed in space ${space}`)
    }
    return channel
  }

  private decodePull(bytes: Uint8Array, peer: PeerId): InboundRequest {
    const request = decodePullRequest(bytes, this.context.settings.rpc.wire)
    return {
      id: request.id,
      run: async () => {
        const channel = await this.access(request.space, peer, 'pull', READ)
        const result = await channel.handlers.pull(peer, request.keys, request.mode)
        const list: unknown = result?.mode === 'digest' ? result.digests : result?.states
        if (
          result?.mode !== request.mode ||
          !Array.isArray(list) ||
          list.length !== request.keys.length ||
          !list.every((entry) => entry === null || entry instanceof Uint8Array)
        ) {
          throw new MendsyncError(
            'INVALID_ARGUMENT',
            'the pull handler returned a malformed result',
          )
        }
        return [list]
      },
    }
  }

  private decodePush(bytes: Uint8Array, peer: PeerId): InboundRequest {
    const request = decodePushRequest(bytes, this.context.settings.rpc.wire)
    return {
      id: request.id,
      run: async () => {
        const channel = await this.access(request.space, peer, 'push', WRITE)
        await channel.handlers.push(peer, request.states)
        return []
      },
    }
  }

  private async serveReconcile(stream: Stream, connection: Connection): Promise<void> {
    const { settings, report, logger } = this.context
    const peer = connection.remotePeer.toString()
    const framed = new FramedStream(
      stream,
      settings.reconcile.wire.maxFrameBytes,
      RECONCILE_MAX_QUEUED_WRITES,
      {
        admit: (bytes) => this.context.budget.reserve(peer, bytes),
        ...(settings.reconcile.logger ? { logger: settings.reconcile.logger } : {}),
      },
    )
    this.streams.add(framed)
    const timer = setTimeout(
      () => framed.reset(new MendsyncError('TIMEOUT', 'reconciliation took too long')),
      settings.reconcileTimeoutMs,
    )
    try {
      await acceptReconcile(framed, settings.reconcile, peer, report, async (space) => {
        const channel = await this.access(space, peer, 'reconcile', READ)
        const responder = await channel.handlers.reconcile(peer)
        const access = channel.access
        if (!access) return responder
        // A reader reconciles to catch up; the states it sends are dropped, never joined.
        return {
          session: responder.session,
          statesFor: (keys) => responder.statesFor(keys),
          accept: (states) => responder.accept(access.can(peer, WRITE) ? states : []),
        }
      })
    } catch (error) {
      logger.debug('an inbound reconciliation failed', {
        peer,
        protocol: RECONCILE_PROTOCOL,
        error: describeError(error),
      })
      framed.reset(error instanceof Error ? error : new Error(String(error)))
    } finally {
      clearTimeout(timer)
      this.streams.delete(framed)
    }
  }
}
