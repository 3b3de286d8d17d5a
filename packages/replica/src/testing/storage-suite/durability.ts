import { describe, expect, it } from 'vitest'
import type { WriteBatch } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, Model, NAMESPACES, prng, put, randomBatch } from './helpers.js'

/** Registers the storage contract tests of durability: acknowledged batches survive close and reopen. */
export function describeDurability(suite: StorageSuiteContext): void {
  describe('durability', () => {
    it('keeps acknowledged writes, overwrites and erasures across close and reopen', async () => {
      const model = new Model()
      const rng = prng(7)
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 10; i++) {
          const batch = randomBatch(rng, 8, 'r')
          await suite.storage.write(batch)
          model.apply(batch)
        }
        await suite.reopen()
        for (const namespace of NAMESPACES) {
          expect(await dump(suite.storage, namespace)).toEqual(model.dump(namespace))
        }
      }
    })

    it('keeps relaxed batches, mixed in any order with strict ones, across close and reopen', async () => {
      const model = new Model()
      const rng = prng(11)
      const writes: Promise<void>[] = []
      for (let i = 0; i < 30; i++) {
        const batch: WriteBatch = {
          ...randomBatch(rng, 6, 'd'),
          durability: rng.int(2) === 0 ? 'relaxed' : 'strict',
        }
        // Not awaited one by one: strict and relaxed batches share whatever group the adapter
        // forms, which is where a relaxed group turning strict can go wrong.
        writes.push(suite.storage.write(batch))
        model.apply(batch)
        if (i % 7 === 6) await Promise.all(writes.splice(0))
      }
      await Promise.all(writes)
      for (const namespace of NAMESPACES) {
        expect(await dump(suite.storage, namespace)).toEqual(model.dump(namespace))
      }
      await suite.reopen()
      for (const namespace of NAMESPACES) {
        expect(await dump(suite.storage, namespace)).toEqual(model.dump(namespace))
      }
    })

    it('finishes pending writes before close resolves', async () => {
      const writes: Promise<void>[] = []
      for (let i = 0; i < 20; i++) {
        writes.push(suite.storage.write({ values: [put(`p${i}`, [i])], meta: [put(`p${i}`, [i])] }))
      }
      await suite.storage.close()
      await Promise.all(writes)
      await suite.reopen()
      expect((await dump(suite.storage, 'values')).length).toBe(20)
      expect((await dump(suite.storage, 'meta')).length).toBe(20)
    })
  })
}
