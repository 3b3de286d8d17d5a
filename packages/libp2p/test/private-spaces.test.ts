// Private spaces on real libp2p over loopback: a serving node (a relay holding no grant) carries
// a private space between two granted members, while an OUTSIDER built from stock js-libp2p
// pieces (libp2p + gossipsub + noise + yamux, no mendsync code on its side) dials it, subscribes
// to the space's topic and sends requests by hand. It must receive nothing of the topic and
// change nothing; a revoked member is evicted from gossipsub's tables; bad access frames are
// refused with typed errors; spaces open on demand only for a verified proof.
import { readFileSync } from 'node:fs'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { PeerId as Libp2pPeerId, Stream } from '@libp2p/interface'
import { webSockets } from '@libp2p/websockets'
import {
  AccessVerifier,
  generateSigningKey,
  proofToWire,
  publicKeyOfPeerId,
  READ,
  signGrant,
  signRevocation,
  WRITE,
} from '@mendsync/core/access'
import type { GossipMessage, SpaceChannel } from '@mendsync/replica/adapter'
import { createSuiteSpace, FakeSpaceStore, type SuiteSpace, text } from '@mendsync/replica/testing'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from 'it-length-prefixed-stream'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { GOSSIPSUB_VERSION_CHECKED } from '../src/constants.defaults.js'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type Libp2pNetworkOptions,
  type MendsyncLibp2p,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
  spaceTopic,
} from '../src/index.js'
import { decodeAccessReply } from '../src/network/access-wire.js'
import { ACCESS_PROTOCOL } from '../src/network/protocols.js'
import { gossipsubIncompatibility } from '../src/network/topic-gate.js'
import { reservationGateOf } from '../src/relay-reservations.js'
import {
  decodeReconcileFrame,
  decodeReply,
  encodeFrame,
  encodePullRequest,
  encodePushRequest,
  encodeVarint,
  firstFrameOrClosed,
  RC_OPEN,
  type StockNode,
  startStockNode,
} from '../src/testing.js'
import { dial, LOOPBACK, startNetwork, waitFor } from './helpers.js'

type Stock = StockNode

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  // Every cleanup runs; one that fails (a node already stopped by the test) does not stop the rest.
  await Promise.allSettled(cleanup.splice(0).map((close) => close()))
})

const LIMITS = { maxFrameBytes: 1e6, maxKeysPerFrame: 10, maxKeyLength: 100 }

/** What the outsider's gossipsub received of one topic, counted on every inbound RPC. */
interface TopicTally {
  messages: number
  ihave: number
  subscriptions: number
  grafts: number
  prunes: number
  bytes: number
}

const NOTHING: TopicTally = {
  messages: 0,
  ihave: 0,
  subscriptions: 0,
  grafts: 0,
  prunes: 0,
  bytes: 0,
}

/** A stock libp2p node with gossipsub that counts every RPC item of `topic` it receives. */
async function outsiderNode(topic: string): Promise<{ node: Stock; tally: TopicTally }> {
  const node = await startStockNode({ listen: [LOOPBACK], cleanup: (stop) => cleanup.push(stop) })
  const tally: TopicTally = { ...NOTHING }
  // Instrumentation only: every RPC the outsider's gossipsub handles goes through this method.
  const pubsub = node.services.pubsub as unknown as {
    handleReceivedRpc(from: Libp2pPeerId, rpc: RpcShape): Promise<void>
  }
  const handle = pubsub.handleReceivedRpc.bind(pubsub)
  pubsub.handleReceivedRpc = (from, rpc) => {
    for (const message of rpc.messages ?? []) {
      if (message.topic === topic) {
        tally.messages += 1
        tally.bytes += message.data?.byteLength ?? 0
      }
    }
    tally.subscriptions += (rpc.subscriptions ?? []).filter((s) => s.topic === topic).length
    tally.ihave += (rpc.control?.ihave ?? []).filter((entry) => entry.topicID === topic).length
    tally.grafts += (rpc.control?.graft ?? []).filter((entry) => entry.topicID === topic).length
    tally.prunes += (rpc.control?.prune ?? []).filter((entry) => entry.topicID === topic).length
    return handle(from, rpc)
  }
  return { node, tally }
}

