import { describe, expect, it } from 'vitest'
import { scanAll, scanPages } from '../../storage/scan-all.js'
import {
  MAX_KEY_LENGTH,
  MAX_SCAN_LIMIT,
  MAX_VALUE_BYTES,
  type Mutation,
} from '../../storage/types.js'
import type { StorageSuiteContext } from './context.js'
import { all, expectBytes, expectError, expectPage, prng, put, readU32, u32 } from './helpers.js'

/** Registers the storage contract tests of size: large values, the value limit, a large keyspace. */
export function describeSize(suite: StorageSuiteContext): void {
  describe('size', () => {
    it(
      'stores and scans 1 MB values',
      async () => {
        const rng = prng(1)
        const values = [0, 1, 2].map(() => rng.bytes(1024 * 1024))
        const meta = rng.bytes(1024 * 1024)
        await suite.storage.write({
          values: values.map((value, i) => ({ key: `big${i}`, value })),
          meta: [{ key: 'big', value: meta }],
        })
        for (let pass = 0; pass < 2; pass++) {
          const got = await suite.storage.get('values', ['big0', 'big1', 'big2'])
          for (const [i, value] of got.entries()) expectBytes(value, values[i]!)
          expectBytes((await suite.storage.get('meta', ['big']))[0], meta)
          const scanned = await all(suite.storage, { namespace: 'values' })
          expect(scanned.map((entry) => entry.key)).toEqual(['big0', 'big1', 'big2'])
          for (const [i, entry] of scanned.entries()) expectBytes(entry.value, values[i]!)
          await suite.reopen()
        }
      },
      suite.slowTimeoutMs,
    )

    it(
      `accepts keys of ${MAX_KEY_LENGTH} code units and values of ${MAX_VALUE_BYTES} bytes, and no more`,
      async () => {
        const longKey = `${'k'.repeat(MAX_KEY_LENGTH - 2)}\u{1f600}`
        const largest = new Uint8Array(MAX_VALUE_BYTES)
        largest[0] = 1
        largest[MAX_VALUE_BYTES - 1] = 2
        await suite.storage.write({ values: [{ key: longKey, value: largest }] })
        await expectError('INVALID_ARGUMENT', () =>
          suite.storage.write({ values: [put(`${longKey}x`, [1])] }),
        )
        const [read] = await suite.storage.get('values', [longKey])
        expectBytes(read, largest)
        expect(
          (await suite.storage.scan({ namespace: 'values', prefix: 'kkk' })).entries[0]?.key,
        ).toBe(longKey)
      },
      suite.slowTimeoutMs,
    )

    it(
      `writes ${suite.manyKeys} keys in batches, then scans them back in order and counts them`,
      async () => {
        const batchSize = 1000
        const keyOf = (i: number) => `item/${i.toString(36)}`
        // Write in a scrambled order (7919 is prime, so i -> i * 7919 mod n is a permutation
        // unless n is a multiple of it), several batches in flight at once.
        const order = (i: number) => (suite.manyKeys % 7919 === 0 ? i : (i * 7919) % suite.manyKeys)
        let next = 0
        const writer = async () => {
          while (next < suite.manyKeys) {
            const start = next
            next = Math.min(suite.manyKeys, start + batchSize)
            const values: Mutation[] = []
            for (let i = start; i < next; i++) {
              const n = order(i)
              values.push({ key: keyOf(n), value: u32(n) })
            }
            await suite.storage.write({ values })
          }
        }
        await Promise.all([writer(), writer(), writer(), writer()])
        await suite.storage.write({ meta: [{ key: 'count', value: u32(suite.manyKeys) }] })

        let count = 0
        let previous = ''
        const seen = new Uint8Array(suite.manyKeys)
        for await (const page of scanPages(suite.storage, {
          namespace: 'values',
          limit: MAX_SCAN_LIMIT,
        })) {
          expectPage(page, MAX_SCAN_LIMIT)
          for (const { key, value } of page.entries) {
            if (!(key > previous))
              expect.fail(`scan order: ${JSON.stringify(key)} after ${JSON.stringify(previous)}`)
            const n = readU32(value)
            if (key !== keyOf(n) || n >= suite.manyKeys || seen[n] === 1) {
              expect.fail(`unexpected record ${JSON.stringify(key)} -> ${n}`)
            }
            seen[n] = 1
            previous = key
            count++
          }
        }
        expect(count).toBe(suite.manyKeys)
        expect(readU32((await suite.storage.get('meta', ['count']))[0]!)).toBe(suite.manyKeys)

        const prefix = 'item/1'
        let prefixed = 0
        for await (const entry of scanAll(suite.storage, { namespace: 'values', prefix })) {
          expect(entry.key.startsWith(prefix)).toBe(true)
          prefixed++
        }
        let expectedPrefixed = 0
        for (let n = 0; n < suite.manyKeys; n++) if (keyOf(n).startsWith(prefix)) expectedPrefixed++
        expect(prefixed).toBe(expectedPrefixed)

        const sample = Array.from({ length: 500 }, (_, i) => (i * 104_729) % suite.manyKeys)
        const got = await suite.storage.get('values', sample.map(keyOf))
        expect(got.map((value) => (value === undefined ? -1 : readU32(value)))).toEqual(sample)
      },
      suite.slowTimeoutMs,
    )
  })
}
