// The frame reader on crafted chunk sequences: bad length prefixes (runs of 0xff, 10-byte and
// non-minimal varints, lengths over the limit) are refused at the first byte that proves them bad,
// without pulling further chunks; good frames come out whole however the bytes are chunked; no
// chunk is pulled while a frame waits for admission.
import { isMendsyncError } from '@mendsync/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Chunk,
  FrameReader,
  type FrameReaderOptions,
  isFrameViolation,
  MAX_VARINT_BYTES,
} from '../src/framing/frame-reader.js'
import { encodeVarint, varintLength } from '../src/framing/varint.js'

const varint = (value: number): number[] => [...encodeVarint(value)]

function framed(body: Uint8Array): Uint8Array {
  return Uint8Array.from([...encodeVarint(body.byteLength), ...body])
}

const concat = (parts: readonly Uint8Array[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => [...part]))

/** An iterator over `chunks` that counts how many were pulled. */
function counted(chunks: Iterable<Chunk>): AsyncIterator<Chunk> & { pulls: number } {
  const inner = chunks[Symbol.iterator]()
  const source = {
    pulls: 0,
    async next(): Promise<IteratorResult<Chunk>> {
      const result = inner.next()
      if (!result.done) source.pulls += 1
      return result
    },
  }
  return source
}

/** Endless single-byte chunks of `byte` (bounded, so a broken reader ends the test). */
function* run(byte: number, limit = 1 << 20): Generator<Uint8Array> {
  for (let i = 0; i < limit; i++) yield Uint8Array.of(byte)
}

async function readAll(reader: FrameReader): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = []
  for (;;) {
    const frame = await reader.next()
    if (frame === null) return frames
    frames.push(frame.bytes)
    frame.release()
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

const MAX = 4 * 1024 * 1024
const reader = (source: AsyncIterator<Chunk>, options: Partial<FrameReaderOptions> = {}) =>
  new FrameReader(source, { maxFrameBytes: MAX, ...options })

describe('a length prefix that never ends', () => {
  it('a run of 0xff in one-byte chunks is refused after varintLength(max) bytes, whatever the max', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 40 }), async (max) => {
        const source = counted(run(0xff))
        const error = await failure(reader(source, { maxFrameBytes: max }).next())
        expect(isMendsyncError(error, 'FRAME_TOO_LARGE')).toBe(true)
        expect(isFrameViolation(error)).toBe(true)
        expect(source.pulls).toBeLessThanOrEqual(varintLength(max))
      }),
      { numRuns: 200 },
    )
  })

  it('a run of 0xff in one large chunk is refused without pulling another chunk, and nothing stays buffered', async () => {
    const source = counted([new Uint8Array(1 << 20).fill(0xff), new Uint8Array(1 << 20)])
    const frames = reader(source)
    expect(isMendsyncError(await failure(frames.next()), 'FRAME_TOO_LARGE')).toBe(true)
    expect(source.pulls).toBe(1)
    expect(frames.buffered).toBe(0)
  })

  it('a 10-byte varint is refused at the byte that makes it too long, and never read past 10 bytes', async () => {
    const tenBytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
    const small = counted(tenBytes.map((byte) => Uint8Array.of(byte)))
    expect(isMendsyncError(await failure(reader(small).next()), 'FRAME_TOO_LARGE')).toBe(true)
    expect(small.pulls).toBe(varintLength(MAX))
    const huge = counted(run(0x80))
    const error = await failure(reader(huge, { maxFrameBytes: Number.MAX_SAFE_INTEGER }).next())
    expect(isMendsyncError(error, 'FRAME_TOO_LARGE')).toBe(true)
    expect(huge.pulls).toBeLessThanOrEqual(MAX_VARINT_BYTES)
  })

  it('a prefix that the stream ends in the middle of is a protocol error', async () => {
    const error = await failure(reader(counted([Uint8Array.of(0x81)])).next())
    expect(isMendsyncError(error, 'PROTOCOL_ERROR')).toBe(true)
  })
})

describe('a prefix that ends badly', () => {
  it('a non-minimal varint (a trailing zero byte) is a protocol error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 2 }),
        async (value, padding) => {
          const bytes = varint(value)
          bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | 0x80
          for (let i = 1; i < padding; i++) bytes.push(0x80)
          bytes.push(0x00)
          const error = await failure(reader(counted([Uint8Array.from(bytes)])).next())
          expect(isMendsyncError(error, 'PROTOCOL_ERROR')).toBe(true)
          expect(isFrameViolation(error)).toBe(true)
        },
      ),
    )
  })

  it('a declared length over the limit is refused before admission and before the body is pulled', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1 << 20 }), async (over) => {
        let admitted = 0
        const source = counted([Uint8Array.from(varint(MAX + over)), new Uint8Array(64)])
        const error = await failure(
          reader(source, {
            admit: async () => {
              admitted += 1
              return () => {}
            },
          }).next(),
        )
        expect(isMendsyncError(error, 'FRAME_TOO_LARGE')).toBe(true)
        expect(admitted).toBe(0)
        expect(source.pulls).toBe(1)
      }),
      { numRuns: 50 },
    )
  })

  it('the largest allowed length is accepted', async () => {
    const body = new Uint8Array(MAX).fill(7)
    const frames = await readAll(reader(counted([framed(body)])))
    expect(frames).toHaveLength(1)
    expect(frames[0]?.byteLength).toBe(MAX)
  })

  it('every later read fails with the same error', async () => {
    const frames = reader(counted(run(0xff)))
    const first = await failure(frames.next())
    expect(await failure(frames.next())).toBe(first)
  })
})

