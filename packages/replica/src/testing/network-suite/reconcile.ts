import { describe, expect, it } from 'vitest'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore, text } from './fake-space-store.js'

/** Registers the network contract tests of reconciliation: one or several rounds, states exchanged both ways. */
export function describeReconcile(suite: NetworkSuiteContext): void {
  describe('reconcile', () => {
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
        const { b, channelA } = await suite.pair('space-a', [storeA, storeB])
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
      const { b, channelA } = await suite.pair('space-a', [storeA, storeB])
      const outcome = await channelA.reconcile(b.peerId, storeA.driver())
      expect(outcome.differing).toEqual([])
      expect(outcome.received).toEqual([])
      expect(storeB.accepted).toEqual([])
    })
  })
}
