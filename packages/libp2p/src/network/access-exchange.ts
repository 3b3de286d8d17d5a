// Both sides of `/mendsync/access/1.0.0`. A member presents its proof for a private space once
// per connection (to a trusted peer as soon as it is connected, to any other peer once that peer
// subscribed to the space's topic); the responder verifies it against the connection's
// authenticated peer id (noise authenticated it: no challenge needed), caches the rights per
// connection, and answers with its own proof when the requester proved a right. Each stream
// carries one bounded frame each way, is rate-limited per peer and reset on anything malformed.
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import type { AccessProof } from '@mendsync/core/access'
import { describeError, KeyedRateLimiter, type Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import { ACCESS_DEFAULTS } from '../constants.defaults.js'
import { isFrameViolation } from '../framing/frame-reader.js'
import type { InboundBudget } from '../framing/inbound-budget.js'
import { type BadFrameReporter, FramedStream } from '../rpc.js'
import {
  ACCESS_OK,
  decodeAccessReply,
  decodeAccessRequest,
  encodeAccessReply,
  encodeAccessRequest,
} from './access-wire.js'
import type { Libp2pChannel } from './channel.js'
import { ACCESS_PROTOCOL } from './protocols.js'
import type { Settings } from './settings.js'
import type { SpaceRequests } from './space-requests.js'

/** What {@link AccessExchange} needs from the network. */
export interface AccessExchangeContext {
  readonly node: Libp2p
  readonly settings: Settings
  readonly report: BadFrameReporter
  /** `mendsync:libp2p:access`. */
  readonly logger: Logger
  readonly budget: InboundBudget
  /** The open channel of `space`, if joined. */
  channel(space: string): Libp2pChannel | undefined
  /** Spaces opened on demand (`onSpaceRequested`), when the network has the hook. */
  readonly requests: SpaceRequests | undefined
}

/** Counts of access exchanges, for `stats()`. */
export interface AccessCounts {
  readonly accessAccepted: number
  readonly accessRefused: number
}

/** The access protocol of one network. */
export class AccessExchange {
  private readonly context: AccessExchangeContext
  private readonly limiter: KeyedRateLimiter
  /** Inbound access streams being served (reset on close). */
  private readonly streams = new Set<FramedStream>()
  /** Per connection id: the spaces whose exchange ran (or runs) on it. */
  private readonly presented = new Map<string, Set<string>>()
  private accepted = 0
  private refusedCount = 0
  private closed = false

  constructor(context: AccessExchangeContext) {
    this.context = context
    this.limiter = new KeyedRateLimiter({
      perSecond: ACCESS_DEFAULTS.accessRatePerSecond,
      burst: ACCESS_DEFAULTS.accessBurst,
      capacity: context.settings.maxTrackedPeers,
    })
  }

  get counts(): AccessCounts {
    return { accessAccepted: this.accepted, accessRefused: this.refusedCount }
  }

  /** Registers the protocol handler. */
  async start(): Promise<void> {
    await this.context.node.handle(
      ACCESS_PROTOCOL,
      ({ stream, connection }) => {
        void this.serve(stream, connection)
      },
      {
        maxInboundStreams: ACCESS_DEFAULTS.maxInboundAccessStreams,
        runOnLimitedConnection: this.context.settings.runOnLimitedConnection,
      },
    )
  }

  /** Unregisters the handler and resets the exchanges being served. */
  async stop(error: Error): Promise<void> {
    this.closed = true
    await this.context.node.unhandle(ACCESS_PROTOCOL).catch((cause: unknown) => {
      // The node may be stopping already; nothing is left to unregister then.
      this.context.logger.debug('unregistering the access protocol failed', {
        error: describeError(cause),
      })
    })
    for (const framed of [...this.streams]) framed.reset(error)
    this.streams.clear()
    this.presented.clear()
  }

  /** A connection closed: what was presented on it is forgotten. */
  connectionClosed(connectionId: string): void {
    this.presented.delete(connectionId)
  }

  /**
   * Presents `channel`'s proof to `peer` once per connection (no-op without a proof, when not
   * connected, or when already presented on the connection). The exchange is tracked by the
   * channel's access cache, so requests from the peer wait for it.
   */
  present(peer: PeerId, channel: Libp2pChannel): void {
    const access = channel.access
    if (this.closed || !access?.proof || peer === this.context.node.peerId.toString()) return
    const connection = this.connectionTo(peer)
    if (!connection) return
    let spaces = this.presented.get(connection.id)
    if (spaces?.has(channel.space)) return
    if (!spaces) {
      spaces = new Set()
      this.presented.set(connection.id, spaces)
    }
    spaces.add(channel.space)
    const exchange = this.initiate(peer, connection, channel).catch((error: unknown) => {
      // A later trigger (a new subscription, a reconnect) may try again.
      this.presented.get(connection.id)?.delete(channel.space)
      this.context.logger.debug('presenting a proof failed', {
        peer,
        space: channel.space,
        error: describeError(error),
      })
    })
    access.track(peer, exchange)
  }

  /** Marks `space` as presented on `connectionId` (the peer got our proof in a reply). */
  private markPresented(connectionId: string, space: string): void {
    let spaces = this.presented.get(connectionId)
    if (!spaces) {
      spaces = new Set()
      this.presented.set(connectionId, spaces)
    }
    spaces.add(space)
  }

  private async initiate(peer: PeerId, connection: Connection, channel: Libp2pChannel) {
    const access = channel.access!
    const { settings } = this.context
    const max = ACCESS_DEFAULTS.maxAccessFrameBytes
    const signal = AbortSignal.timeout(ACCESS_DEFAULTS.accessTimeoutMs)
    const stream = await connection.newStream(ACCESS_PROTOCOL, {
      signal,
      runOnLimitedConnection: settings.runOnLimitedConnection,
    })
    const framed = new FramedStream(stream, max, 2, {
      frameTimeoutMs: ACCESS_DEFAULTS.accessTimeoutMs,
      logger: this.context.logger,
    })
    const onAbort = (): void =>
      framed.reset(new MendsyncError('TIMEOUT', 'access exchange timed out'))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await framed.write(encodeAccessRequest(channel.space, access.proof))
      const bytes = await framed.read()
      if (bytes === null) throw new MendsyncError('PROTOCOL_ERROR', 'the peer sent no access reply')
      let reply: ReturnType<typeof decodeAccessReply>
      try {
        reply = decodeAccessReply(bytes, max)
      } catch (error) {
        this.context.report(peer, `bad access reply: ${(error as Error).message}`)
        framed.reset(error as Error)
        throw error
      }
      if (reply.code !== ACCESS_OK) {
        throw new MendsyncError(
          'ACCESS_DENIED',
          `${peer} refused this node's proof for ${channel.space} (${reply.code}): ${reply.message}`,
        )
      }
      if (reply.proof !== null) await access.record(peer, connection.id, reply.proof)
      await framed.close()
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const { logger, report, budget } = this.context
    const peer = connection.remotePeer.toString()
    const max = ACCESS_DEFAULTS.maxAccessFrameBytes
    const framed = new FramedStream(stream, max, 2, {
      admit: (bytes) => budget.reserve(peer, bytes),
      frameTimeoutMs: ACCESS_DEFAULTS.accessTimeoutMs,
      logger,
    })
    this.streams.add(framed)
    const timer = setTimeout(
      () => framed.reset(new MendsyncError('TIMEOUT', 'the access exchange took too long')),
      ACCESS_DEFAULTS.accessTimeoutMs,
    )
    try {
      if (!this.limiter.take(peer)) {
        this.refusedCount += 1
        await this.refuse(framed, 'OVERLOADED', 'too many access exchanges; retry later')
        return
      }
      let bytes: Uint8Array | null
      try {
        bytes = await framed.read()
      } catch (error) {
        // The reader reset the stream at the first byte that broke the frame rules.
        this.refusedCount += 1
        if (isFrameViolation(error)) report(peer, `bad access frame: ${(error as Error).message}`)
        logger.debug('an inbound access stream failed', { peer, error: describeError(error) })
        return
      }
      if (bytes === null) return
      let request: ReturnType<typeof decodeAccessRequest>
      try {
        request = decodeAccessRequest(bytes, max)
      } catch (error) {
        this.refusedCount += 1
        const failure = isMendsyncError(error)
          ? error
          : new MendsyncError('PROTOCOL_ERROR', 'bad access request', { cause: error })
        report(peer, `bad access request: ${failure.message}`)
        await this.refuse(framed, failure.code, failure.message)
        return
      }
      const verdict = await this.judge(peer, connection, request.spaceId, request.proof)
      if (verdict.code === ACCESS_OK) this.accepted += 1
      else this.refusedCount += 1
      await framed.write(encodeAccessReply(verdict.code, verdict.message, verdict.proof))
      if (verdict.proof !== undefined) this.markPresented(connection.id, request.spaceId)
      await framed.close()
    } catch (error) {
      logger.debug('an inbound access exchange failed', { peer, error: describeError(error) })
      framed.reset(error instanceof Error ? error : new Error(String(error)))
    } finally {
      clearTimeout(timer)
      this.streams.delete(framed)
    }
  }

  /** Writes an error reply, then resets the stream (nothing more is read from it). */
  private async refuse(framed: FramedStream, code: string, message: string): Promise<void> {
    await framed.write(encodeAccessReply(code, message, undefined)).catch((error: unknown) => {
      this.context.logger.debug('writing an access refusal failed', { error: describeError(error) })
    })
    framed.reset(new MendsyncError('ACCESS_DENIED', message))
  }

  /** The reply to a proof presented by `peer` for `spaceId`. */
  private async judge(
    peer: PeerId,
    connection: Connection,
    spaceId: string,
    proof: AccessProof | null,
  ): Promise<{ code: string; message: string; proof?: AccessProof }> {
    const { requests } = this.context
    try {
      let channel = this.context.channel(spaceId)
      if (!channel && requests !== undefined && proof !== null) {
        await requests.open(spaceId, proof, peer)
        channel = this.context.channel(spaceId)
      }
      const access = channel?.access
      if (!channel || channel.closed || !access) {
        return { code: 'PEER_UNAVAILABLE', message: `space ${spaceId} is not served here` }
      }
      if (proof === null) {
        if (!access.isTrusted(peer)) {
          return { code: 'ACCESS_DENIED', message: `no proof presented for space ${spaceId}` }
        }
      } else {
        await access.record(peer, connection.id, proof)
      }
      return { code: ACCESS_OK, message: '', ...(access.proof ? { proof: access.proof } : {}) }
    } catch (error) {
      const { code, message } = isMendsyncError(error)
        ? error
        : { code: 'ACCESS_DENIED', message: String(error) }
      this.context.logger.debug('refused a proof', { peer, space: spaceId, code, message })
      return { code, message }
    }
  }

  private connectionTo(peer: PeerId): Connection | undefined {
    const usable = this.context.node
      .getConnections()
      .filter(
        (connection) =>
          connection.remotePeer.toString() === peer &&
          connection.status === 'open' &&
          (this.context.settings.runOnLimitedConnection || connection.limits === undefined),
      )
    return usable[0]
  }
}
