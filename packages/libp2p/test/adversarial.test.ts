import type { Stream } from '@libp2p/interface'
import { type LogEntry, makeLogger } from '@mendsync/core/toolbox'
import type { SpaceChannel } from '@mendsync/replica/adapter'
import { FakeSpaceStore, text } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import { encode } from 'cborg'
import fc from 'fast-check'
import { lpStream } from 'it-length-prefixed-stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  NETWORK_DEFAULTS,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
  spaceTopic,
} from '../src/index.js'
import {
  decodeReconcileFrame,
  decodeReply,
  encodeFrame,
  encodeGossip,
  encodePullRequest,
  encodePushRequest,
  firstFrameOrClosed,
  GossipSender,
  RC_OPEN,
  type StockNode,
  startStockNode,
} from '../src/testing.js'
import { LOOPBACK, startNetwork, waitFor } from './helpers.js'

type Stock = StockNode

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  // Every cleanup runs; one that fails (a node already stopped by the test) does not stop the rest.
  await Promise.allSettled(cleanup.splice(0).map((close) => close()))
})

async function stockNode(): Promise<Stock> {
  return await startStockNode({ listen: [LOOPBACK], cleanup: (stop) => cleanup.push(stop) })
}

async function victim(
  allow: (peers: { member: string }) => string[] | undefined,
  penalties = { banThreshold: 1e9 },
  options: Libp2pNetworkOptions = {},
) {
  const network = await startNetwork({ maxInFlight: 8, ...options }, { penalties })
  cleanup.push(() => network.close())
  const member = await startNetwork()
  cleanup.push(() => member.close())
  const store = new FakeSpaceStore({ k: 'secret' })
  const allowed = allow({ member: member.peerId })
  const channel = await network.join('space', store, allowed ? { allow: allowed } : {})
  const memberChannel = await member.join('space', new FakeSpaceStore())
  await member.node.dial(multiaddr(network.node.getMultiaddrs()[0]!.toString()))
  await waitFor('member connected', () => memberChannel.peers().includes(network.peerId))
  return { network, member, store, channel, memberChannel }
}

async function attach(attacker: Stock, network: Libp2pNetwork): Promise<void> {
  await attacker.dial(multiaddr(network.node.getMultiaddrs()[0]!.toString()))
}

async function open(attacker: Stock, network: Libp2pNetwork, protocol: string): Promise<Stream> {
  return await attacker.dialProtocol(network.node.peerId, protocol)
}

async function stillServes(channel: SpaceChannel, victimId: string): Promise<void> {
  expect(await channel.pull(victimId, ['k'], 'state')).toEqual({
    mode: 'state',
    states: [text('secret')],
  })
}

