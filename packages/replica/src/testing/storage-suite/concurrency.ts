import { describe, expect, it } from 'vitest'
import type { WriteBatch } from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { dump, expectMendsyncError, put, toArray } from './helpers.js'

/** Registers the storage contract tests of concurrency: concurrent writers and readers. */
export function describeConcurrency(suite: StorageSuiteContext): void {
  describe('concurrency', () => {
    it('applies all concurrent writes, each whole, in call order', async () => {
      const writers = 200
      await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          suite.storage.write({
            values: [
              put(`c/${i}/a`, [i & 0xff]),
              put(`c/${i}/b`, [1, i & 0xff]),
              put('shared', [i & 0xff]),
            ],
            meta: [put(`c/${i}`, [2, i & 0xff])],
          }),
        ),
      )
      const values = new Map(await dump(suite.storage, 'values'))
      const meta = new Map(await dump(suite.storage, 'meta'))
      for (let i = 0; i < writers; i++) {
        expect(values.get(`c/${i}/a`)).toEqual([i & 0xff])
        expect(values.get(`c/${i}/b`)).toEqual([1, i & 0xff])
        expect(meta.get(`c/${i}`)).toEqual([2, i & 0xff])
      }
      expect(values.get('shared')).toEqual([(writers - 1) & 0xff])
      expect(values.size).toBe(2 * writers + 1)
    })

    it('fails an invalid batch alone among concurrent writes', async () => {
      const batches = Array.from(
        { length: 40 },
        (_, i): WriteBatch =>
          i % 10 === 3
            ? { values: [put(`ok-looking/${i}`, [1]), put('\ud800', [1])] }
            : { values: [put(`w/${i}`, [i])] },
      )
      const results = await Promise.allSettled(batches.map((batch) => suite.storage.write(batch)))
      results.forEach((result, i) => {
        if (i % 10 === 3) {
          expect(result.status).toBe('rejected')
          expectMendsyncError((result as PromiseRejectedResult).reason, 'INVALID_ARGUMENT')
        } else {
          expect(result.status).toBe('fulfilled')
        }
      })
      const keys = (await dump(suite.storage, 'values')).map(([key]) => key)
      expect(keys.length).toBe(36)
      expect(keys.every((key) => key.startsWith('w/'))).toBe(true)
    })

    it('never shows a reader half a batch', async () => {
      let writing = true
      const writer = (async () => {
        const pending: Promise<void>[] = []
        for (let i = 1; i <= 60; i++) {
          pending.push(
            suite.storage.write({
              values: [put('pair/x', [i]), put('pair/y', [i]), put(`pair/z${i % 3}`, [i])],
            }),
          )
          if (i % 4 === 0) await Promise.all(pending.splice(0))
        }
        await Promise.all(pending)
        writing = false
      })()
      let reads = 0
      while (writing || reads < 5) {
        const [x, y] = await suite.storage.get('values', ['pair/x', 'pair/y'])
        expect(toArray(x)).toEqual(toArray(y))
        const page = await suite.storage.scan({
          namespace: 'values',
          prefix: 'pair/',
          lt: 'pair/z',
        })
        const [px, py] = page.entries
        expect(toArray(px?.value)).toEqual(toArray(py?.value))
        reads++
        // Let adapters that commit from a later task (group commit) make progress.
        await new Promise((resolve) => setTimeout(resolve, 0))
      }
      await writer
      expect((await suite.storage.get('values', ['pair/x'])).map(toArray)).toEqual([[60]])
    })
  })
}
