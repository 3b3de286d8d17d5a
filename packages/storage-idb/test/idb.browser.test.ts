// The IndexedDB adapter in real Chromium (vitest browser mode), plus what only a real browser
// has: another agent (a worker, standing in for another tab) on the same database.
import { runStorageAdapterTests } from '@mendsync/replica/testing'
import { openDB } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { deleteIdbStorage, IDB_SCHEMA_VERSION, openIdbStorage } from '../src/index.js'
import { defineIdbStorageTests, expectCode } from './cases.js'
import { idbSetup, uniqueDbName } from './harness.js'
import type { TabCommand, TabReply } from './tab.worker.js'

runStorageAdapterTests(idbSetup(), { name: 'Storage contract: IndexedDB in Chromium' })

describe('IndexedDB storage in Chromium', () => {
  defineIdbStorageTests()
})

/** Another tab: a module worker holding its own storage on the database. */
class OtherTab {
  readonly #worker = new Worker(new URL('./tab.worker.ts', import.meta.url), { type: 'module' })

  send(command: TabCommand): Promise<TabReply> {
    return new Promise((resolve, reject) => {
      this.#worker.onmessage = (event: MessageEvent<TabReply>) => resolve(event.data)
      this.#worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`))
      this.#worker.postMessage(command)
    })
  }

  terminate() {
    this.#worker.terminate()
  }
}

describe('two tabs on one database (Chromium)', () => {
  const tabs: OtherTab[] = []
  const names: string[] = []
  afterEach(async () => {
    for (const tab of tabs.splice(0)) tab.terminate()
    for (const dbName of names.splice(0)) await deleteIdbStorage({ space: 'tab', dbName })
  })

  it('loses no write when both write concurrently', async () => {
    const dbName = uniqueDbName('tabs')
    names.push(dbName)
    const tab = new OtherTab()
    tabs.push(tab)
    expect(await tab.send({ op: 'open', dbName })).toEqual({ ok: true })
    const here = await openIdbStorage({ space: 'tab', dbName })
    const encoder = new TextEncoder()
    const mine = Array.from({ length: 200 }, (_, i) =>
      here.write({
        values: [{ key: `here${i}`, value: encoder.encode(`here${i}`) }],
        meta: [{ key: 'last', value: encoder.encode(`here${i}`) }],
      }),
    )
    const theirs = tab.send({ op: 'write', prefix: 'there', count: 200 })
    await Promise.all(mine)
    expect(await theirs).toEqual({ ok: true })
    const keys: string[] = []
    let after: string | undefined
    for (;;) {
      const page = await here.scan({ namespace: 'values', after, limit: 64 })
      keys.push(...page.entries.map((entry) => entry.key))
      if (page.cursor === undefined) break
      after = page.cursor
    }
    expect(keys).toHaveLength(400)
    expect(await tab.send({ op: 'get', key: 'here199' })).toEqual({ ok: true, value: 'here199' })
    expect(await tab.send({ op: 'close' })).toEqual({ ok: true })
    await here.close()
  })

  it("an upgrade in one tab closes the other tab's storage instead of blocking", async () => {
    const dbName = uniqueDbName('tabs')
    names.push(dbName)
    const tab = new OtherTab()
    tabs.push(tab)
    expect(await tab.send({ op: 'open', dbName })).toEqual({ ok: true })
    const writing = tab.send({ op: 'write', prefix: 'old', count: 50 })
    const started = performance.now()
    const newer = await openDB(dbName, IDB_SCHEMA_VERSION + 1)
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(await writing).toEqual({ ok: true })
    expect(await newer.count('values')).toBe(50)
    const after = await tab.send({ op: 'get', key: 'old0' })
    expect(after).toMatchObject({ ok: false, code: 'STORAGE_CLOSED' })
    expect(await tab.send({ op: 'close' })).toEqual({ ok: true, forced: 'upgrade' })
    newer.close()
    await expectCode(openIdbStorage({ space: 'tab', dbName }), 'STORAGE_FAILURE')
  })
})
