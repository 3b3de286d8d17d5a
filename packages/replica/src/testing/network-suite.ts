// The Network acceptance suite: what every transport must do, run by each adapter from a thin
// test file (`runNetworkAdapterTests(setup)`). Only vitest and our own packages are imported,
// so the suite also runs in a browser.
import { isMendsyncError, MendsyncError, type MendsyncErrorCode } from '@mendsync/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  GossipMessage,
  KeyState,
  Network,
  PeerId,
  PullMode,
  PullResult,
  ReconcileDriver,
  ReconcileResponder,
  SpaceChannel,
  SpaceEvents,
  SpaceHandlers,
} from '../network/types.js'
import { createListReconcileSession } from './fake-reconcile.js'

export * from './fake-reconcile.js'

/** What an adapter's test file hands the network acceptance suite for each test. */
export interface NetworkTestHarness {
  /** A new, started network (a new peer), not yet connected to anything. */
  createNetwork(): Promise<Network>
  /** Connects two networks of this harness (a dial, a link up); resolves once connected. */
  connect(a: Network, b: Network): Promise<void>
  /** Severs the connection between two networks (a hang-up, a link down). */
  disconnect(a: Network, b: Network): Promise<void>
  /** Closes every network this harness created and releases what it holds. */
  teardown(): Promise<void>
}

/** Creates one harness; called once per test. */
export type NetworkTestSetup = () => Promise<NetworkTestHarness>

/** Options of {@link runNetworkAdapterTests}. */
export interface NetworkSuiteOptions {
  /** Name of the describe block. Default `'Network adapter'`. */
  readonly name?: string
  /** How long the suite waits for an event (connect, gossip) before failing, ms. Default 10_000. */
  readonly eventTimeoutMs?: number
  /** Deadline the suite uses for calls that must time out, ms. Default 300. */
  readonly shortTimeoutMs?: number
}

/** An in-memory key store serving a space: states, digests, and a list reconciliation. */
export class FakeSpaceStore implements SpaceHandlers {
  readonly states = new Map<string, Uint8Array>()
  readonly pushed: { peer: PeerId; states: KeyState[] }[] = []
  readonly accepted: KeyState[] = []
  readonly pulls: { peer: PeerId; keys: string[]; mode: PullMode }[] = []
  /** Items per reconciliation message of this side (more rounds when small). */
  chunk: number | undefined = undefined
  /** When set, pull/push/reconcile wait for it (to hold a call in flight) or throw it. */
  gate: Promise<void> | null = null
  failWith: unknown = null

  constructor(entries: Record<string, string> = {}) {
    for (const [key, value] of Object.entries(entries)) this.states.set(key, text(value))
  }

  async pull(peer: PeerId, keys: readonly string[], mode: PullMode): Promise<PullResult> {
    this.pulls.push({ peer, keys: [...keys], mode })
    await this.hold()
    const found = keys.map((key) => this.states.get(key) ?? null)
    return mode === 'digest'
      ? { mode, digests: found.map((state) => (state ? digestOf(state) : null)) }
      : { mode, states: found }
  }

  async push(peer: PeerId, states: readonly KeyState[]): Promise<void> {
    await this.hold()
    this.pushed.push({ peer, states: [...states] })
    for (const { key, state } of states) this.states.set(key, state)
  }

  async reconcile(_peer: PeerId): Promise<ReconcileResponder> {
    await this.hold()
    const driver = this.driver()
    return {
      ...driver,
      accept: async (states) => {
        this.accepted.push(...states)
        for (const { key, state } of states) this.states.set(key, state)
      },
    }
  }

  /** The initiator's side of a reconciliation over this store. */
  driver(): ReconcileDriver {
    const items = new Map([...this.states].map(([key, state]) => [key, hex(state)] as const))
    const options = this.chunk === undefined ? {} : { chunk: this.chunk }
    return {
      session: createListReconcileSession(items, options),
      statesFor: async (keys) =>
        keys.flatMap((key) => {
          const state = this.states.get(key)
          return state ? [{ key, state }] : []
        }),
    }
  }

  private async hold(): Promise<void> {
    if (this.failWith !== null) throw this.failWith
    if (this.gate) await this.gate
  }
}

/** Bytes of a string. */
export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value)
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function digestOf(state: Uint8Array): Uint8Array {
  return text(`digest:${hex(state)}`)
}

