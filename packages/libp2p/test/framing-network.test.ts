// Bounded framing over real libp2p (two nodes on 127.0.0.1; the attackers are plain libp2p nodes
// with no mendsync protocol handlers, writing raw bytes): a length prefix that never ends resets
// the stream at once and penalises the sender, on pull, push and reconcile, whether or not the
// sender is on the space's allowlist, and the sender's endless bytes stop being read; a peer
// without a grant gets the small inbound budget while a member's large frame is served.
import type { Stream } from '@libp2p/interface'
import { FakeSpaceStore, text } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from 'it-length-prefixed-stream'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeReply, encodePullRequest } from '../src/codec.js'
import { DEFAULT_UNAUTHORISED_INBOUND_BYTES } from '../src/framing/inbound-budget.js'
import {
  type Libp2pNetwork,
  type MendsyncLibp2p,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
} from '../src/index.js'
import { startNetwork, startNode, waitFor } from './helpers.js'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()))
})

const WIRE = { maxFrameBytes: 8 * 1024 * 1024, maxKeysPerFrame: 10_000, maxKeyLength: 1024 }

/** A victim serving `space` to a member and an allowed attacker; an outsider is not allowed. */
async function setUp() {
  const victim = await startNetwork({}, { penalties: { banThreshold: 1e9 } })
  cleanup.push(() => victim.close())
  const member = await startNetwork()
  cleanup.push(() => member.close())
  const insider = await startNode()
  const outsider = await startNode()
  cleanup.push(async () => {
    await Promise.all([insider.stop(), outsider.stop()])
  })
  const store = new FakeSpaceStore({ k: 'secret' })
  await victim.join('space', store, {
    allow: [member.peerId, insider.peerId.toString()],
  })
  const memberChannel = await member.join('space', new FakeSpaceStore())
  const address = multiaddr(victim.node.getMultiaddrs()[0]!.toString())
  await member.node.dial(address)
  await insider.dial(address)
  await outsider.dial(address)
  await waitFor('member connected', () => memberChannel.peers().includes(victim.peerId))
  return { victim, member, memberChannel, store, insider, outsider }
}

const CHUNK = 1024
const CHUNKS = 16 * 1024 // 16 MiB at most: far more than any window, so a reader that kept going would drain it
/** Yamux's initial stream receive window. */
const MUXER_WINDOW = 256 * 1024

/**
 * Opens `protocol` and writes `head`, then up to 16 MiB of `fill` bytes; resolves once the
 * victim ended the stream, with how many bytes the attacker's writer was asked for.
 */
async function endless(
  attacker: MendsyncLibp2p,
  victim: Libp2pNetwork,
  protocol: string,
  head: readonly number[],
  fill: number,
): Promise<{ sent: number; reset: boolean; stream: Stream }> {
  const stream = await attacker.dialProtocol(victim.node.peerId, protocol)
  let sent = 0
  const filler = new Uint8Array(CHUNK).fill(fill)
  const writing = stream
    .sink(
      (async function* () {
        sent += head.length
        yield Uint8Array.from(head)
        for (let i = 0; i < CHUNKS; i++) {
          sent += CHUNK
          yield filler
        }
      })(),
    )
    .then(
      () => 'written',
      () => 'reset',
    )
  let reset = false
  try {
    for await (const _ of stream.source) {
      // The victim never answers a frame it refused.
    }
  } catch {
    reset = true
  }
  await writing
  return { sent, reset, stream }
}

const PROTOCOLS = [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL]
const NEVER_ENDING = [
  { name: 'a run of 0xff', head: [0xff, 0xff], fill: 0xff },
  {
    name: 'a 10-byte varint',
    head: [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    fill: 0,
  },
]

describe('a length prefix that never ends', () => {
  for (const who of ['insider', 'outsider'] as const) {
    it(`from ${who === 'insider' ? 'an allowed' : 'a not-allowed'} peer resets pull, push and reconcile streams at once and penalises it`, async () => {
      const setup = await setUp()
      const attacker = setup[who]
      const attackerId = attacker.peerId.toString()
      const penalties = setup.victim.stats().penalties
      for (const protocol of PROTOCOLS) {
        for (const bytes of NEVER_ENDING) {
          const before = penalties.count(attackerId)
          const { sent, stream, reset } = await endless(
            attacker,
            setup.victim,
            protocol,
            bytes.head,
            bytes.fill,
          )
          expect(stream.status).not.toBe('open')
          expect(reset, `${bytes.name} on ${protocol}`).toBe(true)
          // Reading stopped at the bad prefix: the writer got no further than the muxer's first
          // receive window (256 KiB) and a few chunks, of the 16 MiB it had.
          expect(sent, `${bytes.name} on ${protocol}`).toBeLessThan(MUXER_WINDOW + 16 * CHUNK)
          expect(penalties.count(attackerId), `${bytes.name} on ${protocol}`).toBe(before + 1)
        }
      }
      expect([...penalties.reasons(attackerId).keys()].join()).toMatch(/length prefix/)
      await waitFor('no inbound bytes held', () => setup.victim.stats().inboundBufferedBytes === 0)
      expect(await setup.memberChannel.pull(setup.victim.peerId, ['k'], 'state')).toEqual({
        mode: 'state',
        states: [text('secret')],
      })
    })
  }
})

/** A valid pull request of about `bytes` bytes (many long keys). */
function largePull(bytes: number): Uint8Array {
  const key = 'k'.repeat(1000)
  const keys = Array.from({ length: Math.ceil(bytes / 1000) }, (_, i) =>
    `${i}${key}`.slice(0, 1000),
  )
  return encodePullRequest(1, 'space', 'state', keys)
}

async function firstReply(stream: Stream): Promise<Uint8Array | 'closed'> {
  try {
    return (await lpStream(stream).read()).subarray()
  } catch {
    return 'closed'
  }
}

describe('the inbound budget over libp2p', () => {
  it('resets a large frame from a peer without a grant without penalty, and serves the same frame from a member', async () => {
    const { victim, insider, outsider, store } = await setUp()
    const request = largePull(4 * DEFAULT_UNAUTHORISED_INBOUND_BYTES)
    expect(request.byteLength).toBeGreaterThan(DEFAULT_UNAUTHORISED_INBOUND_BYTES)

    const fromOutsider = await outsider.dialProtocol(victim.node.peerId, PULL_PROTOCOL)
    await lpStream(fromOutsider).write(request)
    expect(await firstReply(fromOutsider)).toBe('closed')
    expect(victim.stats().penalties.count(outsider.peerId.toString())).toBe(0)
    expect(store.pulls).toEqual([])

    const fromInsider = await insider.dialProtocol(victim.node.peerId, PULL_PROTOCOL)
    await lpStream(fromInsider).write(request)
    const reply = await firstReply(fromInsider)
    expect(reply).not.toBe('closed')
    expect(decodeReply(reply as Uint8Array, WIRE)).toMatchObject({ kind: 'ok', id: 1 })
    await waitFor('no inbound bytes held', () => victim.stats().inboundBufferedBytes === 0)
  })
})
