import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { silentLogger } from '@mendsync/core/toolbox'
import { afterEach, describe, expect, it } from 'vitest'
import { LinkSchedule, MAX_CHUNK_BYTES, symmetricLink } from './link-schedule.ts'
import { type ShapingProxy, startShapingProxy, throughProxy } from './shaping-proxy.ts'

describe('LinkSchedule', () => {
  it('delays a chunk by the one-way delay', () => {
    const schedule = new LinkSchedule({ delayMs: 25 })
    expect(schedule.arrival(100, 1_000)).toBe(1_025)
  })

  it('paces chunks at the bandwidth: each waits until the earlier bytes are sent', () => {
    // 80,000 bit/s = 10,000 B/s: a 1,000 B chunk takes 100 ms on the wire.
    const schedule = new LinkSchedule({ delayMs: 10, bitsPerSecond: 80_000 })
    const arrivals = Array.from({ length: 5 }, () => schedule.arrival(1_000, 0))
    expect(arrivals).toEqual([110, 210, 310, 410, 510])
    // An idle link sends at once again.
    expect(schedule.arrival(1_000, 2_000)).toBe(2_110)
  })

  it('never reorders chunks under jitter, and keeps each within ±jitter of the delay', () => {
    const schedule = new LinkSchedule({ delayMs: 20, jitterMs: 15, seed: 7 })
    const arrivals = Array.from({ length: 1_000 }, (_, i) => schedule.arrival(10, i))
    for (let i = 1; i < arrivals.length; i++)
      expect(arrivals[i]!).toBeGreaterThanOrEqual(arrivals[i - 1]!)
    for (const [i, at] of arrivals.entries()) expect(at - i).toBeGreaterThanOrEqual(5)
    // The jitter is drawn: not every chunk takes the plain delay.
    expect(new Set(arrivals.map((at, i) => Math.round(at - i))).size).toBeGreaterThan(10)
  })

  it('turns a loss into a retransmission delay that holds back the chunks behind it', () => {
    const schedule = new LinkSchedule({ delayMs: 10, loss: 1, retransmitMs: 200 })
    expect(schedule.arrival(10, 0)).toBe(210)
    expect(schedule.lost).toBe(1)
    const some = new LinkSchedule({ delayMs: 10, loss: 0.25, seed: 3 })
    for (let i = 0; i < 400; i++) some.arrival(10, i)
    expect(some.lost).toBeGreaterThan(50)
    expect(some.lost).toBeLessThan(150)
  })

  it('rejects shapes that cannot be', () => {
    expect(() => new LinkSchedule({ delayMs: -1 })).toThrow(RangeError)
    expect(() => new LinkSchedule({ delayMs: 1, loss: 2 })).toThrow(RangeError)
    expect(() => new LinkSchedule({ delayMs: 1, bitsPerSecond: 0 })).toThrow(RangeError)
  })

  it('splits a symmetric link into half the round trip each way', () => {
    const { up, down } = symmetricLink(50, { bitsPerSecond: 10_000_000 })
    expect(up.delayMs).toBe(25)
    expect(down.delayMs).toBe(25)
    expect(down.bitsPerSecond).toBe(10_000_000)
  })
})

/** A TCP server on 127.0.0.1 that echoes every byte back. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { server, port: address.port }
}

async function dial(port: number): Promise<Socket> {
  const socket = tcpConnect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

/** Resolves with the first `length` bytes `socket` receives. */
function receive(socket: Socket, length: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let got = 0
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      got += chunk.byteLength
      if (got >= length) {
        socket.off('data', onData)
        resolve(new Uint8Array(Buffer.concat(chunks).subarray(0, length)))
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
  })
}

describe('startShapingProxy', () => {
  const cleanup: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })

  async function setup(proxyShape: Parameters<typeof symmetricLink>): Promise<{
    proxy: ShapingProxy
    echo: number
  }> {
    const { server, port } = await echoServer()
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const proxy = await startShapingProxy({
      targetPort: port,
      ...symmetricLink(...proxyShape),
      logger: silentLogger(),
    })
    cleanup.push(() => proxy.close())
    return { proxy, echo: port }
  }

  it('carries every byte in order and counts them in each direction', async () => {
    const { proxy } = await setup([10, { bitsPerSecond: 50_000_000, jitterMs: 4, seed: 5 }])
    const socket = await dial(proxy.port)
    cleanup.push(() => void socket.destroy())
    const sent = new Uint8Array(5 * MAX_CHUNK_BYTES + 123).map((_, i) => (i * 31) % 251)
    const echoed = receive(socket, sent.byteLength)
    // Many small writes and one large one: ordering is kept across chunks.
    for (let i = 0; i < 1_000; i++) socket.write(sent.subarray(i, i + 1))
    socket.write(sent.subarray(1_000))
    expect(await echoed).toEqual(sent)
    expect(proxy.bytes).toEqual({ up: sent.byteLength, down: sent.byteLength })
  })

  it('delays a message by the round trip: a direct one sent after it arrives first', async () => {
    const { proxy, echo } = await setup([300])
    const shaped = await dial(proxy.port)
    const direct = await dial(echo)
    cleanup.push(
      () => void shaped.destroy(),
      () => void direct.destroy(),
    )
    const order: string[] = []
    const shapedBack = receive(shaped, 4).then(() => order.push('shaped'))
    const directBack = receive(direct, 4).then(() => order.push('direct'))
    const started = performance.now()
    shaped.write('ping')
    direct.write('ping')
    await Promise.all([shapedBack, directBack])
    expect(order).toEqual(['direct', 'shaped'])
    // A lower bound only: the echo crossed the shaped link twice.
    expect(performance.now() - started).toBeGreaterThanOrEqual(300 - 1)
  })

  it('paces bulk data at the bandwidth: a later small message waits behind it', async () => {
    // 800,000 bit/s = 100,000 B/s each way: 200 kB takes 2 s to cross.
    const { proxy } = await setup([2, { bitsPerSecond: 800_000 }])
    const bulk = await dial(proxy.port)
    cleanup.push(() => void bulk.destroy())
    const payload = new Uint8Array(200_000).fill(7)
    const started = performance.now()
    const back = receive(bulk, payload.byteLength + 4)
    bulk.write(payload)
    bulk.write('tail')
    const received = await back
    // The tail arrived after all the bulk bytes (one link, in order), and not before the link
    // could have carried them (a lower bound).
    expect(new TextDecoder().decode(received.subarray(payload.byteLength))).toBe('tail')
    expect(performance.now() - started).toBeGreaterThanOrEqual(2_000 - 1)
    expect(proxy.bytes.up).toBe(payload.byteLength + 4)
  })

  it('rewrites a multiaddr to dial through the proxy', () => {
    expect(throughProxy('/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3', 9)).toBe(
      '/ip4/127.0.0.1/tcp/9/ws/p2p/12D3',
    )
    expect(() => throughProxy('/memory/x', 9)).toThrow(/no TCP port/)
  })
})