function gossip(replicaId: string, vector: [string, number][], hints = 0): GossipMessage {
  return {
    replicaId,
    versionVector: new Map(vector),
    summary: Uint8Array.from([1, 2, 3, vector.length]),
    hints: Array.from({ length: hints }, (_, i) => ({
      key: `key-${i}`,
      dots: [{ replica: replicaId, counter: i + 1 }],
    })),
  }
}

function never(): Promise<void> {
  return new Promise(() => {})
}

/** Registers the Network acceptance tests in the current vitest file. */
export function runNetworkAdapterTests(
  setup: NetworkTestSetup,
  options: NetworkSuiteOptions = {},
): void {
  const eventTimeoutMs = options.eventTimeoutMs ?? 10_000
  const shortTimeoutMs = options.shortTimeoutMs ?? 300

  describe(options.name ?? 'Network adapter', () => {
    let harness: NetworkTestHarness
    beforeEach(async () => {
      harness = await setup()
    })
    afterEach(async () => {
      await harness.teardown()
    })

    async function waitFor(what: string, check: () => boolean): Promise<void> {
      const deadline = Date.now() + eventTimeoutMs
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }

    function record<E extends keyof SpaceEvents>(
      channel: SpaceChannel,
      event: E,
    ): SpaceEvents[E][] {
      const seen: SpaceEvents[E][] = []
      channel.on(event, (detail) => seen.push(detail))
      return seen
    }

    async function expectCode(promise: Promise<unknown>, code: MendsyncErrorCode): Promise<void> {
      let failure: unknown = null
      try {
        await promise
      } catch (error) {
        failure = error
      }
      if (!isMendsyncError(failure, code)) {
        throw new Error(`expected MendsyncError ${code}, got ${String(failure)}`, {
          cause: failure,
        })
      }
    }

    async function sees(channel: SpaceChannel, ...peers: PeerId[]): Promise<void> {
      await waitFor(`${peers.join(', ')} in peers()`, () =>
        peers.every((peer) => channel.peers().includes(peer)),
      )
    }

    /** Two connected networks that joined `space` and see each other. */
    async function pair(
      space = 'space-a',
      stores: [FakeSpaceStore, FakeSpaceStore] = [new FakeSpaceStore(), new FakeSpaceStore()],
    ) {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      const channelA = await a.join(space, stores[0])
      const channelB = await b.join(space, stores[1])
      await harness.connect(a, b)
      await sees(channelA, b.peerId)
      await sees(channelB, a.peerId)
      return { a, b, channelA, channelB, storeA: stores[0], storeB: stores[1] }
    }

    it('has a peer id and refuses to join one space twice', async () => {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      expect(typeof a.peerId).toBe('string')
      expect(a.peerId.length).toBeGreaterThan(0)
      expect(a.peerId).not.toBe(b.peerId)
      const channel = await a.join('space-a', new FakeSpaceStore())
      expect(channel.space).toBe('space-a')
      expect(channel.peers()).toEqual([])
      await expectCode(a.join('space-a', new FakeSpaceStore()), 'INVALID_ARGUMENT')
    })

    it('reports peers of a space on connect, disconnect and reconnect', async () => {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const connects = record(channelA, 'peer:connect')
      const disconnects = record(channelA, 'peer:disconnect')
      const channelB = await b.join('space-a', new FakeSpaceStore())
      await harness.connect(a, b)
      await waitFor('peer:connect', () => connects.length === 1)
      expect(connects[0]).toEqual({ peer: b.peerId, reconnect: false })
      await sees(channelA, b.peerId)
      await sees(channelB, a.peerId)

      await harness.disconnect(a, b)
      await waitFor('peer:disconnect', () => disconnects.length === 1)
      expect(disconnects[0]).toEqual({ peer: b.peerId })
      expect(channelA.peers()).toEqual([])

      await harness.connect(a, b)
      await waitFor('second peer:connect', () => connects.length === 2)
      expect(connects[1]).toEqual({ peer: b.peerId, reconnect: true })
      expect(channelA.peers()).toEqual([b.peerId])
    })

    it('counts only peers that joined the same space, and sees a later join and a leave', async () => {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const connects = record(channelA, 'peer:connect')
      const disconnects = record(channelA, 'peer:disconnect')
      await b.join('space-b', new FakeSpaceStore())
      await harness.connect(a, b)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(channelA.peers()).toEqual([])
      expect(connects).toEqual([])

      const late = await b.join('space-a', new FakeSpaceStore())
      await waitFor('peer:connect after a late join', () => connects.length === 1)
      expect(channelA.peers()).toEqual([b.peerId])
      await late.leave()
      await waitFor('peer:disconnect after leave', () => disconnects.length === 1)
      expect(channelA.peers()).toEqual([])
      await expectCode(late.pull(a.peerId, ['x'], 'state'), 'CLOSED')
    })

    it('delivers gossip to every joined peer with the full version vector', async () => {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      const c = await harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const channelB = await b.join('space-a', new FakeSpaceStore())
      const channelC = await c.join('space-a', new FakeSpaceStore())
      const other = await c.join('space-other', new FakeSpaceStore())
      await harness.connect(a, b)
      await harness.connect(a, c)
      await harness.connect(b, c)
      await sees(channelA, b.peerId, c.peerId)
      await sees(channelB, a.peerId)
      await sees(channelC, a.peerId)
      const atB = record(channelB, 'gossip')
      const atC = record(channelC, 'gossip')
      const atOther = record(other, 'gossip')

      const sent: GossipMessage[] = []
      const vector = new Map<string, number>([['replica-a', 0]])
      for (let i = 1; i <= 14; i++) {
        vector.set('replica-a', i)
        if (i % 3 === 0) vector.set(`replica-${i}`, i * 10)
        const message = gossip('replica-a', [...vector], i % 4)
        sent.push(message)
        await channelA.publish(message)
        // Paced, as a replica publishes, so every message is delivered in order.
        await waitFor(`gossip ${i} at b and c`, () => atB.length === i && atC.length === i)
      }
      for (const seen of [atB, atC]) {
        expect(seen.map((event) => event.peer)).toEqual(sent.map(() => a.peerId))
        seen.forEach((event, i) => {
          const expected = sent[i]!
          expect(event.message.replicaId).toBe(expected.replicaId)
          expect([...event.message.versionVector].sort()).toEqual(
            [...expected.versionVector].sort(),
          )
          expect(event.message.summary).toEqual(expected.summary)
          expect(event.message.hints).toEqual(expected.hints)
        })
      }
      expect(atOther).toEqual([])
    })

    it('refuses to publish a malformed gossip message', async () => {
      const { channelA } = await pair()
      const message = { ...gossip('replica-a', [['replica-a', 1]]), summary: new Uint8Array(25) }
      await expectCode(channelA.publish(message), 'INVALID_ARGUMENT')
      await expectCode(
        channelA.publish({ ...message, summary: new Uint8Array(0), replicaId: '' }),
        'INVALID_ARGUMENT',
      )
    })

    it('pulls digests and states in request order, null for missing keys', async () => {
      const storeB = new FakeSpaceStore({ k1: 'one', k3: 'three' })
      const { a, b, channelA, channelB } = await pair('space-a', [new FakeSpaceStore(), storeB])
      const states = await channelA.pull(b.peerId, ['k1', 'k2', 'k3'], 'state')
      expect(states).toEqual({ mode: 'state', states: [text('one'), null, text('three')] })
      const digests = await channelA.pull(b.peerId, ['k3', 'k2'], 'digest')
      expect(digests.mode).toBe('digest')
      if (digests.mode !== 'digest') throw new Error('unreachable')
      expect(digests.digests[1]).toBeNull()
      expect(digests.digests[0]).toEqual(digestOf(text('three')))
      expect(await channelA.pull(b.peerId, [], 'state')).toEqual({ mode: 'state', states: [] })
      expect(storeB.pulls.map((pull) => pull.peer)).toEqual([a.peerId, a.peerId, a.peerId])
      // Both directions, many at once (one request each, answered in any order).
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => channelB.pull(a.peerId, [`n${i}`], 'state')),
      )
      expect(many.every((result) => result.mode === 'state' && result.states[0] === null)).toBe(
        true,
      )
    })

    it('push resolves once the peer has handled the states', async () => {
      const { a, b, channelA, storeB } = await pair()
      await channelA.push(b.peerId, [
        { key: 'k1', state: text('one') },
        { key: 'k2', state: text('two') },
      ])
      expect(storeB.pushed).toEqual([
        {
          peer: a.peerId,
          states: [
            { key: 'k1', state: text('one') },
            { key: 'k2', state: text('two') },
          ],
        },
      ])
      await channelA.push(b.peerId, [])
      expect(storeB.pushed).toHaveLength(2)
    })

    it("reports a peer handler's failure, passes OVERLOADED through, and keeps working", async () => {
      const { b, channelA, storeB } = await pair()
      storeB.failWith = new Error('disk on fire')
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'REMOTE_ERROR')
      await expectCode(channelA.push(b.peerId, [{ key: 'k', state: text('v') }]), 'REMOTE_ERROR')
      await expectCode(channelA.reconcile(b.peerId, new FakeSpaceStore().driver()), 'REMOTE_ERROR')
      storeB.failWith = new MendsyncError('OVERLOADED', 'busy')
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'OVERLOADED')
      storeB.failWith = null
      storeB.states.set('k', text('v'))
      expect(await channelA.pull(b.peerId, ['k'], 'state')).toEqual({
        mode: 'state',
        states: [text('v')],
      })
    })

    for (const [label, chunkA, chunkB] of [
      ['in one round each', undefined, undefined],
      ['over several rounds, the initiator ending', 1, 3],
      ['over several rounds, the responder ending', 2, 1],
    ] as const) {
      it(`reconciles ${label} and exchanges states both ways`, async () => {
        const storeA = new FakeSpaceStore({ k1: 'a1', k2: 'a2', k3: 'a3', same: 's' })
        const storeB = new FakeSpaceStore({ k3: 'b3', k4: 'b4', k5: 'b5', same: 's' })
        storeA.chunk = chunkA
        storeB.chunk = chunkB
        const { b, channelA } = await pair('space-a', [storeA, storeB])
        const outcome = await channelA.reconcile(b.peerId, storeA.driver())
        expect([...outcome.differing].sort()).toEqual(['k1', 'k2', 'k3'])
        expect([...outcome.received].sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual([
          { key: 'k3', state: text('b3') },
          { key: 'k4', state: text('b4') },
          { key: 'k5', state: text('b5') },
        ])
        expect([...storeB.accepted].sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual([
          { key: 'k1', state: text('a1') },
          { key: 'k2', state: text('a2') },
          { key: 'k3', state: text('a3') },
        ])
        expect(outcome.rounds).toBeGreaterThanOrEqual(chunkA === undefined ? 1 : 2)
        expect(outcome.bytesSent).toBeGreaterThan(0)
        expect(outcome.bytesReceived).toBeGreaterThan(0)
      })
    }

    it('reconciles equal sets without exchanging states', async () => {
      const storeA = new FakeSpaceStore({ k1: 'v1', k2: 'v2' })
      const storeB = new FakeSpaceStore({ k1: 'v1', k2: 'v2' })
      const { b, channelA } = await pair('space-a', [storeA, storeB])
      const outcome = await channelA.reconcile(b.peerId, storeA.driver())
      expect(outcome.differing).toEqual([])
      expect(outcome.received).toEqual([])
      expect(storeB.accepted).toEqual([])
    })

    it('fails a call past its deadline with TIMEOUT and keeps the channel usable', async () => {
      const { b, channelA, storeB } = await pair()
      storeB.gate = never()
      const started = Date.now()
      await expectCode(
        channelA.pull(b.peerId, ['k'], 'state', { timeoutMs: shortTimeoutMs }),
        'TIMEOUT',
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(shortTimeoutMs - 20)
      expect(Date.now() - started).toBeLessThan(shortTimeoutMs + 3_000)
      await expectCode(channelA.push(b.peerId, [], { timeoutMs: shortTimeoutMs }), 'TIMEOUT')
      await expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver(), { timeoutMs: shortTimeoutMs }),
        'TIMEOUT',
      )
      storeB.gate = null
      storeB.states.set('k', text('v'))
      expect(await channelA.pull(b.peerId, ['k'], 'state')).toEqual({
        mode: 'state',
        states: [text('v')],
      })
    })

    it('fails an aborted call with ABORTED, before or during the call', async () => {
      const { b, channelA, storeB } = await pair()
      await expectCode(
        channelA.pull(b.peerId, ['k'], 'state', { signal: AbortSignal.abort() }),
        'ABORTED',
      )
      storeB.gate = never()
      const controller = new AbortController()
      const call = expectCode(
        channelA.pull(b.peerId, ['k'], 'digest', { signal: controller.signal }),
        'ABORTED',
      )
      setTimeout(() => controller.abort(), 50)
      await call
      const pushController = new AbortController()
      const push = expectCode(
        channelA.push(b.peerId, [], { signal: pushController.signal }),
        'ABORTED',
      )
      setTimeout(() => pushController.abort(), 50)
      await push
      storeB.gate = null
      await channelA.push(b.peerId, [])
    })

    it('fails calls to a peer that is absent or does not serve the space with PEER_UNAVAILABLE', async () => {
      const a = await harness.createNetwork()
      const b = await harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'PEER_UNAVAILABLE')
      await b.join('space-b', new FakeSpaceStore())
      await harness.connect(a, b)
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'PEER_UNAVAILABLE')
      await expectCode(channelA.push(b.peerId, []), 'PEER_UNAVAILABLE')
      await expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver()),
        'PEER_UNAVAILABLE',
      )
    })

    it('refuses peers outside the allowlist on every protocol and drops their gossip', async () => {
      const a = await harness.createNetwork()
      const member = await harness.createNetwork()
      const outsider = await harness.createNetwork()
      const storeA = new FakeSpaceStore({ secret: 'x' })
      const channelA = await a.join('space-a', storeA, { allow: [member.peerId] })
      const atA = record(channelA, 'gossip')
      const connects = record(channelA, 'peer:connect')
      const channelM = await member.join('space-a', new FakeSpaceStore())
      const channelO = await outsider.join('space-a', new FakeSpaceStore())
      await harness.connect(a, member)
      await harness.connect(a, outsider)
      await harness.connect(member, outsider)
      await sees(channelA, member.peerId)
      await sees(channelO, member.peerId)
      await sees(channelM, outsider.peerId)

      await expectCode(channelO.pull(a.peerId, ['secret'], 'state'), 'ACCESS_DENIED')
      await expectCode(channelO.pull(a.peerId, ['secret'], 'digest'), 'ACCESS_DENIED')
      await expectCode(
        channelO.push(a.peerId, [{ key: 'secret', state: text('y') }]),
        'ACCESS_DENIED',
      )
      await expectCode(
        channelO.reconcile(a.peerId, new FakeSpaceStore({ secret: 'y' }).driver()),
        'ACCESS_DENIED',
      )
      await expectCode(channelA.pull(outsider.peerId, ['k'], 'state'), 'ACCESS_DENIED')
      expect(storeA.pulls).toEqual([])
      expect(storeA.pushed).toEqual([])
      expect(storeA.accepted).toEqual([])
      expect(storeA.states.get('secret')).toEqual(text('x'))

      await channelO.publish(gossip('replica-outsider', [['replica-outsider', 1]]))
      await channelM.publish(gossip('replica-member', [['replica-member', 1]]))
      await waitFor("the member's gossip", () => atA.length >= 1)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(atA.map((event) => event.peer)).toEqual([member.peerId])
      expect(channelA.peers()).toEqual([member.peerId])
      expect(connects.map((event) => event.peer)).toEqual([member.peerId])
    })

    it('close fails calls in flight with NETWORK_CLOSED and later calls with CLOSED', async () => {
      const { a, b, channelA, storeB } = await pair()
      storeB.gate = never()
      // The expectations are set up before the failure, so the rejection is handled at once.
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      const reconciling = expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver()),
        'NETWORK_CLOSED',
      )
      await new Promise((resolve) => setTimeout(resolve, 50))
      await a.close()
      await inFlight
      await reconciling
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'CLOSED')
      await expectCode(channelA.push(b.peerId, []), 'CLOSED')
      await expectCode(channelA.publish(gossip('r', [])), 'CLOSED')
      await expectCode(a.join('space-z', new FakeSpaceStore()), 'CLOSED')
      await a.close()
    })

    it('fails calls to a peer that goes away with NETWORK_CLOSED and reports it disconnected', async () => {
      const { b, channelA, storeB } = await pair()
      const disconnects = record(channelA, 'peer:disconnect')
      storeB.gate = never()
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      await new Promise((resolve) => setTimeout(resolve, 50))
      await b.close()
      await inFlight
      await waitFor('peer:disconnect', () => disconnects.length === 1)
      expect(channelA.peers()).toEqual([])
    })

    it('fails calls over a connection that drops with NETWORK_CLOSED', async () => {
      const { a, b, channelA, storeB } = await pair()
      storeB.gate = never()
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      await new Promise((resolve) => setTimeout(resolve, 50))
      await harness.disconnect(a, b)
      await inFlight
    })
  })
}