describe('an outsider (stock libp2p node, not on the allowlist)', () => {
  it('is refused on every protocol', async () => {
    const { network, store } = await victim(({ member }) => [member])
    const outsider = await stockNode()
    await attach(outsider, network)

    const pull = await open(outsider, network, PULL_PROTOCOL)
    await lpStream(pull).write(encodePullRequest(1, 'space', 'state', ['k']))
    const pullReply = await firstFrameOrClosed(pull)
    expect(pullReply).not.toBe('closed')
    expect(
      decodeReply(pullReply as Uint8Array, {
        maxFrameBytes: 1e6,
        maxKeysPerFrame: 10,
        maxKeyLength: 100,
      }),
    ).toMatchObject({
      kind: 'error',
      id: 1,
      code: 'ACCESS_DENIED',
    })

    const push = await open(outsider, network, PUSH_PROTOCOL)
    await lpStream(push).write(encodePushRequest(1, 'space', [{ key: 'k', state: text('forged') }]))
    const pushReply = await firstFrameOrClosed(push)
    expect(
      decodeReply(pushReply as Uint8Array, {
        maxFrameBytes: 1e6,
        maxKeysPerFrame: 10,
        maxKeyLength: 100,
      }),
    ).toMatchObject({
      kind: 'error',
      code: 'ACCESS_DENIED',
    })

    const reconcile = await open(outsider, network, RECONCILE_PROTOCOL)
    await lpStream(reconcile).write(encodeFrame([RC_OPEN, 'space', new Uint8Array(3)]))
    const reconcileReply = await firstFrameOrClosed(reconcile)
    expect(
      decodeReconcileFrame(reconcileReply as Uint8Array, {
        maxFrameBytes: 1e6,
        maxKeysPerFrame: 10,
        maxKeyLength: 100,
      }),
    ).toMatchObject({
      kind: 'error',
      code: 'ACCESS_DENIED',
    })

    expect(store.pulls).toEqual([])
    expect(store.pushed).toEqual([])
    expect(store.states.get('k')).toEqual(text('secret'))
  })

  it('has its gossip rejected by the topic validator, logged at debug, and its score lowered', async () => {
    const entries: LogEntry[] = []
    const logger = makeLogger('mendsync:libp2p', { sink: (entry) => entries.push(entry) })
    const { network, channel, member, memberChannel } = await victim(
      ({ member }) => [member],
      undefined,
      { logger },
    )
    const outsider = await stockNode()
    const outsiderId = outsider.peerId.toString()
    const topic = spaceTopic('space')
    outsider.services.pubsub.subscribe(topic)
    await attach(outsider, network)
    const seen: string[] = []
    channel.on('gossip', ({ peer }) => seen.push(peer))
    await waitFor('subscriptions exchanged', () =>
      outsider.services.pubsub
        .getSubscribers(topic)
        .some((peer) => peer.equals(network.node.peerId)),
    )
    const sender = new GossipSender(8)
    for (let i = 1; i <= 3; i++) {
      await outsider.services.pubsub.publish(
        topic,
        encodeGossip(
          sender.next({
            replicaId: 'evil',
            versionVector: new Map([['evil', i]]),
            summary: new Uint8Array(2),
            hints: [],
          }),
        ),
      )
    }
    await waitFor('rejections', () => network.stats().gossipRejected >= 3)
    // The positive signal that delivery moved past the rejected messages: the member's later
    // gossip arrives, and it is the only gossip that did.
    await waitFor('the member as a peer of the victim', () =>
      channel.peers().includes(member.peerId),
    )
    await memberChannel.publish({
      replicaId: 'member',
      versionVector: new Map([['member', 1]]),
      summary: new Uint8Array(2),
      hints: [],
    })
    await waitFor('the member gossip', () => seen.includes(member.peerId))
    expect(seen).toEqual([member.peerId])
    expect(network.stats().penalties.points(outsiderId)).toBeGreaterThan(0)
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        namespace: 'mendsync:libp2p:gossip',
        message: 'rejected a gossip message',
        context: expect.objectContaining({
          peer: outsiderId,
          topic,
          reason: 'sender not allowed',
        }),
      }),
    )
    const gossipsub = network.node.services.pubsub as unknown as { getScore(peer: string): number }
    // gossipsub refreshes scores on its heartbeat (1 s).
    await waitFor('a negative gossipsub score', () => gossipsub.getScore(outsiderId) < 0, 5_000)
    expect(channel.peers()).not.toContain(outsiderId)
  })
})

describe('an allowed stock node', () => {
  it('has valid gossip delivered and replays dropped', async () => {
    const outsider = await stockNode()
    const outsiderId = outsider.peerId.toString()
    const { network, channel } = await victim(({ member }) => [member, outsiderId])
    const topic = spaceTopic('space')
    outsider.services.pubsub.subscribe(topic)
    await attach(outsider, network)
    const seen: number[] = []
    channel.on('gossip', ({ peer, message }) => {
      if (peer === outsiderId) seen.push(message.versionVector.get('ok') ?? -1)
    })
    await waitFor('subscriptions exchanged', () =>
      outsider.services.pubsub
        .getSubscribers(topic)
        .some((peer) => peer.equals(network.node.peerId)),
    )
    const sender = new GossipSender(8, 1000)
    const payloads = [1, 2, 3].map((i) =>
      encodeGossip(
        sender.next({
          replicaId: 'ok',
          versionVector: new Map([['ok', i]]),
          summary: new Uint8Array(2),
          hints: [],
        }),
      ),
    )
    await outsider.services.pubsub.publish(topic, payloads[0]!)
    await outsider.services.pubsub.publish(topic, payloads[2]!)
    await waitFor('two messages', () => seen.length === 2)
    // The same payloads again (new gossipsub message ids): replays of older sequence numbers.
    await outsider.services.pubsub.publish(topic, payloads[1]!)
    await outsider.services.pubsub.publish(topic, payloads[0]!)
    await waitFor('ignored replays', () => network.stats().gossipIgnored >= 2)
    expect(seen).toEqual([1, 3])
  })

  it('has a gossip flood accepted up to its burst and the rest ignored', async () => {
    const outsider = await stockNode()
    const outsiderId = outsider.peerId.toString()
    // A refill too slow to add one token while the test runs: the counts depend on the burst
    // alone, not on how long the flood takes (the refill rate has its fake-clock test in
    // decoders.test.ts).
    const { network } = await victim(({ member }) => [member, outsiderId], undefined, {
      gossipRatePerSecond: 1e-6,
    })
    const topic = spaceTopic('space')
    outsider.services.pubsub.subscribe(topic)
    await attach(outsider, network)
    await waitFor('subscriptions exchanged', () =>
      outsider.services.pubsub
        .getSubscribers(topic)
        .some((peer) => peer.equals(network.node.peerId)),
    )
    const sender = new GossipSender(8)
    const flood = 150
    for (let i = 1; i <= flood; i++) {
      await outsider.services.pubsub.publish(
        topic,
        encodeGossip(
          sender.next({
            replicaId: 'f',
            versionVector: new Map([['f', i]]),
            summary: new Uint8Array(0),
            hints: [],
          }),
        ),
      )
    }
    await waitFor(
      'all validated',
      () => network.stats().gossipAccepted + network.stats().gossipIgnored >= flood,
    )
    expect(network.stats().gossipAccepted).toBe(NETWORK_DEFAULTS.gossipBurst)
    expect(network.stats().gossipIgnored).toBe(flood - NETWORK_DEFAULTS.gossipBurst)
    expect(network.stats().gossipRejected).toBe(0)
  })
})

