import { describe, expect, it } from 'vitest'
import type { GossipMessage } from '../../network/types.js'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore } from './fake-space-store.js'
import { expectCode, gossip, record } from './helpers.js'

/** Registers the network contract tests of gossip: delivery to every joined peer, malformed messages refused. */
export function describeGossip(suite: NetworkSuiteContext): void {
  describe('gossip', () => {
    it('delivers gossip to every joined peer with the full version vector', async () => {
      const a = await suite.harness.createNetwork()
      const b = await suite.harness.createNetwork()
      const c = await suite.harness.createNetwork()
      const channelA = await a.join('space-a', new FakeSpaceStore())
      const channelB = await b.join('space-a', new FakeSpaceStore())
      const channelC = await c.join('space-a', new FakeSpaceStore())
      const other = await c.join('space-other', new FakeSpaceStore())
      await suite.harness.connect(a, b)
      await suite.harness.connect(a, c)
      await suite.harness.connect(b, c)
      await suite.sees(channelA, b.peerId, c.peerId)
      await suite.sees(channelB, a.peerId)
      await suite.sees(channelC, a.peerId)
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
        await suite.waitFor(`gossip ${i} at b and c`, () => atB.length === i && atC.length === i)
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
      const { channelA } = await suite.pair()
      const message = { ...gossip('replica-a', [['replica-a', 1]]), summary: new Uint8Array(25) }
      await expectCode(channelA.publish(message), 'INVALID_ARGUMENT')
      await expectCode(
        channelA.publish({ ...message, summary: new Uint8Array(0), replicaId: '' }),
        'INVALID_ARGUMENT',
      )
    })
  })
}
