// When each chunk written into one direction of a shaped link comes out at the other end: the
// pure timing model of the network shaper (`shaping-proxy.ts`), kept apart so tests can check it
// on a clock of their own.
import { type SeededRandom, seededRandom } from '@mendsync/core/toolbox'

/** How one direction of a link treats the bytes that cross it. */
export interface LinkShape {
  /** One-way delay, ms (a symmetric link of round-trip time R has R / 2 in each direction). */
  readonly delayMs: number
  /** Each chunk's delay varies uniformly within ±`jitterMs` (never reordering bytes). */
  readonly jitterMs?: number
  /**
   * Probability that a chunk is lost once. The link carries TCP, so a lost chunk is not dropped
   * but arrives late, as a retransmission would: after `retransmitMs` more (and everything
   * behind it waits, as TCP delivers in order).
   */
  readonly loss?: number
  /** Extra delay of a lost chunk, ms; default 200 (Linux's minimum retransmission timeout). */
  readonly retransmitMs?: number
  /** Bandwidth, bits per second; unlimited when absent. */
  readonly bitsPerSecond?: number
  /** Seed of the jitter and loss draws, so a run can be repeated; default 1. */
  readonly seed?: number
}

/** Both directions of a link with round-trip time `rttMs` and the same other properties. */
export function symmetricLink(
  rttMs: number,
  shape: Omit<LinkShape, 'delayMs'> = {},
): { readonly up: LinkShape; readonly down: LinkShape } {
  return {
    up: { ...shape, delayMs: rttMs / 2 },
    down: { ...shape, delayMs: rttMs / 2, seed: (shape.seed ?? 1) + 1 },
  }
}

/** The largest chunk scheduled at once: bigger writes are split, so bandwidth paces them finely. */
export const MAX_CHUNK_BYTES = 16 * 1024

/**
 * The schedule of one direction: a chunk leaves once the link has sent every earlier byte (at
 * `bitsPerSecond`), then takes the delay (with jitter, plus a retransmission if lost), and never
 * arrives before an earlier chunk (in-order delivery, as on one TCP path).
 */
export class LinkSchedule {
  private readonly shape: LinkShape
  private readonly random: SeededRandom
  /** When the link has sent every byte scheduled so far (ms, on the caller's clock). */
  private sentUntil = Number.NEGATIVE_INFINITY
  /** When the last scheduled chunk arrives. */
  private lastArrival = Number.NEGATIVE_INFINITY
  /** Chunks that drew a loss so far. */
  lost = 0

  constructor(shape: LinkShape) {
    for (const [name, value] of Object.entries(shape)) {
      if (typeof value === 'number' && (!Number.isFinite(value) || value < 0))
        throw new RangeError(`link shape: ${name} must be a finite number >= 0, got ${value}`)
    }
    if ((shape.loss ?? 0) > 1) throw new RangeError('link shape: loss must be at most 1')
    if (shape.bitsPerSecond === 0) throw new RangeError('link shape: bitsPerSecond must be > 0')
    this.shape = shape
    this.random = seededRandom(shape.seed ?? 1)
  }

  /** When a chunk of `bytes` written at `now` (ms) arrives at the other end. */
  arrival(bytes: number, now: number): number {
    const { bitsPerSecond, jitterMs = 0, loss = 0, retransmitMs = 200 } = this.shape
    const start = Math.max(now, this.sentUntil)
    const sent = bitsPerSecond === undefined ? start : start + (bytes * 8 * 1000) / bitsPerSecond
    this.sentUntil = sent
    let delay = this.shape.delayMs + (jitterMs === 0 ? 0 : (this.random.next() * 2 - 1) * jitterMs)
    if (loss > 0 && this.random.next() < loss) {
      this.lost++
      delay += retransmitMs
    }
    const arrival = Math.max(sent + Math.max(0, delay), this.lastArrival)
    this.lastArrival = arrival
    return arrival
  }
}
