// Length-prefixed frames over a libp2p stream, and the request/response machinery of the pull
// and push protocols: one long-lived outbound stream per peer and protocol carrying requests
// with ids (a call costs one round trip), a bounded number of requests in flight per stream and
// a bounded wait queue behind it, and an inbound side that stops reading when its handlers are
// all busy (so a fast sender is slowed by the stream's flow control rather than buffered).
import type { Connection, PeerId as Libp2pPeerId, Stream } from '@libp2p/interface'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import {
  defaultLogger,
  describeError,
  type Logger,
  type Release,
  Semaphore,
} from '@mendsync/core/toolbox'
import { describeHandlerError } from '@mendsync/replica/adapter'
import { lpStream } from 'it-length-prefixed-stream'
import { decodeReply, encodeError, encodeReply, type Reply, type WireLimits } from './codec.js'
import { STREAM_OPEN_TIMEOUT_MS } from './constants.defaults.js'
import { FrameReader, type HeldFrame, isFrameViolation } from './framing/frame-reader.js'
import type { InboundBudget } from './framing/inbound-budget.js'

/** Options of {@link FramedStream}; every one has a default. */
export interface FramedStreamOptions {
  /**
   * Reserves room for each inbound frame body before it is buffered (see
   * {@link InboundBudget.reserve}); rejecting resets the stream. Default: no reservation (the
   * stream's own bound, one frame, still holds).
   */
  readonly admit?: (bytes: number) => Promise<Release>
  /** How long a frame body may take to arrive, ms. Default `DEFAULT_FRAME_TIMEOUT_MS` (60 s). */
  readonly frameTimeoutMs?: number
  /** Default `mendsync:libp2p:framing`. */
  readonly logger?: Logger
}

/**
 * Frames over one stream: bounded reads (a {@link FrameReader}: a bad length prefix resets the
 * stream at its first bad byte), serialized writes with a bounded queue, reset or graceful close.
 * Writes go through `it-length-prefixed-stream`, whose write side sends one frame at a time.
 */
export class FramedStream {
  readonly stream: Stream
  private readonly lp: ReturnType<typeof lpStream>
  private readonly reader: FrameReader
  private readonly logger: Logger
  private held: Release | null = null
  private writing: Promise<void> = Promise.resolve()
  private queuedWrites = 0
  private readonly maxQueuedWrites: number
  bytesWritten = 0
  bytesRead = 0

  constructor(
    stream: Stream,
    maxFrameBytes: number,
    maxQueuedWrites = 1024,
    options: FramedStreamOptions = {},
  ) {
    this.stream = stream
    this.logger = options.logger ?? defaultLogger('mendsync:libp2p:framing')
    this.lp = lpStream(stream)
    this.reader = new FrameReader(stream.source[Symbol.asyncIterator](), {
      maxFrameBytes,
      ...(options.admit ? { admit: options.admit } : {}),
      ...(options.frameTimeoutMs === undefined ? {} : { frameTimeoutMs: options.frameTimeoutMs }),
    })
    this.maxQueuedWrites = maxQueuedWrites
  }

  /**
   * The next frame, or `null` when the remote closed its side cleanly between frames. For a
   * reader that handles one frame at a time: the frame's admitted room is released by the next
   * `read`, `reset` or `close`. A bad frame resets the stream before this throws.
   */
  async read(): Promise<Uint8Array | null> {
    this.releaseHeld()
    const frame = await this.readHeld()
    if (frame === null) return null
    this.held = frame.release
    return frame.bytes
  }

  /**
   * The next frame with the release of its admitted room (call it once the frame is handled),
   * or `null` at a clean end. For a reader that handles several frames at once.
   */
  async readHeld(): Promise<HeldFrame | null> {
    let frame: HeldFrame | null
    try {
      frame = await this.reader.next()
    } catch (error) {
      this.reset(error instanceof Error ? error : new Error(String(error)))
      throw error
    }
    if (frame) this.bytesRead += frame.bytes.byteLength
    return frame
  }

  /** Queues one frame; frames go out in call order. */
  write(frame: Uint8Array): Promise<void> {
    if (this.queuedWrites >= this.maxQueuedWrites) {
      const error = new MendsyncError('OVERLOADED', 'the peer is not reading this stream')
      this.reset(error)
      return Promise.reject(error)
    }
    this.queuedWrites += 1
    const next = this.writing.then(async () => {
      try {
        await this.lp.write(frame)
        this.bytesWritten += frame.byteLength
      } finally {
        this.queuedWrites -= 1
      }
    })
    // The chain goes on after a failed write; the caller gets the failure below.
    this.writing = next.catch((error) => {
      this.logger.debug('a queued write failed', { error: describeError(error) })
    })
    return next.catch((cause) => {
      throw new MendsyncError('NETWORK_CLOSED', 'the stream closed while writing', { cause })
    })
  }

