// Property tests of every decoder and of the gossip sender/receiver: random bytes, random CBOR of
// the wrong shape, oversize input. A decoder either returns a well-typed value or throws a
// MendsyncError with a wire code; nothing else escapes.
import { isMendsyncError } from '@mendsync/core'
import { type LogEntry, makeLogger } from '@mendsync/core/toolbox'
import { encode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  chunkStates,
  decodeFrame,
  decodePullRequest,
  decodePushRequest,
  decodeReconcileFrame,
  decodeReply,
  encodePullRequest,
  encodePushRequest,
  encodeReply,
  type WireLimits,
} from '../src/codec.js'
import { DEFAULT_GOSSIP_LIMITS, DEFAULT_WIRE_LIMITS } from '../src/constants.defaults.js'
import { decodeGossip, encodeGossip, GossipReceiver, GossipSender } from '../src/gossip.js'
import { PeerPenalties } from '../src/penalties.js'

const WIRE_CODES = new Set(['DECODE_ERROR', 'PROTOCOL_ERROR', 'FRAME_TOO_LARGE'])
const limits: WireLimits = { ...DEFAULT_WIRE_LIMITS, maxFrameBytes: 64 * 1024 }

function typedOrWireError(run: () => unknown): void {
  try {
    run()
  } catch (error) {
    if (!isMendsyncError(error) || !WIRE_CODES.has(error.code)) {
      throw new Error(`decoder threw a non-wire error: ${String(error)}`, { cause: error })
    }
  }
}

const decoders: [string, (bytes: Uint8Array) => unknown][] = [
  ['frame', (bytes) => decodeFrame(bytes, limits.maxFrameBytes)],
  ['pull request', (bytes) => decodePullRequest(bytes, limits)],
  ['push request', (bytes) => decodePushRequest(bytes, limits)],
  ['reply', (bytes) => decodeReply(bytes, limits)],
  ['reconcile frame', (bytes) => decodeReconcileFrame(bytes, limits)],
  ['gossip', (bytes) => decodeGossip(bytes, DEFAULT_GOSSIP_LIMITS)],
]

// CBOR values of every kind cborg encodes, nested, to build well-formed frames of wrong types.
const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -1000, max: 1000 }),
    fc.nat(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 30 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('value'), { maxKeys: 3 }),
  ),
})).value

// Arrays that start like a real frame (a known type tag) followed by random fields.
const frameLike = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.array(cborValue, { maxLength: 8 }))
  .map(([tag, rest]) => encode([tag, ...rest]))

describe('decoders under random input', () => {
  for (const [name, decode] of decoders) {
    it(`${name}: random bytes give a value or a wire error`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
          typedOrWireError(() => decode(bytes))
        }),
        { numRuns: 1500 },
      )
    })

    it(`${name}: CBOR of the wrong shape gives a value or a wire error`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            frameLike,
            cborValue.map((value) => encode(value)),
          ),
          (bytes) => {
            typedOrWireError(() => decode(bytes))
          },
        ),
        { numRuns: 1500 },
      )
    })

    it(`${name}: an oversize frame fails with FRAME_TOO_LARGE before decoding`, () => {
      const huge = encode([0, 1, 'space', new Uint8Array(DEFAULT_GOSSIP_LIMITS.maxGossipBytes + 1)])
      const tooLarge =
        huge.byteLength > limits.maxFrameBytes ? huge : new Uint8Array(limits.maxFrameBytes + 1)
      let code: string | null = null
      try {
        decode(tooLarge)
      } catch (error) {
        code = isMendsyncError(error) ? error.code : 'other'
      }
      expect(code).toBe('FRAME_TOO_LARGE')
    })
  }

  it('rejects non-canonical CBOR (an integer in a longer encoding than needed)', () => {
    // [0, 1, "s", 1, []] with the id 1 encoded on two bytes (0x18 0x01).
    const bytes = Uint8Array.from([0x85, 0x00, 0x18, 0x01, 0x61, 0x73, 0x01, 0x80])
    expect(() => decodePullRequest(bytes, limits)).toThrow(
      expect.objectContaining({ code: 'DECODE_ERROR' }),
    )
  })

  it('round-trips valid pull and push requests and replies', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.array(fc.string({ minLength: 1, maxLength: 30 }), { maxLength: 20 }),
        fc.boolean(),
        fc.array(
          fc.tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.uint8Array({ maxLength: 64 })),
          {
            maxLength: 10,
          },
        ),
        (id, space, keys, digest, pairs) => {
          const mode = digest ? 'digest' : 'state'
          expect(decodePullRequest(encodePullRequest(id, space, mode, keys), limits)).toEqual({
            id,
            space,
            mode,
            keys,
          })
          const states = pairs.map(([key, state]) => ({ key, state }))
          expect(decodePushRequest(encodePushRequest(id, space, states), limits)).toEqual({
            id,
            space,
            states,
          })
          const results = pairs.map(([, state], i) => (i % 2 === 0 ? state : null))
          expect(decodeReply(encodeReply(id, [results]), limits)).toEqual({
            kind: 'ok',
            id,
            body: [results],
          })
        },
      ),
      { numRuns: 300 },
    )
  })

  it('splits states into frames under the limit and refuses a state that fits no frame', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 50 }), fc.nat({ max: 3000 })), {
          maxLength: 60,
        }),
        (entries) => {
          const states = entries.map(([key, size]) => ({ key, state: new Uint8Array(size) }))
          const chunks = chunkStates(states, 8 * 1024, 16)
          expect(chunks.flat()).toEqual(states)
          for (const chunk of chunks) {
            expect(chunk.length).toBeLessThanOrEqual(16)
            expect(encodePushRequest(2 ** 40, 'space', chunk).byteLength).toBeLessThanOrEqual(
              8 * 1024,
            )
          }
        },
      ),
      { numRuns: 200 },
    )
    expect(() => chunkStates([{ key: 'k', state: new Uint8Array(9000) }], 8 * 1024, 16)).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    )
  })
})

