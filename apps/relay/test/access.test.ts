// Allowlists on the built relay. An outsider (a libp2p node with gossipsub and the
// circuit-relay transport, running no mendsync network code: it speaks the wire protocols with
// raw frames) is refused on pull, push, reconcile, gossip and relay reservations; each refusal
// is counted, the peer is logged once; its bad frames reset their streams and the allowed
// peers keep syncing. Allowed browser-like peers reach each other through the relay's
// circuit-relay-v2 server.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createBrowserLibp2p,
  DEFAULT_WIRE_LIMITS,
  generateIdentity,
  type MendsyncLibp2p,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  peerIdOf,
  RECONCILE_PROTOCOL,
  spaceTopic,
} from '@mendsync/libp2p'
// The wire format's own encoders and framed streams, to speak it with raw frames.
import {
  decodeReconcileFrame,
  decodeReply,
  encodeFrame,
  encodeGossip,
  encodePullRequest,
  encodePushRequest,
  FramedStream,
  GossipSender,
  RC_OPEN,
} from '@mendsync/libp2p/testing'
import { text } from '@mendsync/replica/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Client,
  connectedTo,
  nextChange,
  RelayProcess,
  type StartedRelay,
  sampleValue,
  scrape,
  startClient,
  waitFor,
} from './helpers.js'

let dir: string
let relay: RelayProcess
let info: StartedRelay
let alice: Client
let bob: Client
const allowedBrowsers = [await generateIdentity(), await generateIdentity()]
const nodes: MendsyncLibp2p[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mendsync-relay-access-'))
  const aliceKey = await generateIdentity()
  const bobKey = await generateIdentity()
  const allowed = [aliceKey, bobKey, ...allowedBrowsers].map(peerIdOf)
  relay = RelayProcess.spawn([
    '--data-dir',
    dir,
    '--space',
    'demo',
    '--allow',
    `demo=${allowed.join(',')}`,
  ])
  info = await relay.started()
  alice = await startClient([info.address], { privateKey: aliceKey })
  bob = await startClient([info.address], { privateKey: bobKey })
  await connectedTo(alice, info.peerId)
  await connectedTo(bob, info.peerId)
})
afterAll(async () => {
  await Promise.allSettled(nodes.map(async (node) => await node.stop()))
  await Promise.all([alice?.close(), bob?.close()].map((closing) => closing?.catch(() => {})))
  relay?.kill('SIGKILL')
  await relay?.exited
  await rm(dir, { recursive: true, force: true })
})

/** A libp2p node with gossipsub and the circuit-relay transport, dialling the relay. */
async function browserLike(key?: Awaited<ReturnType<typeof generateIdentity>>) {
  const node = await createBrowserLibp2p({
    privateKey: key ?? (await generateIdentity()),
    bootstrap: [info.address],
    relayTransport: true,
  })
  nodes.push(node)
  await waitFor('a connection to the relay', () =>
    node.getConnections().some((connection) => connection.remotePeer.toString() === info.peerId),
  )
  return node
}

function relayPeer(node: MendsyncLibp2p) {
  const connection = node
    .getConnections()
    .find((candidate) => candidate.remotePeer.toString() === info.peerId)
  if (!connection) throw new Error('not connected to the relay')
  return connection.remotePeer
}

/** One request frame on a new stream of `protocol`; the first frame back, or 'closed'. */
async function exchange(node: MendsyncLibp2p, protocol: string, frame: Uint8Array) {
  const stream = await node.dialProtocol(relayPeer(node), protocol)
  const framed = new FramedStream(stream, DEFAULT_WIRE_LIMITS.maxFrameBytes)
  await framed.write(frame)
  try {
    return (await framed.read()) ?? 'closed'
  } catch {
    return 'closed'
  } finally {
    framed.reset(new Error('done'))
  }
}

async function refusals(protocol: string, space = 'demo'): Promise<number> {
  return sampleValue(await scrape(info.metricsUrl), 'mendsync_relay_refusals_total', {
    space,
    protocol,
  }) as number
}

