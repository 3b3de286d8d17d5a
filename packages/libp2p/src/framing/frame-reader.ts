// Length-prefixed frames read from a stream's chunks with bounded memory, whatever the bytes.
//
// The unsigned varint length prefix is read one byte at a time and refused at the first byte that
// proves it bad: a prefix that could only end in a length over `maxFrameBytes` (so a run of 0xff
// or a 10-byte varint is refused after at most `varintLength(maxFrameBytes)` bytes), a
// non-minimal prefix (`0x80 0x00`), a declared length over `maxFrameBytes`. Only then is room for
// the body asked for (`admit`), and no further chunk is pulled from the stream until it is
// granted, so a frame that cannot be admitted leaves the bytes in the muxer, whose flow-control
// window stops the sender. The reader holds at most the rest of the chunk being read (counted in
// the muxer's window until the next chunk is pulled) and the one frame being assembled.
import { MendsyncError } from '@mendsync/core'
import type { Release } from '@mendsync/core/toolbox'

/** How long the body of a frame may take to arrive once its prefix did, ms (a slow sender holds budget). */
export const DEFAULT_FRAME_TIMEOUT_MS = 60_000

/** The longest unsigned varint (a 64-bit value): no prefix is ever read past this. */
export const MAX_VARINT_BYTES = 10

/** A chunk as streams yield it: bytes, or a list of byte arrays (libp2p's `Uint8ArrayList`). */
export type Chunk = Uint8Array | Iterable<Uint8Array>

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame body accepted, bytes (length prefix excluded). */
  readonly maxFrameBytes: number
  /**
   * Reserves room for a frame body of `bytes` before any of it is buffered and resolves with the
   * reservation's release; rejects (typically `OVERLOADED`) to refuse the frame. Default: none.
   */
  readonly admit?: (bytes: number) => Promise<Release>
  /** See {@link DEFAULT_FRAME_TIMEOUT_MS}. */
  readonly frameTimeoutMs?: number
}

/** A frame and the release of the room it was admitted with (call it once it is handled). */
export interface HeldFrame {
  readonly bytes: Uint8Array
  readonly release: Release
}

/**
 * Whether a reader error is the peer's protocol violation (penalise it), as opposed to this
 * side's overload, a slow peer or a closed stream (reset without penalty).
 */
export function isFrameViolation(error: unknown): boolean {
  return (
    error instanceof MendsyncError &&
    (error.code === 'FRAME_TOO_LARGE' || error.code === 'PROTOCOL_ERROR')
  )
}

const NO_RELEASE: Release = () => {}

/** Reads length-prefixed frames from an async iterator of chunks; one `next()` at a time. */
export class FrameReader {
  private readonly source: AsyncIterator<Chunk>
  private readonly maxFrameBytes: number
  private readonly admit: ((bytes: number) => Promise<Release>) | undefined
  private readonly frameTimeoutMs: number
  /** The unread pieces of the chunk being read; `offset` into the first. */
  private pieces: Uint8Array[] = []
  private offset = 0
  private reading = false
  private failure: unknown = null
  private ended = false