describe('gossip sender and receiver', () => {
  const receiverOptions = {
    limits: DEFAULT_GOSSIP_LIMITS,
    ratePerSecond: 1_000_000,
    rateBurst: 1_000_000,
    maxSenders: 16,
  }

  it('rebuilds every delivered vector exactly, whatever messages are lost', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.nat(5)), { maxLength: 4 }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 10 }),
        (steps, fullVectorEvery) => {
          const sender = new GossipSender(fullVectorEvery, 1000)
          const receiver = new GossipReceiver(receiverOptions)
          const vector = new Map<string, number>()
          let sinceFull = 0
          let lostSinceFull = false
          for (const [bumps, delivered] of steps) {
            for (const [replica, by] of bumps) {
              const id = `r${replica}`
              vector.set(id, (vector.get(id) ?? 0) + by)
            }
            const payload = sender.next({
              replicaId: 'r0',
              versionVector: vector,
              summary: new Uint8Array(4),
              hints: [],
            })
            if (payload.base === null) {
              sinceFull = 0
              lostSinceFull = false
            } else sinceFull += 1
            expect(sinceFull).toBeLessThan(fullVectorEvery)
            if (!delivered) {
              lostSinceFull = true
              continue
            }
            const result = receiver.validate('peer', true, true, encodeGossip(payload))
            expect(result.verdict).toBe('accept')
            if (result.message) {
              expect(new Map(result.message.versionVector)).toEqual(new Map(vector))
            } else {
              // Only a delta whose base was lost may fail to rebuild.
              expect(payload.base).not.toBeNull()
              expect(lostSinceFull).toBe(true)
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('ignores replays and older epochs, accepts a restarted sender', () => {
    const receiver = new GossipReceiver(receiverOptions)
    const message = {
      replicaId: 'r',
      versionVector: new Map([['r', 1]]),
      summary: new Uint8Array(0),
      hints: [],
    }
    const first = new GossipSender(8, 5000)
    const one = encodeGossip(first.next(message))
    const two = encodeGossip(first.next(message))
    expect(receiver.validate('p', true, true, one).verdict).toBe('accept')
    expect(receiver.validate('p', true, true, two).verdict).toBe('accept')
    expect(receiver.validate('p', true, true, one).verdict).toBe('ignore')
    expect(receiver.validate('p', true, true, two).verdict).toBe('ignore')
    const older = new GossipSender(8, 4000)
    expect(receiver.validate('p', true, true, encodeGossip(older.next(message))).verdict).toBe(
      'ignore',
    )
    const restarted = new GossipSender(8, 6000)
    const fresh = receiver.validate('p', true, true, encodeGossip(restarted.next(message)))
    expect(fresh.verdict).toBe('accept')
    expect(fresh.message?.versionVector).toEqual(new Map([['r', 1]]))
  })

  it('rejects unsigned, not allowed and malformed messages', () => {
    const receiver = new GossipReceiver(receiverOptions)
    const valid = encodeGossip(
      new GossipSender(8).next({
        replicaId: 'r',
        versionVector: new Map(),
        summary: new Uint8Array(0),
        hints: [],
      }),
    )
    expect(receiver.validate('p', false, true, valid).verdict).toBe('reject')
    expect(receiver.validate('p', true, false, valid).verdict).toBe('reject')
    expect(receiver.validate('p', true, true, Uint8Array.from([1, 2, 3])).verdict).toBe('reject')
    const oversizeSummary = encode([1, 1, 1, 'r', null, [], new Uint8Array(25), []])
    expect(receiver.validate('p', true, true, oversizeSummary).verdict).toBe('reject')
    const duplicateEntry = encode([
      1,
      1,
      1,
      'r',
      null,
      [
        ['a', 1],
        ['a', 2],
      ],
      new Uint8Array(0),
      [],
    ])
    expect(receiver.validate('p', true, true, duplicateEntry).verdict).toBe('reject')
    const zeroDot = encode([1, 1, 1, 'r', null, [], new Uint8Array(0), [['k', [['a', 0]]]]])
    expect(receiver.validate('p', true, true, zeroDot).verdict).toBe('reject')
    const tooManyHints = encode([
      1,
      1,
      1,
      'r',
      null,
      [],
      new Uint8Array(0),
      Array.from({ length: DEFAULT_GOSSIP_LIMITS.maxHints + 1 }, (_, i) => [`k${i}`, []]),
    ])
    expect(receiver.validate('p', true, true, tooManyHints).verdict).toBe('reject')
    expect(
      receiver.validate('p', true, true, new Uint8Array(DEFAULT_GOSSIP_LIMITS.maxGossipBytes + 1))
        .verdict,
    ).toBe('reject')
  })

  it('rate-limits each sender and keeps a bounded number of senders', () => {
    let now = 0
    const receiver = new GossipReceiver({
      ...receiverOptions,
      ratePerSecond: 2,
      rateBurst: 3,
      now: () => now,
    })
    const sender = new GossipSender(8, 1)
    const message = {
      replicaId: 'r',
      versionVector: new Map(),
      summary: new Uint8Array(0),
      hints: [],
    }
    const verdicts = Array.from(
      { length: 5 },
      () => receiver.validate('p', true, true, encodeGossip(sender.next(message))).verdict,
    )
    expect(verdicts).toEqual(['accept', 'accept', 'accept', 'ignore', 'ignore'])
    now += 1000
    expect(receiver.validate('p', true, true, encodeGossip(sender.next(message))).verdict).toBe(
      'accept',
    )
    for (let i = 0; i < 100; i++) {
      receiver.validate(
        `flood-${i}`,
        true,
        true,
        encodeGossip(new GossipSender(8, 1).next(message)),
      )
    }
    expect(receiver.trackedSenders).toBeLessThanOrEqual(receiverOptions.maxSenders)
  })
})

describe('the penalty book', () => {
  it('decays points, bans at the threshold for banMs and forgets the stalest peers past its capacity', () => {
    let now = 0
    const penalties = new PeerPenalties({
      banThreshold: 30,
      banMs: 1000,
      decayPerSecond: 10,
      capacity: 8,
      now: () => now,
    })
    const banned: string[] = []
    penalties.onBan((peer) => banned.push(peer))
    expect(penalties.penalize('p', 20, 'bad frame')).toBe(false)
    expect(penalties.penalize('p', 20, 'bad frame')).toBe(true)
    expect(banned).toEqual(['p'])
    expect(penalties.isBanned('p')).toBe(true)
    expect(penalties.score('p')).toBe(-40)
    now = 2000
    expect(penalties.isBanned('p')).toBe(false)
    expect(penalties.points('p')).toBe(20)
    for (let i = 0; i < 50; i++) penalties.penalize(`q${i}`, 1, 'x')
    expect(penalties.points('p')).toBe(0)
  })

  it('logs a ban at info and a throwing ban listener at error, and still tells the other listeners', () => {
    const entries: LogEntry[] = []
    const penalties = new PeerPenalties({
      banThreshold: 10,
      logger: makeLogger('mendsync:libp2p:penalties', { sink: (entry) => entries.push(entry) }),
    })
    const banned: string[] = []
    penalties.onBan(() => {
      throw new Error('listener bug')
    })
    penalties.onBan((peer) => banned.push(peer))
    expect(penalties.penalize('p', 10, 'bad frame')).toBe(true)
    expect(banned).toEqual(['p'])
    expect(entries.map(({ level, message, context }) => [level, message, context?.peer])).toEqual([
      ['info', 'banned a peer', 'p'],
      ['error', 'a listener threw', undefined],
    ])
  })
})
