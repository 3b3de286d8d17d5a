// The Network acceptance suite: what every transport must do, run by each adapter from a thin
// test file (`runNetworkAdapterTests(setup)`). One file per concern, composed here. Only vitest
// and our own packages are imported, so the suite also runs in a browser.
import { afterEach, beforeEach, describe } from 'vitest'
import type { PeerId, SpaceChannel } from '../../network/types.js'
import { describeAccess } from './access.js'
import { describeCalls } from './calls.js'
import type {
  ConnectedPair,
  NetworkSuiteContext,
  NetworkSuiteOptions,
  NetworkTestHarness,
  NetworkTestSetup,
} from './context.js'
import { describeDeadlines } from './deadlines.js'
import { FakeSpaceStore } from './fake-space-store.js'
import { describeGossip } from './gossip.js'
import { describeMembership } from './membership.js'
import { describePrivateSpaces } from './private-spaces.js'
import { describeReconcile } from './reconcile.js'
import { describeShutdown } from './shutdown.js'

export * from '../fake-reconcile.js'
export type {
  ConnectedPair,
  NetworkSuiteOptions,
  NetworkTestHarness,
  NetworkTestSetup,
} from './context.js'
export { FakeSpaceStore, text } from './fake-space-store.js'
export { createSuiteSpace, type SuiteSpace } from './private-spaces.js'

/** Registers the Network acceptance tests in the current vitest file. */
export function runNetworkAdapterTests(
  setup: NetworkTestSetup,
  options: NetworkSuiteOptions = {},
): void {
  const eventTimeoutMs = options.eventTimeoutMs ?? 10_000

  describe(options.name ?? 'Network adapter', () => {
    let harness: NetworkTestHarness | undefined
    beforeEach(async () => {
      harness = await setup()
    })
    afterEach(async () => {
      const done = harness
      harness = undefined
      await done?.teardown()
    })

    const current = (): NetworkTestHarness => {
      if (harness === undefined) throw new Error('the network suite harness was not set up')
      return harness
    }

    async function waitFor(what: string, check: () => boolean): Promise<void> {
      const deadline = Date.now() + eventTimeoutMs
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }

    async function sees(channel: SpaceChannel, ...peers: PeerId[]): Promise<void> {
      await waitFor(`${peers.join(', ')} in peers()`, () =>
        peers.every((peer) => channel.peers().includes(peer)),
      )
    }

    async function pair(
      space = 'space-a',
      stores: [FakeSpaceStore, FakeSpaceStore] = [new FakeSpaceStore(), new FakeSpaceStore()],
    ): Promise<ConnectedPair> {
      const a = await current().createNetwork()
      const b = await current().createNetwork()
      const channelA = await a.join(space, stores[0])
      const channelB = await b.join(space, stores[1])
      await current().connect(a, b)
      await sees(channelA, b.peerId)
      await sees(channelB, a.peerId)
      return { a, b, channelA, channelB, storeA: stores[0], storeB: stores[1] }
    }

    const suite: NetworkSuiteContext = {
      get harness(): NetworkTestHarness {
        return current()
      },
      shortTimeoutMs: options.shortTimeoutMs ?? 300,
      waitFor,
      sees,
      pair,
    }

    describeMembership(suite)
    describeGossip(suite)
    describeCalls(suite)
    describeReconcile(suite)
    describeDeadlines(suite)
    describeAccess(suite)
    describePrivateSpaces(suite)
    describeShutdown(suite)
  })
}