describe('a relay with an allowlist', () => {
  it('refuses an outsider on every protocol, logs it once, and keeps serving the allowed peers', async () => {
    const outsider = await browserLike()
    const outsiderId = outsider.peerId.toString()
    const fromOutsider: string[] = []
    bob.network.node.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type === 'signed' && event.detail.from.toString() === outsiderId) {
        fromOutsider.push(event.detail.topic)
      }
    })

    // pull, push, reconcile: ACCESS_DENIED, nothing stored.
    const pull = await exchange(
      outsider,
      PULL_PROTOCOL,
      encodePullRequest(1, 'demo', 'state', ['k']),
    )
    expect(pull).not.toBe('closed')
    expect(decodeReply(pull as Uint8Array, DEFAULT_WIRE_LIMITS)).toMatchObject({
      kind: 'error',
      id: 1,
      code: 'ACCESS_DENIED',
    })
    const push = await exchange(
      outsider,
      PUSH_PROTOCOL,
      encodePushRequest(1, 'demo', [{ key: 'forged', state: text('forged') }]),
    )
    expect(decodeReply(push as Uint8Array, DEFAULT_WIRE_LIMITS)).toMatchObject({
      kind: 'error',
      code: 'ACCESS_DENIED',
    })
    const reconcile = await exchange(
      outsider,
      RECONCILE_PROTOCOL,
      encodeFrame([RC_OPEN, 'demo', new Uint8Array(3)]),
    )
    expect(decodeReconcileFrame(reconcile as Uint8Array, DEFAULT_WIRE_LIMITS)).toMatchObject({
      kind: 'error',
      code: 'ACCESS_DENIED',
    })
    expect(await refusals('pull')).toBe(1)
    expect(await refusals('push')).toBe(1)
    expect(await refusals('reconcile')).toBe(1)

    // gossip: rejected by the relay's topic validator, never forwarded to bob.
    const topic = spaceTopic('demo')
    outsider.services.pubsub.subscribe(topic)
    await waitFor('the relay as a subscriber', () =>
      outsider.services.pubsub
        .getSubscribers(topic)
        .some((peer) => peer.toString() === info.peerId),
    )
    const sender = new GossipSender(8)
    for (let i = 1; i <= 3; i++) {
      await outsider.services.pubsub.publish(
        topic,
        encodeGossip(
          sender.next({
            replicaId: 'outsider',
            versionVector: new Map([['outsider', i]]),
            summary: new Uint8Array(2),
            hints: [{ key: 'forged', dots: [{ replica: 'outsider', counter: i }] }],
          }),
        ),
      )
    }
    await waitFor('three gossip refusals', async () => (await refusals('gossip')) >= 3)

    // circuit relay: its reservation request (made on connect by the relay transport) is refused.
    await waitFor('a refused reservation', async () => (await refusals('relay', '*')) >= 1)
    expect(
      outsider.getMultiaddrs().some((address) => String(address).includes('/p2p-circuit')),
    ).toBe(false)

    // Bad frames: each resets its stream; the relay goes on serving.
    for (const frame of [
      Uint8Array.from([0xff, 0x00, 0x13]),
      encodeFrame([9, 'demo', 'nonsense']),
      encodeFrame([0, 'not an id', 'demo', 'state', ['k']]),
    ]) {
      expect(await exchange(outsider, PULL_PROTOCOL, frame)).toBe('closed')
    }
    expect(await exchange(outsider, PUSH_PROTOCOL, Uint8Array.from([0x42]))).toBe('closed')

    // The allowed peers still sync through the relay, and bob never saw the outsider's gossip.
    const atBob = nextChange(bob.replica, 'after-attack')
    await alice.replica.put('after-attack', 'still fine')
    await atBob
    expect((await bob.replica.get('after-attack')).value).toBe('still fine')
    expect((await bob.replica.get('forged')).kind).toBe('absent')
    expect(fromOutsider).toEqual([])
    expect(relay.exitCode).toBe(undefined)

    const logged = relay.events.filter(
      (event) => String(event.msg).startsWith('refused a peer') && event.peer === outsiderId,
    )
    expect(logged).toHaveLength(1)
    expect(logged[0]?.level).toBe('warn')
    // Its first refusal: the pull above, or the reservation its relay transport asked for first.
    expect([
      ['demo', 'pull'],
      ['*', 'relay'],
    ]).toContainEqual([logged[0]?.space, logged[0]?.protocol])
  })

  it('lets allowed browser-like peers reach each other through its circuit relay', async () => {
    const [first, second] = await Promise.all(allowedBrowsers.map((key) => browserLike(key)))
    const circuit = (node: MendsyncLibp2p) =>
      node.getMultiaddrs().filter((address) => String(address).includes('/p2p-circuit'))
    await waitFor(
      'both reservations',
      () => circuit(first!).length > 0 && circuit(second!).length > 0,
    )
    const connection = await first!.dial(circuit(second!))
    expect(connection.remotePeer.toString()).toBe(second!.peerId.toString())
    expect(String(connection.remoteAddr)).toContain(`/p2p/${info.peerId}/p2p-circuit`)
    const scraped = await scrape(info.metricsUrl)
    expect(sampleValue(scraped, 'mendsync_libp2p_relay_reservations')).toBeGreaterThanOrEqual(2)
  })
})
