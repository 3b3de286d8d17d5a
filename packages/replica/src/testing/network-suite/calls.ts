import { MendsyncError } from '@mendsync/core'
import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore, text } from './fake-space-store.js'
import { digestOf, expectCode } from './helpers.js'

/** Registers the network contract tests of pull and push: request order, acknowledgement, handler failures. */
export function describeCalls(suite: NetworkSuiteContext): void {
  describe('calls', () => {
    it('pulls digests and states in request order, null for missing keys', async () => {
      const storeB = new FakeSpaceStore({ k1: 'one', k3: 'three' })
      const { a, b, channelA, channelB } = await suite.pair('space-a', [
        new FakeSpaceStore(),
        storeB,
      ])
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
      const { a, b, channelA, storeB } = await suite.pair()
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
      const { b, channelA, storeB } = await suite.pair()
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
  })
}