  /** Resets the stream (both directions, at once) unless it already ended. */
  reset(error: Error): void {
    this.releaseHeld()
    if (this.stream.status !== 'open') return
    try {
      this.stream.abort(error)
    } catch (cause) {
      this.logger.debug('resetting the stream failed (it was closing)', {
        error: describeError(cause),
      })
    }
  }

  /** Closes gracefully once queued frames are written; resets after `timeoutMs`. */
  async close(timeoutMs = 2_000): Promise<void> {
    this.releaseHeld()
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      await this.writing
      await this.stream.close({ signal })
    } catch (error) {
      this.logger.debug('closing the stream failed; resetting it', { error: describeError(error) })
      this.reset(error instanceof Error ? error : new Error(String(error)))
    }
  }

  private releaseHeld(): void {
    const release = this.held
    this.held = null
    release?.()
  }
}

/** Limits of one request/response protocol. */
export interface RpcLimits {
  readonly wire: WireLimits
  /** Requests in flight on one stream (per peer and protocol, both directions). */
  readonly maxInFlight: number
  /** Calls that may wait for an in-flight slot before new calls fail `OVERLOADED`. */
  readonly maxQueued: number
  /** How long an inbound handler may take before the peer gets a `TIMEOUT` error reply, ms. */
  readonly handlerTimeoutMs: number
  /** Default `mendsync:libp2p:rpc`; the network passes its own logger's `rpc` child. */
  readonly logger?: Logger
}

function rpcLogger(limits: RpcLimits): Logger {
  return limits.logger ?? defaultLogger('mendsync:libp2p:rpc')
}

/** How the network reports a peer's protocol violation (penalty, logging). */
export type BadFrameReporter = (peer: string, reason: string) => void

interface Pending {
  resolve(reply: Reply): void
  reject(error: unknown): void
}

/** One outbound request stream to a peer. */
class RequestStream {
  readonly framed: FramedStream
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  closed = false
  private readonly onClosed: () => void
  private readonly peer: string
  private readonly limits: RpcLimits
  private readonly report: BadFrameReporter
  private readonly logger: Logger

  constructor(
    stream: Stream,
    peer: string,
    limits: RpcLimits,
    report: BadFrameReporter,
    onClosed: () => void,
  ) {
    this.peer = peer
    this.limits = limits
    this.report = report
    this.logger = rpcLogger(limits)
    this.framed = new FramedStream(stream, limits.wire.maxFrameBytes, limits.maxInFlight * 2, {
      logger: this.logger,
    })
    this.onClosed = onClosed
    void this.readLoop()
  }

  async request(encode: (id: number) => Uint8Array, signal: AbortSignal): Promise<Reply> {
    if (this.closed) throw new MendsyncError('NETWORK_CLOSED', 'the request stream closed')
    const id = this.nextId
    this.nextId += 1
    const frame = encode(id)
    if (frame.byteLength > this.limits.wire.maxFrameBytes) {
      throw new MendsyncError(
        'FRAME_TOO_LARGE',
        `request of ${frame.byteLength} bytes exceeds the ${this.limits.wire.maxFrameBytes}-byte frame limit`,
      )
    }
    return await new Promise<Reply>((resolve, reject) => {
      const onAbort = (): void => {
        // A late reply to this id is recognised (id < nextId) and dropped.
        this.pending.delete(id)
        reject(signal.reason)
      }
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, {
        resolve: (reply) => {
          signal.removeEventListener('abort', onAbort)
          resolve(reply)
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      })
      this.framed.write(frame).catch((error) => this.shutdown(error))
    })
  }

  shutdown(error: unknown): void {
    if (this.closed) return
    this.closed = true
    const failure = isMendsyncError(error)
      ? error
      : new MendsyncError('NETWORK_CLOSED', 'the request stream closed', { cause: error })
    const code =
      failure.code === 'PROTOCOL_ERROR' ||
      failure.code === 'FRAME_TOO_LARGE' ||
      failure.code === 'DECODE_ERROR'
        ? 'PROTOCOL_ERROR'
        : 'NETWORK_CLOSED'
    for (const entry of this.pending.values()) {
      entry.reject(new MendsyncError(code, failure.message, { cause: failure }))
    }
    this.pending.clear()
    this.framed.reset(failure)
    this.onClosed()
  }