interface RpcShape {
  messages?: { topic?: string; data?: Uint8Array }[]
  subscriptions?: { topic?: string }[]
  control?: {
    ihave?: { topicID?: string }[]
    graft?: { topicID?: string }[]
    prune?: { topicID?: string }[]
  }
}

async function network(options: Libp2pNetworkOptions = {}): Promise<Libp2pNetwork> {
  const started = await startNetwork(options, {
    penalties: { banThreshold: 1e9 },
    inboundConnectionThreshold: 100,
  })
  cleanup.push(() => started.close())
  return started
}

/** A member of `space` with `rights`, trusting `trusted` (its relays). */
async function member(
  space: SuiteSpace,
  rights: number,
  trusted: string[],
  store = new FakeSpaceStore(),
) {
  const net = await network()
  const verifier = new AccessVerifier(space.descriptor)
  const channel = await net.join(space.id, store, {
    access: { verifier, proof: await space.proofFor(net.peerId, rights), trustedPeers: trusted },
  })
  return { net, channel, verifier, store }
}

/** A relay-like serving node: joined with the verifier only (no grant of its own). */
async function server(space: SuiteSpace, store = new FakeSpaceStore({ secret: 'kept' })) {
  const net = await network()
  const verifier = new AccessVerifier(space.descriptor)
  const channel = await net.join(space.id, store, { access: { verifier } })
  return { net, channel, verifier, store }
}

function hint(replicaId: string, counter: number): GossipMessage {
  return {
    replicaId,
    versionVector: new Map([[replicaId, counter]]),
    summary: new Uint8Array([counter]),
    hints: [{ key: `private-key-${counter}`, dots: [{ replica: replicaId, counter }] }],
  }
}

function gossipCounters(channel: SpaceChannel): Map<string, number[]> {
  const seen = new Map<string, number[]>()
  channel.on('gossip', ({ message }) => {
    const counters = seen.get(message.replicaId) ?? []
    counters.push(message.versionVector.get(message.replicaId) ?? -1)
    seen.set(message.replicaId, counters)
  })
  return seen
}

async function refusedOnEveryProtocol(outsider: Stock, target: Libp2pNetwork, spaceId: string) {
  const peer = target.node.peerId
  const pull = await outsider.dialProtocol(peer, PULL_PROTOCOL)
  await lpStream(pull).write(encodePullRequest(1, spaceId, 'state', ['secret']))
  expect(decodeReply((await firstFrameOrClosed(pull)) as Uint8Array, LIMITS)).toMatchObject({
    kind: 'error',
    code: 'ACCESS_DENIED',
  })
  const push = await outsider.dialProtocol(peer, PUSH_PROTOCOL)
  await lpStream(push).write(
    encodePushRequest(1, spaceId, [{ key: 'secret', state: text('forged') }]),
  )
  expect(decodeReply((await firstFrameOrClosed(push)) as Uint8Array, LIMITS)).toMatchObject({
    kind: 'error',
    code: 'ACCESS_DENIED',
  })
  const reconcile = await outsider.dialProtocol(peer, RECONCILE_PROTOCOL)
  await lpStream(reconcile).write(encodeFrame([RC_OPEN, spaceId, new Uint8Array(3)]))
  expect(
    decodeReconcileFrame((await firstFrameOrClosed(reconcile)) as Uint8Array, LIMITS),
  ).toMatchObject({ kind: 'error', code: 'ACCESS_DENIED' })
}

