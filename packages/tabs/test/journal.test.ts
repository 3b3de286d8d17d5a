// The write journal on its own: which batch gets a write's record, and when records expire.
import { cartAdd, emptyValue, encodeValue, joinValues } from '@mendsync/core'
import { MemoryStorage, MemoryStore } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'
import { JOURNAL_PREFIX, WriteJournal } from '../src/index.js'

async function records(storage: MemoryStorage): Promise<string[]> {
  const page = await storage.scan({ namespace: 'meta', prefix: JOURNAL_PREFIX })
  return page.entries.map((entry) => entry.key)
}

describe('WriteJournal', () => {
  it("records the write in the batch that adds its replica's dot, not in a join before it", async () => {
    const inner = new MemoryStorage()
    const journal = new WriteJournal(inner, { retentionMs: 60_000 })
    const mine = cartAdd(emptyValue(), { replica: 'me' }, 'apple', 1).state
    await journal.storage.write({ values: [{ key: 'cart', value: encodeValue(mine) }] })
    await journal.arm('w1', 'cart', 'me')
    // A remote join lands first (it holds the key lock before the write): no record.
    const remote = cartAdd(emptyValue(), { replica: 'peer' }, 'pear', 1).state
    const joined = joinValues(mine, remote)
    await journal.storage.write({ values: [{ key: 'cart', value: encodeValue(joined) }] })
    expect(await journal.has('w1')).toBe(false)
    // A batch of another key: no record either.
    await journal.storage.write({ values: [{ key: 'other', value: encodeValue(mine) }] })
    expect(await journal.has('w1')).toBe(false)
    // The write's own batch: one more dot of `me` on `cart`.
    const written = cartAdd(joined, { replica: 'me' }, 'apple', 1).state
    await journal.storage.write({ values: [{ key: 'cart', value: encodeValue(written) }] })
    expect(await journal.has('w1')).toBe(true)
    expect(await records(inner)).toEqual([`${JOURNAL_PREFIX}w1`])
    // Disarmed once recorded: a later write of the same replica records nothing more.
    const later = cartAdd(written, { replica: 'me' }, 'apple', 1).state
    await journal.storage.write({ values: [{ key: 'cart', value: encodeValue(later) }] })
    expect(await records(inner)).toEqual([`${JOURNAL_PREFIX}w1`])
  })

  it('expires records after the retention, also those an earlier leader left', async () => {
    const store = new MemoryStore()
    let now = 1_000_000
    const first = new WriteJournal(new MemoryStorage({ store }), {
      retentionMs: 1_000,
      now: () => now,
    })
    await first.arm('old', 'k', 'me')
    const state = cartAdd(emptyValue(), { replica: 'me' }, 'x', 1).state
    await first.storage.write({ values: [{ key: 'k', value: encodeValue(state) }] })
    expect(await first.has('old')).toBe(true)

    // The next leader (a new connection) finds it, and drops it once it is older than 1 s.
    const inner = new MemoryStorage({ store })
    const second = new WriteJournal(inner, { retentionMs: 1_000, now: () => now })
    await second.load()
    now += 500
    await second.storage.write({ values: [{ key: 'a', value: encodeValue(state) }] })
    expect(await second.has('old')).toBe(true)
    now += 600
    await second.storage.write({ values: [{ key: 'b', value: encodeValue(state) }] })
    expect(await second.has('old')).toBe(false)
    expect(await records(inner)).toEqual([])
  })
})
