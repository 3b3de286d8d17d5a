// The gossip payload of one space topic, its sender side (sequence numbers, version vector
// delta-encoding) and its receiver side (the topic validator's checks and per-sender state).
//
// Payload: canonical CBOR array
//   [1, epoch, seq, replicaId, base, vector, summary, hints]
//     epoch    uint  chosen when the channel is joined (microseconds since 1970 plus noise), so
//                    a restarted sender's new messages outrank its old ones
//     seq      uint  1, 2, ... within the epoch
//     base     null for a full vector, or the seq of the sender's previous message when
//              `vector` only holds the entries that changed since that message
//     vector   [[replicaId, counter], ...]
//     summary  bytes (<= 24)
//     hints    [[key, [[replicaId, counter], ...]], ...]
//
// A receiver keeps, per sender, the last (epoch, seq) it accepted and the full vector it
// rebuilt. A message whose (epoch, seq) is not newer is a replay (or reordered) and is ignored.
// A delta whose base is not the vector the receiver holds (it joined late or lost a message)
// cannot be rebuilt: the receiver ignores deltas until the next full vector, which the sender
// sends every `fullVectorEvery` messages (and whenever a delta would not be smaller).
import { MendsyncError } from '@mendsync/core'
import { BoundedMap, KeyedRateLimiter } from '@mendsync/core/toolbox'
import { type GossipMessage, type Hint, MAX_SUMMARY_BYTES } from '@mendsync/replica/adapter'
import {
  asArray,
  asBytes,
  asDots,
  asString,
  asUint,
  decodeFrame,
  encodeFrame,
  expectLength,
  type WireLimits,
} from './codec.js'

import type { GossipLimits } from './constants.defaults.js'

// Declared beside its defaults (constants.defaults.ts), so that file imports nothing back.
export type { GossipLimits }

const GOSSIP_VERSION = 1

/** A decoded, validated gossip payload. */
export interface GossipPayload {
  readonly epoch: number
  readonly seq: number
  readonly replicaId: string
  /** `null`: `vector` is the full vector; otherwise the seq it is a delta against. */
  readonly base: number | null
  readonly vector: [string, number][]
  readonly summary: Uint8Array
  readonly hints: Hint[]
}

/** The canonical CBOR of a gossip payload (what a space topic carries). */
export function encodeGossip(payload: GossipPayload): Uint8Array {
  return encodeFrame([
    GOSSIP_VERSION,
    payload.epoch,
    payload.seq,
    payload.replicaId,
    payload.base,
    payload.vector,
    payload.summary,
    payload.hints.map((hint) => [hint.key, hint.dots.map((dot) => [dot.replica, dot.counter])]),
  ])
}

/**
 * Decodes and validates one gossip payload against `limits`; a bad one throws a MendsyncError
 * (`FRAME_TOO_LARGE`, `DECODE_ERROR` or `PROTOCOL_ERROR`).
 */
export function decodeGossip(bytes: Uint8Array, limits: GossipLimits): GossipPayload {
  const frame = decodeFrame(bytes, limits.maxGossipBytes)
  if (frame[0] !== GOSSIP_VERSION) {
    throw new MendsyncError('PROTOCOL_ERROR', 'unknown gossip version')
  }
  expectLength(frame, 8, 'gossip')
  const wire: WireLimits = {
    maxFrameBytes: limits.maxGossipBytes,
    maxKeysPerFrame: 0,
    maxKeyLength: limits.maxKeyLength,
  }
  const seq = asUint(frame[2], 'seq')
  const base = frame[4] === null ? null : asUint(frame[4], 'base')
  if (seq === 0 || (base !== null && base >= seq)) {
    throw new MendsyncError('PROTOCOL_ERROR', 'malformed frame: gossip seq/base')
  }
  const seen = new Set<string>()
  const vector = asArray(frame[5], limits.maxVectorEntries, 'vector').map((entry) => {
    const pair = asArray(entry, 2, 'vector entry')
    expectLength(pair, 2, 'vector entry')
    const replica = asString(pair[0], limits.maxKeyLength, 'vector replica')
    if (seen.has(replica)) throw new MendsyncError('PROTOCOL_ERROR', 'duplicate vector entry')
    seen.add(replica)
    return [replica, asUint(pair[1], 'vector counter')] as [string, number]
  })
  const hints = asArray(frame[7], limits.maxHints, 'hints').map((entry) => {
    const pair = asArray(entry, 2, 'hint')
    expectLength(pair, 2, 'hint')
    return {
      key: asString(pair[0], limits.maxKeyLength, 'hint key'),
      dots: asDots(pair[1], wire, limits.maxDotsPerHint),
    }
  })
  return {
    epoch: asUint(frame[1], 'epoch'),
    seq,
    replicaId: asString(frame[3], limits.maxKeyLength, 'replica id'),
    base,
    vector,
    summary: asBytes(frame[6], 'summary', MAX_SUMMARY_BYTES),
    hints,
  }
}

/** The sending side of one space: numbers messages and delta-encodes the version vector. */
export class GossipSender {
  readonly epoch: number
  private seq = 0
  private last: ReadonlyMap<string, number> | null = null
  private sinceFull = 0
  private readonly fullVectorEvery: number

