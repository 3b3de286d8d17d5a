// A network shaper for benches and tests: a TCP proxy on 127.0.0.1 in front of one target port
// that gives the link delay, jitter, loss (as TCP retransmissions) and bandwidth per direction
// (`link-schedule.ts`), and counts the bytes that crossed it. Dial the proxy's port instead of the
// target's (for libp2p: the target's multiaddr with the proxy's port) and every connection of that
// link is shaped; all connections through one proxy share its bandwidth, as one access link does.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { defaultLogger, type Logger } from '@mendsync/core/toolbox'
import { LinkSchedule, type LinkShape, MAX_CHUNK_BYTES } from './link-schedule.ts'

/** Options of {@link startShapingProxy}. */
export interface ShapingProxyOptions {
  /** The port on 127.0.0.1 that connections to the proxy are forwarded to. */
  readonly targetPort: number
  /** Client → target. */
  readonly up: LinkShape
  /** Target → client. */
  readonly down: LinkShape
  readonly logger?: Logger
}

/** A running proxy. */
export interface ShapingProxy {
  /** Where it listens on 127.0.0.1. */
  readonly port: number
  /** Bytes delivered so far in each direction (every connection together). */
  readonly bytes: { readonly up: number; readonly down: number }
  /** Chunks that drew a loss so far in each direction. */
  readonly lost: { readonly up: number; readonly down: number }
  /** Closes the listener and every connection through it. */
  close(): Promise<void>
}

/** Above this many bytes queued for one connection's direction, its sender is paused. */
const HIGH_WATER_BYTES = 1024 * 1024

interface Pending {
  readonly to: Socket
  /** `null`: the sender ended; end the receiver once everything before has arrived. */
  readonly chunk: Uint8Array | null
  readonly at: number
  readonly flow: Flow
}

/** One connection's direction: its queued bytes, for backpressure. */
interface Flow {
  queued: number
  readonly from: Socket
}

/** One direction of the link: its schedule and the chunks on the way, in arrival order. */
class Direction {
  readonly schedule: LinkSchedule
  delivered = 0
  private readonly queue: Pending[] = []
  private head = 0
  private timer: NodeJS.Timeout | undefined

  constructor(shape: LinkShape) {
    this.schedule = new LinkSchedule(shape)
  }

  send(flow: Flow, to: Socket, data: Uint8Array | null): void {
    const now = performance.now()
    if (data === null) {
      this.push({ to, chunk: null, at: this.schedule.arrival(0, now), flow })
      return
    }
    for (let offset = 0; offset < data.byteLength; offset += MAX_CHUNK_BYTES) {
      const chunk = data.subarray(offset, offset + MAX_CHUNK_BYTES)
      flow.queued += chunk.byteLength
      this.push({ to, chunk, at: this.schedule.arrival(chunk.byteLength, now), flow })
    }
    if (flow.queued > HIGH_WATER_BYTES) flow.from.pause()
  }

  private push(pending: Pending): void {
    this.queue.push(pending)
    if (this.timer === undefined) this.arm()
  }

  private arm(): void {
    const next = this.queue[this.head]
    if (next === undefined) return
    this.timer = setTimeout(() => this.deliver(), Math.max(0, next.at - performance.now()))
  }

  private deliver(): void {
    this.timer = undefined
    const now = performance.now()
    for (let next = this.queue[this.head]; next !== undefined && next.at <= now; ) {
      this.head++
      if (next.chunk === null) next.to.end()
      else if (!next.to.destroyed) {
        next.to.write(next.chunk)
        this.delivered += next.chunk.byteLength
        next.flow.queued -= next.chunk.byteLength
        if (next.flow.queued <= HIGH_WATER_BYTES / 2 && next.flow.from.isPaused())
          next.flow.from.resume()
      }
      next = this.queue[this.head]
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    this.arm()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
    this.head = 0
  }
}

/** Starts a shaping proxy on a free port of 127.0.0.1 in front of `targetPort`. */
export async function startShapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy> {
  const logger = options.logger ?? defaultLogger('mendsync:test:shaper')
  const up = new Direction(options.up)
  const down = new Direction(options.down)
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const server: Server = createServer((client) => {
    const target = tcpConnect({ host: '127.0.0.1', port: options.targetPort })
    track(client)
    track(target)
    client.setNoDelay(true)
    target.setNoDelay(true)
    const upFlow: Flow = { queued: 0, from: client }
    const downFlow: Flow = { queued: 0, from: target }
    client.on('data', (data: Buffer) => up.send(upFlow, target, data))
    target.on('data', (data: Buffer) => down.send(downFlow, client, data))
    client.on('end', () => up.send(upFlow, target, null))
    target.on('end', () => down.send(downFlow, client, null))
    // A reset on one side resets the other (no delay: the shaper models data, not RSTs).
    const fail = (side: string) => (error: Error) => {
      logger.debug('a shaped connection failed', { error, side, port: options.targetPort })
      client.destroy()
      target.destroy()
    }
    client.on('error', fail('client'))
    target.on('error', fail('target'))
    client.on('close', () => target.destroy())
    target.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('shaper: no TCP address')
  return {
    port: address.port,
    get bytes() {
      return { up: up.delivered, down: down.delivered }
    },
    get lost() {
      return { up: up.schedule.lost, down: down.schedule.lost }
    },
    close: () =>
      new Promise<void>((resolve) => {
        up.stop()
        down.stop()
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/**
 * `address` (a multiaddr string such as `/ip4/127.0.0.1/tcp/4001/ws/p2p/<id>`) with its TCP port
 * replaced by `port`: how a libp2p peer dials through a proxy.
 */
export function throughProxy(address: string, port: number): string {
  const replaced = address.replace(/\/tcp\/\d+/, `/tcp/${port}`)
  if (replaced === address) throw new Error(`shaper: ${address} has no TCP port`)
  return replaced
}

/** The TCP port of a multiaddr string. */
export function tcpPortOf(address: string): number {
  const match = /\/tcp\/(\d+)/.exec(address)
  if (match === null) throw new Error(`shaper: ${address} has no TCP port`)
  return Number(match[1])
}