describe('good frames', () => {
  const bodies = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), {
    minLength: 1,
    maxLength: 6,
  })

  it('come out whole when the bytes are split in two at every byte boundary', async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (list) => {
        const bytes = concat(list.map(framed))
        for (let cut = 0; cut <= bytes.byteLength; cut++) {
          const frames = await readAll(
            reader(counted([bytes.subarray(0, cut), bytes.subarray(cut)])),
          )
          expect(frames).toEqual(list)
        }
      }),
      { numRuns: 30 },
    )
  })

  it('come out whole from any chunking, including chunks of byte arrays (Uint8ArrayList)', async () => {
    await fc.assert(
      fc.asyncProperty(
        bodies,
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }),
        async (list, sizes) => {
          const bytes = concat(list.map(framed))
          const chunks: Chunk[] = []
          let at = 0
          for (let i = 0; at < bytes.byteLength; i++) {
            const size = sizes[i % sizes.length] as number
            const piece = bytes.subarray(at, at + size)
            chunks.push(i % 2 === 0 ? piece : [piece.subarray(0, 1), piece.subarray(1)])
            at += size
          }
          expect(await readAll(reader(counted(chunks)))).toEqual(list)
        },
      ),
    )
  })

  it('many frames in one chunk are all read, one pull in all', async () => {
    const list = Array.from({ length: 1000 }, (_, i) => Uint8Array.of(i % 256, 1, 2))
    const source = counted([concat(list.map(framed))])
    expect(await readAll(reader(source))).toEqual(list)
    expect(source.pulls).toBe(1)
  })

  it('a stream that ends inside a body is a protocol error', async () => {
    const bytes = framed(new Uint8Array(10))
    const error = await failure(reader(counted([bytes.subarray(0, 5)])).next())
    expect(isMendsyncError(error, 'PROTOCOL_ERROR')).toBe(true)
  })

  it('a body that stalls past frameTimeoutMs fails TIMEOUT, which is not a violation', async () => {
    const stalled: AsyncIterator<Chunk> = {
      next: (() => {
        let first = true
        return () => {
          if (!first) return new Promise<never>(() => {})
          first = false
          return Promise.resolve({ done: false, value: framed(new Uint8Array(10)).subarray(0, 4) })
        }
      })(),
    }
    const error = await failure(reader(stalled, { frameTimeoutMs: 20 }).next())
    expect(isMendsyncError(error, 'TIMEOUT')).toBe(true)
    expect(isFrameViolation(error)).toBe(false)
  })
})

describe('admission', () => {
  it('asks for the body length and pulls nothing until the frame is admitted', async () => {
    const body = new Uint8Array(100).fill(3)
    const bytes = framed(body)
    const source = counted([bytes.subarray(0, 2), bytes.subarray(2)])
    let grant: () => void = () => {}
    let asked: (length: number) => void = () => {}
    const askedFor = new Promise<number>((resolve) => {
      asked = resolve
    })
    let released = 0
    const frames = reader(source, {
      admit: (length) => {
        asked(length)
        return new Promise((resolve) => {
          grant = () =>
            resolve(() => {
              released += 1
            })
        })
      },
    })
    const reading = frames.next()
    expect(await askedFor).toBe(100)
    expect(source.pulls).toBe(1)
    grant()
    const frame = await reading
    expect(frame?.bytes).toEqual(body)
    expect(source.pulls).toBe(2)
    frame?.release()
    expect(released).toBe(1)
  })

  it('a refused admission fails the read; a body that fails after admission releases its room', async () => {
    const refused = reader(counted([framed(new Uint8Array(8))]), {
      admit: () => Promise.reject(new Error('no room')),
    })
    expect(((await failure(refused.next())) as Error).message).toBe('no room')

    let released = 0
    const truncated = reader(counted([framed(new Uint8Array(8)).subarray(0, 4)]), {
      admit: async () => () => {
        released += 1
      },
    })
    expect(isMendsyncError(await failure(truncated.next()), 'PROTOCOL_ERROR')).toBe(true)
    expect(released).toBe(1)
  })

  it('an empty frame is not admitted (it buffers nothing)', async () => {
    let asked = 0
    const frames = await readAll(
      reader(counted([Uint8Array.of(0)]), {
        admit: async () => {
          asked += 1
          return () => {}
        },
      }),
    )
    expect(frames).toEqual([new Uint8Array(0)])
    expect(asked).toBe(0)
  })
})