  constructor(
    fullVectorEvery: number,
    epoch = Date.now() * 1000 + Math.floor(Math.random() * 1000),
  ) {
    this.fullVectorEvery = Math.max(1, fullVectorEvery)
    this.epoch = epoch
  }

  /**
   * Makes the next message carry the full vector: a peer that just joined holds no base to
   * apply a delta to, and would otherwise wait up to `fullVectorEvery` messages.
   */
  sendFullNext(): void {
    this.last = null
  }

  /** The next payload for `message` (already validated by the caller). */
  next(message: GossipMessage): GossipPayload {
    const vector = message.versionVector
    let delta: [string, number][] | null = null
    if (this.last !== null && this.sinceFull + 1 < this.fullVectorEvery) {
      delta = []
      for (const [replica, counter] of vector) {
        if (this.last.get(replica) !== counter) delta.push([replica, counter])
      }
      // Entries can only grow; one that vanished cannot be said as a delta.
      for (const replica of this.last.keys()) if (!vector.has(replica)) delta = null
      if (delta !== null && delta.length >= vector.size) delta = null
    }
    this.seq += 1
    const base = delta === null ? null : this.seq - 1
    this.sinceFull = delta === null ? 0 : this.sinceFull + 1
    this.last = new Map(vector)
    return {
      epoch: this.epoch,
      seq: this.seq,
      replicaId: message.replicaId,
      base,
      vector: delta ?? [...vector],
      summary: message.summary,
      hints: message.hints.map((hint) => ({ key: hint.key, dots: [...hint.dots] })),
    }
  }
}

/** What the topic validator does with a message: deliver it, drop it quietly, or penalise its forwarder. */
export type Verdict = 'accept' | 'ignore' | 'reject'

/** Options of {@link GossipReceiver}. */
export interface GossipReceiverOptions {
  readonly limits: GossipLimits
  /** Messages per second one sender may have accepted (token bucket refill). */
  readonly ratePerSecond: number
  /** Token bucket size: a burst a sender may send at once. */
  readonly rateBurst: number
  /** Most senders tracked (sequence numbers, vectors, buckets); the stalest is forgotten. */
  readonly maxSenders: number
  /** The clock of the rate limit, ms; default `Date.now` (tests pass a fake one). */
  readonly now?: () => number
}

interface SenderState {
  epoch: number
  seq: number
  /** The full vector as of `vectorSeq`, or null while waiting for a full one. */
  vector: Map<string, number> | null
  vectorSeq: number
}

/** The receiving side of one space topic. */
export class GossipReceiver {
  private readonly senders: BoundedMap<string, SenderState>
  private readonly rate: KeyedRateLimiter
  private readonly options: GossipReceiverOptions

  constructor(options: GossipReceiverOptions) {
    this.options = options
    this.senders = new BoundedMap(options.maxSenders)
    this.rate = new KeyedRateLimiter({
      perSecond: options.ratePerSecond,
      burst: options.rateBurst,
      capacity: options.maxSenders,
      now: options.now,
    })
  }

  /**
   * Validates one message of the topic. `from` is the signer; `signed` whether it carried a
   * verified signature; `allowed` the space's allowlist check. Accepted messages come back with
   * the rebuilt full message, or `null` when it is a delta this side cannot rebuild.
   */
  validate(
    from: string,
    signed: boolean,
    allowed: boolean,
    data: Uint8Array,
  ): { verdict: Verdict; reason: string; message: GossipMessage | null } {
    if (!signed) return { verdict: 'reject', reason: 'unsigned', message: null }
    if (!allowed) return { verdict: 'reject', reason: 'sender not allowed', message: null }
    let payload: GossipPayload
    try {
      payload = decodeGossip(data, this.options.limits)
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'undecodable'
      return { verdict: 'reject', reason, message: null }
    }
    const state = this.senders.get(from)
    if (
      state &&
      (payload.epoch < state.epoch || (payload.epoch === state.epoch && payload.seq <= state.seq))
    ) {
      return { verdict: 'ignore', reason: 'replayed or stale', message: null }
    }
    if (!this.rate.take(from)) return { verdict: 'ignore', reason: 'rate limited', message: null }

    const next: SenderState =
      state && state.epoch === payload.epoch
        ? state
        : { epoch: payload.epoch, seq: 0, vector: null, vectorSeq: 0 }
    next.seq = payload.seq
    let vector: Map<string, number> | null = null
    if (payload.base === null) {
      vector = new Map(payload.vector)
    } else if (next.vector !== null && next.vectorSeq === payload.base) {
      vector = new Map(next.vector)
      for (const [replica, counter] of payload.vector) vector.set(replica, counter)
      if (vector.size > this.options.limits.maxVectorEntries) vector = null
    }
    next.vector = vector
    next.vectorSeq = payload.seq
    this.senders.set(from, next)
    if (vector === null) return { verdict: 'accept', reason: 'delta without base', message: null }
    return {
      verdict: 'accept',
      reason: 'ok',
      message: {
        replicaId: payload.replicaId,
        versionVector: new Map(vector),
        summary: payload.summary,
        hints: payload.hints,
      },
    }
  }

  get trackedSenders(): number {
    return this.senders.size
  }
}
