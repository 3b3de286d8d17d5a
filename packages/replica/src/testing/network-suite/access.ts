import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore, text } from './fake-space-store.js'
import { expectCode, gossip, record } from './helpers.js'

/** Registers the network contract tests of access: PEER_UNAVAILABLE and the allowlist. */
export function describeAccess(suite: NetworkSuiteContext): void {
  describe('access', () => {
    it('fails calls to a peer that is absent or does not serve the space with PEER_UNAVAILABLE', async () => {
      const a = await suite.harness.createNetwork()
      const b = await suite.harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'PEER_UNAVAILABLE')
      await b.join('space-b', new FakeSpaceStore())
      await suite.harness.connect(a, b)
      await expectCode(channelA.pull(b.peerId, ['k'], 'state'), 'PEER_UNAVAILABLE')
      await expectCode(channelA.push(b.peerId, []), 'PEER_UNAVAILABLE')
      await expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver()),
        'PEER_UNAVAILABLE',
      )
    })

    it('refuses peers outside the allowlist on every protocol and drops their gossip', async () => {
      const a = await suite.harness.createNetwork()
      const member = await suite.harness.createNetwork()
      const outsider = await suite.harness.createNetwork()
      const storeA = new FakeSpaceStore({ secret: 'x' })
      const channelA = await a.join('space-a', storeA, { allow: [member.peerId] })
      const atA = record(channelA, 'gossip')
      const connects = record(channelA, 'peer:connect')
      const channelM = await member.join('space-a', new FakeSpaceStore())
      const channelO = await outsider.join('space-a', new FakeSpaceStore())
      await suite.harness.connect(a, member)
      await suite.harness.connect(a, outsider)
      await suite.harness.connect(member, outsider)
      await suite.sees(channelA, member.peerId)
      await suite.sees(channelO, member.peerId)
      await suite.sees(channelM, outsider.peerId)

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

      // The outsider's gossip reaches the member (proving it went out) before the member gossips;
      // a then receives the member's later message, and only that one.
      const atMember = record(channelM, 'gossip')
      await channelO.publish(gossip('replica-outsider', [['replica-outsider', 1]]))
      await suite.waitFor("the outsider's gossip at the member", () => atMember.length >= 1)
      await channelM.publish(gossip('replica-member', [['replica-member', 1]]))
      await suite.waitFor("the member's gossip", () => atA.length >= 1)
      expect(atA.map((event) => event.peer)).toEqual([member.peerId])
      expect(channelA.peers()).toEqual([member.peerId])
      expect(connects.map((event) => event.peer)).toEqual([member.peerId])
    })
  })
}