describe('a private space on libp2p', () => {
  it('gives a stock libp2p outsider subscribed at the serving node zero bytes of the topic while two members sync through it, and refuses its requests', async () => {
    const space = await createSuiteSpace()
    const topic = spaceTopic(space.id)
    const relay = await server(space)
    const a = await member(space, READ | WRITE, [relay.net.peerId])
    const b = await member(space, READ | WRITE, [relay.net.peerId])
    const { node: outsider, tally } = await outsiderNode(topic)
    const atOutsider: unknown[] = []
    outsider.services.pubsub.addEventListener('message', (event) => atOutsider.push(event))

    // The outsider first: it is connected and subscribed before the members say anything.
    await outsider.dial(multiaddr(relay.net.node.getMultiaddrs()[0]!.toString()))
    outsider.services.pubsub.subscribe(topic)
    await waitFor(
      'the relay holds back the outsider subscription',
      () => relay.net.stats().heldSubscriptions >= 1,
    )
    await dial(a.net.node, relay.net.node)
    await dial(b.net.node, relay.net.node)
    await waitFor(
      'the members and the relay see each other',
      () =>
        [a.channel, b.channel].every((channel) => channel.peers().includes(relay.net.peerId)) &&
        relay.channel.peers().length === 2,
    )
    expect([...relay.channel.peers()].sort()).toEqual([a.net.peerId, b.net.peerId].sort())

    // Gossip flows from a to b through the relay; state flows through its store.
    const atB = gossipCounters(b.channel)
    // gossipsub builds the relay's mesh at its next heartbeat: publish until one arrives.
    let counter = 0
    for (; counter < 200 && !atB.has('replica-a'); counter++) {
      await a.channel.publish(hint('replica-a', counter + 1))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await waitFor("b receives a's gossip through the relay", () => atB.has('replica-a'))
    await a.channel.push(relay.net.peerId, [{ key: 'cart', state: text('apples') }])
    expect(await b.channel.pull(relay.net.peerId, ['cart'], 'state')).toEqual({
      mode: 'state',
      states: [text('apples')],
    })
    expect(relay.store.pushed.map((entry) => entry.peer)).toEqual([a.net.peerId])

    await refusedOnEveryProtocol(outsider, relay.net, space.id)
    expect(relay.store.pushed.map((entry) => entry.peer)).toEqual([a.net.peerId])
    expect(relay.store.pulls.map((entry) => entry.peer)).toEqual([b.net.peerId])
    expect(relay.store.states.get('secret')).toEqual(text('kept'))

    // A later write that did arrive proves the time passed; the outsider got nothing of it.
    const later = counter + 10
    await a.channel.publish(hint('replica-a', later))
    await waitFor("b receives a's later message", () =>
      (atB.get('replica-a') ?? []).includes(later),
    )
    expect(tally).toEqual(NOTHING)
    expect(atOutsider).toEqual([])
    expect(outsider.services.pubsub.getSubscribers(topic).map(String)).toEqual([])
    expect(relay.channel.peers()).not.toContain(outsider.peerId.toString())
  })

  it('gives a stock outsider that dials a member directly no message, IHAVE or GRAFT of the topic (only the subscription it already knew)', async () => {
    const space = await createSuiteSpace()
    const topic = spaceTopic(space.id)
    const a = await member(space, READ | WRITE, [])
    const b = await member(space, READ | WRITE, [])
    const { node: outsider, tally } = await outsiderNode(topic)
    await outsider.dial(multiaddr(a.net.node.getMultiaddrs()[0]!.toString()))
    outsider.services.pubsub.subscribe(topic)
    await waitFor(
      'a holds back the outsider subscription',
      () => a.net.stats().heldSubscriptions >= 1,
    )
    await dial(a.net.node, b.net.node)
    await waitFor('a and b see each other', () => a.channel.peers().includes(b.net.peerId))
    const atB = gossipCounters(b.channel)
    let counter = 0
    for (; counter < 200 && !atB.has('replica-a'); counter++) {
      await a.channel.publish(hint('replica-a', counter + 1))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const later = counter + 10
    await a.channel.publish(hint('replica-a', later))
    await waitFor("b receives a's later message", () =>
      (atB.get('replica-a') ?? []).includes(later),
    )
    expect({ ...tally, subscriptions: 0 }).toEqual(NOTHING)
    expect(a.channel.peers()).toEqual([b.net.peerId])
    await refusedOnEveryProtocol(outsider, a.net, space.id)
  })

  it('evicts a revoked member from the topic at the serving node once addRevocation runs, and rejects its later gossip', async () => {
    const space = await createSuiteSpace()
    const topic = spaceTopic(space.id)
    const relay = await server(space)
    const a = await member(space, READ | WRITE, [relay.net.peerId])
    const b = await member(space, READ | WRITE, [relay.net.peerId])
    await dial(a.net.node, relay.net.node)
    await dial(b.net.node, relay.net.node)
    const topics = (
      relay.net.node.services.pubsub as unknown as { topics: Map<string, Set<string>> }
    ).topics
    await waitFor('both members are in the relay topic table', () =>
      [a.net.peerId, b.net.peerId].every((peer) => topics.get(topic)?.has(peer)),
    )
    const atB = gossipCounters(b.channel)

    await relay.verifier.addRevocation(
      await signRevocation(space.owner, {
        space: space.id,
        subject: publicKeyOfPeerId(a.net.peerId),
      }),
    )
    expect(topics.get(topic)?.has(a.net.peerId)).toBe(false)
    const mesh = (relay.net.node.services.pubsub as unknown as { mesh: Map<string, Set<string>> })
      .mesh
    expect(mesh.get(topic)?.has(a.net.peerId) ?? false).toBe(false)
    expect(relay.channel.peers()).toEqual([b.net.peerId])
    await expect(a.channel.pull(relay.net.peerId, ['k'], 'state')).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })

    const rejectedBefore = relay.net.stats().gossipRejected
    await a.channel.publish(hint('replica-a', 1))
    await waitFor(
      'the relay rejects the revoked member gossip',
      () => relay.net.stats().gossipRejected > rejectedBefore,
    )
    await relay.channel.publish(hint('replica-relay', 1))
    await waitFor("b receives the relay's message", () => atB.has('replica-relay'))
    expect(atB.has('replica-a')).toBe(false)
  })

  it('refuses malformed, oversize and forged access frames with typed errors and resets the stream', async () => {
    const space = await createSuiteSpace()
    const relay = await server(space)
    const { node: outsider } = await outsiderNode(spaceTopic(space.id))
    await outsider.dial(multiaddr(relay.net.node.getMultiaddrs()[0]!.toString()))
    const open = (): Promise<Stream> =>
      outsider.dialProtocol(relay.net.node.peerId, ACCESS_PROTOCOL)

    // Not CBOR of the right shape: a typed error reply, then the stream ends.
    const garbage = await open()
    const lp = lpStream(garbage)
    await lp.write(Uint8Array.from([0x83, 0x01, 0x61]))
    const reply = decodeAccessReply((await firstFrameOrClosed(garbage)) as Uint8Array, 1e6)
    expect(reply.code).toBe('DECODE_ERROR')
    expect(reply.proof).toBeNull()

    // A length prefix far over the frame limit, followed by a flood: reset at the prefix.
    const oversize = await open()
    await oversize
      .sink(
        (async function* () {
          yield encodeVarint(64 * 1024 * 1024)
          for (let i = 0; i < 64; i++) yield new Uint8Array(16 * 1024)
        })(),
      )
      .catch(() => 'reset')
    expect(await firstFrameOrClosed(oversize)).toBe('closed')
    expect(relay.net.stats().inboundBufferedBytes).toBe(0)

    // A well-formed request whose grant is signed by someone other than the owner.
    const forger = await generateSigningKey()
    const forged = await signGrant(forger, {
      space: space.id,
      subject: publicKeyOfPeerId(outsider.peerId.toString()),
      rights: READ | WRITE,
      expiresAt: 0,
    })
    const request = await open()
    await lpStream(request).write(
      encodeFrame([1, space.id, proofToWire({ space: space.descriptor, chain: [forged] })]),
    )
    const refused = decodeAccessReply((await firstFrameOrClosed(request)) as Uint8Array, 1e6)
    expect(refused.code).toBe('ACCESS_DENIED')
    expect(refused.proof).toBeNull()
    expect(relay.net.stats().accessAccepted).toBe(0)
    expect(relay.net.stats().accessRefused).toBeGreaterThanOrEqual(3)
    expect(relay.channel.peers()).toEqual([])
  })

  it('opens a space on demand once for two members asking at once, only after their proofs verify', async () => {
    const space = await createSuiteSpace()
    const requests: string[] = []
    const store = new FakeSpaceStore()
    let relay!: Libp2pNetwork
    let channel: SpaceChannel | undefined
    relay = await network({
      async onSpaceRequested({ spaceId, space: descriptor, peer }) {
        requests.push(`${spaceId} ${peer}`)
        channel = await relay.join(spaceId, store, {
          access: { verifier: new AccessVerifier(descriptor) },
        })
        return true
      },
    })
    const a = await member(space, READ | WRITE, [relay.peerId])
    const b = await member(space, READ, [relay.peerId])
    // An outsider's forged proof for another space never reaches the hook.
    const other = await createSuiteSpace('other')
    const { node: outsider } = await outsiderNode(spaceTopic(other.id))
    await outsider.dial(multiaddr(relay.node.getMultiaddrs()[0]!.toString()))
    const forger = await generateSigningKey()
    const forged = await signGrant(forger, {
      space: other.id,
      subject: publicKeyOfPeerId(outsider.peerId.toString()),
      rights: READ,
      expiresAt: 0,
    })
    const stream = await outsider.dialProtocol(relay.node.peerId, ACCESS_PROTOCOL)
    await lpStream(stream).write(
      encodeFrame([1, other.id, proofToWire({ space: other.descriptor, chain: [forged] })]),
    )
    expect(decodeAccessReply((await firstFrameOrClosed(stream)) as Uint8Array, 1e6).code).toBe(
      'ACCESS_DENIED',
    )

    await Promise.all([dial(a.net.node, relay.node), dial(b.net.node, relay.node)])
    await waitFor('both members see the relay in the space', () =>
      [a.channel, b.channel].every((c) => c.peers().includes(relay.peerId)),
    )
    expect(requests).toHaveLength(1)
    expect(requests[0]?.startsWith(space.id)).toBe(true)
    await waitFor('the relay sees both members', () => channel?.peers().length === 2)
    await a.channel.push(relay.peerId, [{ key: 'k', state: text('v') }])
    expect(store.pushed.map((entry) => entry.peer)).toEqual([a.net.peerId])
    // The reader's push is refused by the joined verifier's rights.
    await expect(
      b.channel.push(relay.peerId, [{ key: 'k', state: text('w') }]),
    ).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })
  })

  it('grants circuit-relay reservations only to peers that proved a right when the node serves private spaces', async () => {
    const space = await createSuiteSpace()
    const relayNode = await createNodeLibp2p({
      privateKey: await generateIdentity(),
      listen: [LOOPBACK],
      relayServer: true,
      inboundConnectionThreshold: 100,
    })
    const relay = await createLibp2pNetwork(relayNode, { stopNodeOnClose: true })
    cleanup.push(() => relay.close())
    const relayChannel = await relay.join(space.id, new FakeSpaceStore(), {
      access: { verifier: new AccessVerifier(space.descriptor) },
    })
    const reservations = (
      relayNode.services as unknown as { relay: { reservations: Map<unknown, unknown> } }
    ).relay.reservations

    const [memberNode, outsiderNode] = await Promise.all([circuitClient(), circuitClient()])
    const member = await createLibp2pNetwork(memberNode, { stopNodeOnClose: true })
    cleanup.push(() => member.close())
    await member.join(space.id, new FakeSpaceStore(), {
      access: {
        verifier: new AccessVerifier(space.descriptor),
        proof: await space.proofFor(member.peerId, READ),
        trustedPeers: [relay.peerId],
      },
    })
    const gate = reservationGateOf(relayNode)!
    await dial(outsiderNode as unknown as MendsyncLibp2p, relayNode)
    await waitFor('the outsider asks for a reservation', () => gate.pending === 1)
    await dial(memberNode as unknown as MendsyncLibp2p, relayNode)
    await waitFor('the member holds a relayed address', () =>
      memberNode.getMultiaddrs().some((address) => address.toString().includes('/p2p-circuit')),
    )
    expect(relayChannel.peers()).toEqual([member.peerId])
    // The outsider's request waited for a proof that never came, then was refused.
    await waitFor('the outsider reservation is decided', () => gate.pending === 0)
    expect(reservations.size).toBe(1)
    expect(outsiderNode.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))).toBe(
      false,
    )
  })
})

/** A stock libp2p node that listens through circuit-relay-v2 (asks connected relays for one). */
async function circuitClient() {
  const node = await createLibp2p({
    privateKey: await generateIdentity(),
    addresses: { listen: [LOOPBACK, '/p2p-circuit'] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
  })
  cleanup.push(async () => {
    await node.stop()
  })
  return node as unknown as MendsyncLibp2p
}

describe('the topic gate and gossipsub', () => {
  it(`was checked against the installed gossipsub (${GOSSIPSUB_VERSION_CHECKED}) and finds every internal it wraps`, async () => {
    const manifest = new URL(
      '../node_modules/@chainsafe/libp2p-gossipsub/package.json',
      import.meta.url,
    )
    expect(JSON.parse(readFileSync(manifest, 'utf8')).version).toBe(GOSSIPSUB_VERSION_CHECKED)
    const { node } = await outsiderNode('/unused')
    expect(gossipsubIncompatibility(node.services.pubsub)).toBeNull()
  })
})
