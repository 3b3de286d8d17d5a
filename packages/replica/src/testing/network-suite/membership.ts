import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore } from './fake-space-store.js'
import { expectCode, record } from './helpers.js'

/** Registers the network contract tests of membership: peer ids, connect and disconnect events, spaces. */
export function describeMembership(suite: NetworkSuiteContext): void {
  describe('membership', () => {
    it('has a peer id and refuses to join one space twice', async () => {
      const a = await suite.harness.createNetwork()
      const b = await suite.harness.createNetwork()
      expect(typeof a.peerId).toBe('string')
      expect(a.peerId.length).toBeGreaterThan(0)
      expect(a.peerId).not.toBe(b.peerId)
      const channel = await a.join('space-a', new FakeSpaceStore())
      expect(channel.space).toBe('space-a')
      expect(channel.peers()).toEqual([])
      await expectCode(a.join('space-a', new FakeSpaceStore()), 'INVALID_ARGUMENT')
    })

    it('reports peers of a space on connect, disconnect and reconnect', async () => {
      const a = await suite.harness.createNetwork()
      const b = await suite.harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const connects = record(channelA, 'peer:connect')
      const disconnects = record(channelA, 'peer:disconnect')
      const channelB = await b.join('space-a', new FakeSpaceStore())
      await suite.harness.connect(a, b)
      await suite.waitFor('peer:connect', () => connects.length === 1)
      expect(connects[0]).toEqual({ peer: b.peerId, reconnect: false })
      await suite.sees(channelA, b.peerId)
      await suite.sees(channelB, a.peerId)

      await suite.harness.disconnect(a, b)
      await suite.waitFor('peer:disconnect', () => disconnects.length === 1)
      expect(disconnects[0]).toEqual({ peer: b.peerId })
      expect(channelA.peers()).toEqual([])

      await suite.harness.connect(a, b)
      await suite.waitFor('second peer:connect', () => connects.length === 2)
      expect(connects[1]).toEqual({ peer: b.peerId, reconnect: true })
      expect(channelA.peers()).toEqual([b.peerId])
    })

    it('counts only peers that joined the same space, and sees a later join and a leave', async () => {
      const a = await suite.harness.createNetwork()
      const b = await suite.harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const connects = record(channelA, 'peer:connect')
      const disconnects = record(channelA, 'peer:disconnect')
      await b.join('space-b', new FakeSpaceStore())
      // A space both join: once a sees b there, b's memberships have reached a.
      const probeA = await a.join('space-probe', new FakeSpaceStore())
      await b.join('space-probe', new FakeSpaceStore())
      await suite.harness.connect(a, b)
      await suite.sees(probeA, b.peerId)
      expect(channelA.peers()).toEqual([])
      expect(connects).toEqual([])

      const late = await b.join('space-a', new FakeSpaceStore())
      await suite.waitFor('peer:connect after a late join', () => connects.length === 1)
      expect(channelA.peers()).toEqual([b.peerId])
      await late.leave()
      await suite.waitFor('peer:disconnect after leave', () => disconnects.length === 1)
      expect(channelA.peers()).toEqual([])
      await expectCode(late.pull(a.peerId, ['x'], 'state'), 'CLOSED')
    })
  })
}
