import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore, text } from './fake-space-store.js'
import { expectCode, never } from './helpers.js'

/** Registers the network contract tests of deadlines and aborts: TIMEOUT and ABORTED. */
export function describeDeadlines(suite: NetworkSuiteContext): void {
  describe('deadlines', () => {
    it('fails a call past its deadline with TIMEOUT and keeps the channel usable', async () => {
      const { b, channelA, storeB } = await suite.pair()
      storeB.gate = never()
      const started = Date.now()
      await expectCode(
        channelA.pull(b.peerId, ['k'], 'state', { timeoutMs: suite.shortTimeoutMs }),
        'TIMEOUT',
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(suite.shortTimeoutMs - 20)
      await expectCode(channelA.push(b.peerId, [], { timeoutMs: suite.shortTimeoutMs }), 'TIMEOUT')
      await expectCode(
        channelA.reconcile(b.peerId, new FakeSpaceStore().driver(), {
          timeoutMs: suite.shortTimeoutMs,
        }),
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
      const { b, channelA, storeB } = await suite.pair()
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
      await suite.waitFor('the pull to reach the peer', () =>
        storeB.arrived.some((seen) => seen.call === 'pull'),
      )
      controller.abort()
      await call
      const pushController = new AbortController()
      const push = expectCode(
        channelA.push(b.peerId, [], { signal: pushController.signal }),
        'ABORTED',
      )
      await suite.waitFor('the push to reach the peer', () =>
        storeB.arrived.some((seen) => seen.call === 'push'),
      )
      pushController.abort()
      await push
      storeB.gate = null
      await channelA.push(b.peerId, [])
    })
  })
}