  /** Closes after the requests in flight are answered (or at once when there are none). */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.onClosed()
    void this.framed.close()
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      let bytes: Uint8Array | null
      try {
        bytes = await this.framed.read()
      } catch (error) {
        if (isFrameViolation(error)) this.report(this.peer, (error as Error).message)
        this.logger.debug('the reply stream failed', {
          peer: this.peer,
          error: describeError(error),
        })
        this.shutdown(error)
        return
      }
      if (bytes === null) {
        this.shutdown(new MendsyncError('NETWORK_CLOSED', 'the peer closed the request stream'))
        return
      }
      let reply: Reply
      try {
        reply = decodeReply(bytes, this.limits.wire)
        if (reply.id >= this.nextId) {
          throw new MendsyncError('PROTOCOL_ERROR', `reply to request ${reply.id} never sent`)
        }
      } catch (error) {
        const failure = isMendsyncError(error)
          ? error
          : new MendsyncError('PROTOCOL_ERROR', 'bad reply', { cause: error })
        this.report(this.peer, failure.message)
        this.logger.debug('the peer sent a bad reply', {
          peer: this.peer,
          error: describeError(failure),
        })
        this.shutdown(failure)
        return
      }
      const entry = this.pending.get(reply.id)
      if (entry) {
        this.pending.delete(reply.id)
        entry.resolve(reply)
      }
      if (this.closed && this.pending.size === 0) return
    }
  }
}

/** What an {@link RpcClient} needs. */
export interface RpcClientOptions {
  readonly protocol: string
  readonly peer: Libp2pPeerId
  /** The live connections to the peer. */
  readonly connections: () => Connection[]
  readonly limits: RpcLimits
  readonly report: BadFrameReporter
  readonly runOnLimitedConnection: boolean
  /** Reuse one stream for every request (true), or open one per request (false). */
  readonly reuseStreams: boolean
}

/** The caller side of one protocol to one peer. */
export class RpcClient {
  private current: RequestStream | null = null
  private opening: Promise<RequestStream> | null = null
  private readonly slots: Semaphore
  private closed = false
  private readonly options: RpcClientOptions
  private readonly logger: Logger

  constructor(options: RpcClientOptions) {
    this.options = options
    this.logger = rpcLogger(options.limits)
    this.slots = new Semaphore({
      limit: options.limits.maxInFlight,
      maxQueued: options.limits.maxQueued,
      overloadedMessage: `too many calls waiting for ${options.protocol}`,
    })
  }

  /** Sends one request and returns the peer's reply (an `ok` or an `error` frame). */
  async call(encode: (id: number) => Uint8Array, signal: AbortSignal): Promise<Reply> {
    if (this.closed) throw new MendsyncError('CLOSED', 'the client is closed')
    const release = await this.slots.acquire(signal)
    try {
      if (!this.options.reuseStreams) {
        // One stream per request (benchmark baseline): negotiate, ask, close.
        const stream = await this.open(AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS), false)
        try {
          return await stream.request(encode, signal)
        } finally {
          stream.close()
        }
      }
      const stream = await this.stream(signal)
      return await stream.request(encode, signal)
    } finally {
      release()
    }
  }

  get inFlight(): number {
    return this.slots.inUse
  }

  /** Drops the stream (the connection closed); the next call opens a new one. */
  reset(error: unknown): void {
    this.current?.shutdown(error)
    this.current = null
  }

  close(error: unknown): void {
    this.closed = true
    this.slots.failWaiters(error)
    this.reset(error)
  }

  private async stream(signal: AbortSignal): Promise<RequestStream> {
    if (this.current && !this.current.closed) return this.current
    // The stream outlives the call that opened it, so it is opened under its own deadline; the
    // call only stops waiting when its signal aborts.
    this.opening ??= this.open(AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS)).finally(() => {
      this.opening = null
    })
    const opening = this.opening
    // A caller whose signal aborted first does not wait for the outcome: log it here.
    opening.catch((error) => {
      this.logger.debug('opening a request stream failed', {
        peer: this.options.peer.toString(),
        protocol: this.options.protocol,
        error: describeError(error),
      })
    })
    return await new Promise<RequestStream>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      opening.then(
        (stream) => {
          signal.removeEventListener('abort', onAbort)
          resolve(stream)
        },
        (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      )
    })
  }

  private async open(signal: AbortSignal, shared = true): Promise<RequestStream> {
    const { protocol, peer } = this.options
    const open = this.options
      .connections()
      .filter((connection) => connection.status === 'open')
      .sort((a, b) => Number(a.limits !== undefined) - Number(b.limits !== undefined))
    const connection = open[0]
    if (!connection) {
      throw new MendsyncError('PEER_UNAVAILABLE', `not connected to ${peer.toString()}`)
    }
    let stream: Stream
    try {
      stream = await connection.newStream(protocol, {
        signal,
        runOnLimitedConnection: this.options.runOnLimitedConnection,
      })
    } catch (cause) {
      if (signal.aborted) throw signal.reason
      throw new MendsyncError('PEER_UNAVAILABLE', `${peer.toString()} does not serve ${protocol}`, {
        cause,
      })
    }
    if (this.closed) {
      stream.abort(new Error('client closed'))
      throw new MendsyncError('CLOSED', 'the client is closed')
    }
    const created = new RequestStream(
      stream,
      peer.toString(),
      this.options.limits,
      this.options.report,
      () => {
        if (this.current === created) this.current = null
      },
    )
    if (shared) this.current = created
    return created
  }
}