  constructor(source: AsyncIterator<Chunk>, options: FrameReaderOptions) {
    const max = options.maxFrameBytes
    if (!(Number.isSafeInteger(max) && max > 0)) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `maxFrameBytes must be a positive integer: ${max}`,
      )
    }
    this.source = source
    this.maxFrameBytes = max
    this.admit = options.admit
    this.frameTimeoutMs = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS
  }

  /** Bytes held now: the unread rest of the current chunk (the frame being assembled excluded). */
  get buffered(): number {
    let total = -this.offset
    for (const piece of this.pieces) total += piece.byteLength
    return Math.max(0, total)
  }

  /**
   * The next frame, or `null` when the stream ended cleanly between frames. Throws
   * `FRAME_TOO_LARGE` / `PROTOCOL_ERROR` for the peer's violations (see {@link isFrameViolation}),
   * `TIMEOUT` for a body that stalls, the admission's error, or `NETWORK_CLOSED` when the stream
   * fails; after a throw every later call throws the same error.
   */
  async next(): Promise<HeldFrame | null> {
    if (this.failure !== null) throw this.failure
    if (this.reading) {
      throw new MendsyncError('INVALID_ARGUMENT', 'a frame is already being read from this stream')
    }
    this.reading = true
    try {
      const length = await this.readPrefix()
      if (length === null) return null
      const release = length === 0 || !this.admit ? NO_RELEASE : await this.admit(length)
      try {
        return { bytes: await this.readBody(length), release }
      } catch (error) {
        release()
        throw error
      }
    } catch (error) {
      this.failure = error
      this.pieces = []
      throw error
    } finally {
      this.reading = false
    }
  }

  private async readPrefix(): Promise<number | null> {
    let value = 0
    let count = 0
    for (;;) {
      const byte = await this.nextByte()
      if (byte < 0) {
        if (count === 0) return null
        throw new MendsyncError('PROTOCOL_ERROR', 'the stream ended inside a length prefix')
      }
      value += (byte & 0x7f) * 2 ** (7 * count)
      count += 1
      if ((byte & 0x80) === 0) {
        if (byte === 0 && count > 1) {
          throw new MendsyncError('PROTOCOL_ERROR', 'non-minimal frame length prefix')
        }
        break
      }
      // A minimal continuation adds at least 2^(7 * count): refuse as soon as that is too much.
      if (count >= MAX_VARINT_BYTES || value + 2 ** (7 * count) > this.maxFrameBytes) {
        throw new MendsyncError(
          'FRAME_TOO_LARGE',
          `frame length prefix runs past ${count} bytes: the frame would exceed the ${this.maxFrameBytes}-byte limit`,
        )
      }
    }
    if (value > this.maxFrameBytes) {
      throw new MendsyncError(
        'FRAME_TOO_LARGE',
        `peer announced a frame of ${value} bytes, over the ${this.maxFrameBytes}-byte limit`,
      )
    }
    return value
  }

  private async readBody(length: number): Promise<Uint8Array> {
    const first = this.pieces[0]
    if (first && this.offset === 0 && first.byteLength === length) {
      this.pieces.shift()
      return first
    }
    // Copied, so that a small frame does not keep a large chunk alive after the chunk is read.
    const body = new Uint8Array(length)
    let filled = 0
    let deadline: ReturnType<typeof setTimeout> | undefined
    let expired: Promise<never> | undefined
    try {
      while (filled < length) {
        const piece = this.pieces[0]
        if (!piece) {
          expired ??= new Promise<never>((_resolve, reject) => {
            deadline = setTimeout(
              () =>
                reject(
                  new MendsyncError(
                    'TIMEOUT',
                    `a ${length}-byte frame did not arrive within ${this.frameTimeoutMs} ms`,
                  ),
                ),
              this.frameTimeoutMs,
            )
          })
          if (!(await this.pull(expired))) {
            throw new MendsyncError('PROTOCOL_ERROR', 'the stream ended inside a frame')
          }
          continue
        }
        const take = Math.min(length - filled, piece.byteLength - this.offset)
        body.set(piece.subarray(this.offset, this.offset + take), filled)
        filled += take
        this.consume(take)
      }
    } finally {
      clearTimeout(deadline)
    }
    return body
  }

  /** The next byte, or -1 at the end of the stream. */
  private async nextByte(): Promise<number> {
    for (;;) {
      const piece = this.pieces[0]
      if (piece) {
        const byte = piece[this.offset] as number
        this.consume(1)
        return byte
      }
      if (!(await this.pull())) return -1
    }
  }

  private consume(bytes: number): void {
    this.offset += bytes
    const first = this.pieces[0]
    if (first && this.offset >= first.byteLength) {
      this.pieces.shift()
      this.offset = 0
    }
  }

  /** Pulls the next chunk into `pieces`; false at the end of the stream. */
  private async pull(expired?: Promise<never>): Promise<boolean> {
    if (this.ended) return false
    let result: IteratorResult<Chunk>
    try {
      const next = this.source.next()
      result = expired ? await Promise.race([next, expired]) : await next
    } catch (cause) {
      if (cause instanceof MendsyncError && cause.code === 'TIMEOUT') throw cause
      throw new MendsyncError('NETWORK_CLOSED', 'the stream closed', { cause })
    }
    if (result.done) {
      this.ended = true
      return false
    }
    const chunk = result.value
    const pieces = chunk instanceof Uint8Array ? [chunk] : [...chunk]
    this.pieces = pieces.filter((piece) => piece.byteLength > 0)
    this.offset = 0
    return true
  }
}