describe('bad frames on every protocol', () => {
  const protocols = [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL]

  it('random payloads reset the stream, penalise the sender, store nothing and crash nothing', async () => {
    const { network, store, memberChannel } = await victim(() => undefined)
    const attacker = await stockNode()
    await attach(attacker, network)
    const attackerId = attacker.peerId.toString()
    const frames = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      // Well-formed CBOR with wrong types in the fields of a request.
      fc
        .tuple(
          fc.constantFrom(0, 1, 2, 3, 4, 5),
          fc.array(
            fc.oneof(
              fc.string(),
              fc.nat(),
              fc.uint8Array({ maxLength: 8 }),
              fc.constant(null),
              fc.array(fc.nat(), { maxLength: 3 }),
            ),
            { maxLength: 6 },
          ),
        )
        .map(([tag, rest]) => encode([tag, ...rest])),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...protocols), frames, async (protocol, frame) => {
        const count = () => network.stats().penalties.count(attackerId)
        const before = count()
        const stream = await open(attacker, network, protocol)
        await lpStream(stream).write(frame)
        const answer = await firstFrameOrClosed(stream)
        if (answer !== 'closed') {
          // A frame that happened to be valid got a normal answer (an error for unknown spaces).
          return
        }
        expect(count()).toBe(before + 1)
      }),
      { numRuns: 40 },
    )
    expect(network.stats().penalties.points(attackerId)).toBeGreaterThan(0)
    expect(store.pushed).toEqual([])
    expect(store.accepted).toEqual([])
    await stillServes(memberChannel, network.peerId)
  })

  it('an oversize length prefix resets the stream before buffering', async () => {
    const { network, memberChannel } = await victim(() => undefined)
    const attacker = await stockNode()
    await attach(attacker, network)
    for (const protocol of protocols) {
      const stream = await open(attacker, network, protocol)
      // A varint announcing 1 GiB, then a little data.
      const prefix = Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x04])
      await lpStream(stream)
        .unwrap()
        .sink(
          (async function* () {
            yield prefix
            yield new Uint8Array(1024)
          })(),
        )
        // The victim may reset the stream while this is written: what it answers is checked below.
        .catch((error: unknown) => error)
      expect(await firstFrameOrClosed(stream)).toBe('closed')
    }
    expect(network.stats().penalties.reasons(attacker.peerId.toString()).size).toBeGreaterThan(0)
    await stillServes(memberChannel, network.peerId)
  })

  it('a reused request id resets the stream', async () => {
    const { network } = await victim(() => undefined)
    const attacker = await stockNode()
    await attach(attacker, network)
    const stream = await open(attacker, network, PULL_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodePullRequest(5, 'space', 'state', ['k']))
    const first = await lp.read()
    expect(
      decodeReply(first.subarray(), { maxFrameBytes: 1e6, maxKeysPerFrame: 10, maxKeyLength: 100 }),
    ).toMatchObject({ kind: 'ok', id: 5 })
    await lp.write(encodePullRequest(5, 'space', 'state', ['k']))
    await expect(lp.read({ signal: AbortSignal.timeout(5000) })).rejects.toThrow()
    expect(
      [...network.stats().penalties.reasons(attacker.peerId.toString()).keys()].join(),
    ).toMatch(/reused/)
  })

  it('a flood of requests never runs more handlers than the in-flight limit', async () => {
    const limit = 8 // the victim's maxInFlight
    const { network, store } = await victim(() => undefined)
    let running = 0
    let peak = 0
    // Each handler is held until the test releases it, and the test releases the held ones only
    // once the victim holds as many as the limit allows: handlers overlap as much as the victim
    // lets them, whatever the timing, and a victim that read past its limit shows it in `peak`.
    const held: (() => void)[] = []
    const pull = store.pull.bind(store)
    store.pull = async (peer, keys, mode) => {
      running += 1
      peak = Math.max(peak, running)
      await new Promise<void>((resolve) => held.push(resolve))
      running -= 1
      return pull(peer, keys, mode)
    }
    const attacker = await stockNode()
    await attach(attacker, network)
    const stream = await open(attacker, network, PULL_PROTOCOL)
    const lp = lpStream(stream)
    const total = 300
    const writing = (async () => {
      for (let id = 1; id <= total; id++)
        await lp.write(encodePullRequest(id, 'space', 'state', ['k']))
    })()
    const releasing = (async () => {
      let released = 0
      while (released < total) {
        const expected = Math.min(limit, total - released)
        await waitFor(`${expected} handlers held`, () => held.length >= expected)
        for (const release of held.splice(0)) {
          release()
          released += 1
        }
      }
    })()
    const ids = new Set<number>()
    while (ids.size < total) {
      const reply = decodeReply(
        (await lp.read({ signal: AbortSignal.timeout(20_000) })).subarray(),
        {
          maxFrameBytes: 1e6,
          maxKeysPerFrame: 10,
          maxKeyLength: 100,
        },
      )
      expect(reply.kind).toBe('ok')
      ids.add(reply.id)
    }
    await writing
    await releasing
    expect(peak).toBe(limit)
    expect(network.stats().penalties.points(attacker.peerId.toString())).toBe(0)
  })

  it('logs a bad frame at debug on the injected logger, with the peer and the reason', async () => {
    const entries: LogEntry[] = []
    const logger = makeLogger('mendsync:libp2p', { sink: (entry) => entries.push(entry) })
    const { network } = await victim(() => undefined, undefined, { logger })
    const attacker = await stockNode()
    await attach(attacker, network)
    const stream = await open(attacker, network, PULL_PROTOCOL)
    await lpStream(stream).write(Uint8Array.from([0xff, 0x00]))
    expect(await firstFrameOrClosed(stream)).toBe('closed')
    expect(entries).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        namespace: 'mendsync:libp2p:penalties',
        message: 'penalised a peer',
        context: expect.objectContaining({
          peer: attacker.peerId.toString(),
          reason: expect.stringMatching(/CBOR|frame/),
        }),
      }),
    )
  })

  it('a peer past the ban threshold is disconnected and refused', async () => {
    const { network, memberChannel } = await victim(() => undefined, { banThreshold: 30 })
    const attacker = await stockNode()
    await attach(attacker, network)
    for (let i = 0; i < 5; i++) {
      const stream = await open(attacker, network, PULL_PROTOCOL).catch(() => null)
      if (!stream) break
      await lpStream(stream)
        .write(Uint8Array.from([0xff, 0x00]))
        // A write that fails once the victim hung up is what the loop works towards.
        .catch((error: unknown) => error)
      await firstFrameOrClosed(stream)
    }
    await waitFor('disconnected', () => attacker.getConnections(network.node.peerId).length === 0)
    await expect(attack(attacker, network)).rejects.toThrow()
    await stillServes(memberChannel, network.peerId)
  })
})

async function attack(attacker: Stock, network: Libp2pNetwork): Promise<void> {
  await attacker.dial(multiaddr(network.node.getMultiaddrs()[0]!.toString()), {
    signal: AbortSignal.timeout(3000),
  })
  // A gater may let the socket open and then drop it: the protocol must still be unreachable.
  await open(attacker, network, PULL_PROTOCOL)
}
