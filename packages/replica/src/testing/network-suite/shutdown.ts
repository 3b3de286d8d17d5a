import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore } from './fake-space-store.js'
import { expectCode, gossip, never, record } from './helpers.js'

/** Registers the network contract tests of shutdown: close, a peer that goes away, a dropped connection. */
export function describeShutdown(suite: NetworkSuiteContext): void {
  describe('shutdown', () => {
    it('close fails calls in flight with NETWORK_CLOSED and later calls with CLOSED', async () => {
      const { a, b, channelA, storeB } = await suite.pair()
      storeB.gate = never()
      // The expectations are set up before the failure, so the rejection is handled at once.
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      const reconciling = expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver()),
        'NETWORK_CLOSED',
      )
      await suite.waitFor('the pull and the reconciliation to reach the peer', () =>
        ['pull', 'reconcile'].every((call) => storeB.arrived.some((seen) => seen.call === call)),
      )
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
      const { b, channelA, storeB } = await suite.pair()
      const disconnects = record(channelA, 'peer:disconnect')
      storeB.gate = never()
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      await suite.waitFor('the pull to reach the peer', () => storeB.arrived.length === 1)
      await b.close()
      await inFlight
      await suite.waitFor('peer:disconnect', () => disconnects.length === 1)
      expect(channelA.peers()).toEqual([])
    })

    it('fails calls over a connection that drops with NETWORK_CLOSED', async () => {
      const { a, b, channelA, storeB } = await suite.pair()
      storeB.gate = never()
      const inFlight = expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'NETWORK_CLOSED')
      await suite.waitFor('the pull to reach the peer', () => storeB.arrived.length === 1)
      await suite.harness.disconnect(a, b)
      await inFlight
    })
  })
}