/** An inbound request, decoded and validated. `run` produces the reply body. */
export interface InboundRequest {
  readonly id: number
  run(): Promise<unknown[]>
}

/**
 * Serves one inbound request stream until it ends. `decode` validates a frame (throwing on a bad
 * one, which resets the stream and reports the peer). At most `maxInFlight` requests run at once;
 * beyond that the stream is not read until one finishes. With a `budget`, each request frame is
 * admitted before it is buffered and released once its reply is written.
 */
export async function serveRequests(
  stream: Stream,
  connection: Connection,
  limits: RpcLimits,
  decode: (bytes: Uint8Array) => InboundRequest,
  report: BadFrameReporter,
  track: { add(framed: FramedStream): void; delete(framed: FramedStream): void },
  budget?: InboundBudget,
): Promise<void> {
  const peer = connection.remotePeer.toString()
  const logger = rpcLogger(limits)
  const framed = new FramedStream(stream, limits.wire.maxFrameBytes, limits.maxInFlight * 2, {
    logger,
    ...(budget ? { admit: (bytes: number) => budget.reserve(peer, bytes) } : {}),
  })
  track.add(framed)
  let running = 0
  let wake: (() => void) | null = null
  let lastId = -1
  let failed = false
  const answer = async (request: InboundRequest): Promise<void> => {
    let reply: Uint8Array
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(new MendsyncError('TIMEOUT', `handler took over ${limits.handlerTimeoutMs} ms`)),
          limits.handlerTimeoutMs,
        )
      })
      const body = await Promise.race([request.run(), timeout])
      reply = encodeReply(request.id, body)
      if (reply.byteLength > limits.wire.maxFrameBytes) {
        reply = encodeError(
          request.id,
          'FRAME_TOO_LARGE',
          `the reply (${reply.byteLength} bytes) exceeds the ${limits.wire.maxFrameBytes}-byte frame limit; ask for fewer keys`,
        )
      }
    } catch (error) {
      const { code, message } = describeHandlerError(error)
      reply = encodeError(request.id, code, message)
    } finally {
      clearTimeout(timer)
    }
    if (failed) return
    await framed.write(reply).catch((error) => {
      logger.debug('writing a reply failed', { peer, id: request.id, error: describeError(error) })
    })
  }
  try {
    for (;;) {
      while (running >= limits.maxInFlight) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
      }
      let frame: HeldFrame | null
      try {
        frame = await framed.readHeld()
      } catch (error) {
        // The stream is reset already.
        failed = true
        if (isFrameViolation(error)) report(peer, (error as Error).message)
        logger.debug('an inbound request stream failed', { peer, error: describeError(error) })
        return
      }
      if (frame === null) break
      let request: InboundRequest
      try {
        request = decode(frame.bytes)
        if (request.id <= lastId) {
          throw new MendsyncError('PROTOCOL_ERROR', `request id ${request.id} reused`)
        }
      } catch (error) {
        frame.release()
        failed = true
        const failure = isMendsyncError(error)
          ? error
          : new MendsyncError('PROTOCOL_ERROR', 'bad request', { cause: error })
        report(peer, failure.message)
        logger.debug('the peer sent a bad request', { peer, error: describeError(failure) })
        framed.reset(failure)
        return
      }
      lastId = request.id
      running += 1
      const { release } = frame
      void answer(request).finally(() => {
        release()
        running -= 1
        const resume = wake
        wake = null
        resume?.()
      })
    }
    // The peer closed its side: finish what is running, then close ours.
    while (running > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
    await framed.close()
  } finally {
    track.delete(framed)
  }
}
