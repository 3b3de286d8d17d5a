// The tabs protocol in Node: real BroadcastChannels, an in-memory Web Locks stand-in (so a test
// can crash a tab: its lock is released without a goodbye), and one shared in-memory database
// that each leader reopens, as tabs of a profile share IndexedDB.
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { type LogEntry, makeLogger } from '@mendsync/core/toolbox'
import { type Change, openReplica, type Storage } from '@mendsync/replica'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openTabs, type TabRole, type Tabs, type TabsOptions } from '../src/index.js'
import { channels, FakeDatabase, FakeLockManager } from './fakes.js'

interface Tab {
  readonly name: string
  readonly tabs: Tabs
  /** The tab dies: channel cut, lock released, database connection dropped; no goodbye. */
  crash(): void
}

interface TabOptions extends Partial<TabsOptions> {
  /** Route the replica's storage through the write journal. Default true. */
  readonly journal?: boolean
}

let profiles = 0

/** One browser profile: a lock manager, a database, a space; `open` opens a tab in it. */
class Profile {
  readonly locks = new FakeLockManager()
  readonly db = new FakeDatabase()
  readonly space = `space-${++profiles}-${Math.random().toString(36).slice(2)}`
  readonly opened: Tab[] = []

  async open(name: string, options: TabOptions = {}): Promise<Tab> {
    const channel = channels()
    const storages: (Storage & { kill(): void })[] = []
    const { journal = true, ...rest } = options
    const tabs = await openTabs({
      space: this.space,
      tabId: name,
      locks: this.locks.view(name),
      createChannel: channel.create,
      requestTimeoutMs: 5_000,
      openReplica: async (leader) => {
        const storage = this.db.open()
        storages.push(storage)
        return await openReplica({
          space: this.space,
          storage: journal ? leader.journal(storage) : storage,
        })
      },
      ...rest,
    })
    const tab: Tab = {
      name,
      tabs,
      crash: () => {
        channel.closeAll()
        this.locks.crash(name)
        for (const storage of storages) storage.kill()
      },
    }
    this.opened.push(tab)
    return tab
  }

  async closeAll(): Promise<void> {
    for (const tab of this.opened.splice(0).reverse()) await tab.tabs.close()
  }
}

function nextRole(tabs: Tabs, role: TabRole): Promise<void> {
  return new Promise((resolve) => {
    if (tabs.role === role) resolve()
    const off = tabs.onRoleChange((now) => {
      if (now === role) {
        off()
        resolve()
      }
    })
  })
}

function nextLeader(tabs: Tabs, leader: string): Promise<void> {
  return new Promise((resolve) => {
    if (tabs.leaderTabId === leader) resolve()
    const off = tabs.onLeaderChange((now) => {
      if (now === leader) {
        off()
        resolve()
      }
    })
  })
}

function nextChange(tabs: Tabs, key: string): Promise<Change> {
  return new Promise((resolve) => {
    const off = tabs.subscribe(key, (change) => {
      off()
      resolve(change)
    })
  })
}

async function quantity(tabs: Tabs, key: string, sku: string): Promise<number | undefined> {
  const view = await tabs.cart(key).view({ repair: 'none' })
  return view.lines.find((line) => line.sku === sku)?.qty
}

const profilesToClose: Profile[] = []
function profile(): Profile {
  const created = new Profile()
  profilesToClose.push(created)
  return created
}

afterEach(async () => {
  for (const open of profilesToClose.splice(0)) await open.closeAll()
})

describe('election', () => {
  it('makes the first tab the leader and later tabs followers that know it', async () => {
    const p = profile()
    const a = await p.open('a')
    expect(a.tabs.role).toBe('leader')
    expect(a.tabs.replica).toBeDefined()
    expect(a.tabs.leaderTabId).toBe('a')
    const b = await p.open('b')
    expect(b.tabs.role).toBe('follower')
    expect(b.tabs.replica).toBeUndefined()
    await nextLeader(b.tabs, 'a')
    expect(p.locks.holder(`mendsync-leader:${p.space}`)).toBe('a')
  })

  it('fails openTabs when the first leader cannot open its replica, and frees the lock', async () => {
    const p = profile()
    await expect(
      p.open('a', {
        openReplica: async () => {
          throw new MendsyncError('STORAGE_BLOCKED', 'blocked for the test')
        },
      }),
    ).rejects.toMatchObject({ code: 'STORAGE_BLOCKED' })
    const b = await p.open('b')
    expect(b.tabs.role).toBe('leader')
  })

  it('retries leadership after a failed open following a handover, reporting the error', async () => {
    const p = profile()
    const a = await p.open('a')
    const errors: unknown[] = []
    let attempts = 0
    const b = await p.open('b', {
      retryDelayMs: 10,
      onError: (error) => errors.push(error),
      openReplica: async (leader) => {
        attempts += 1
        if (attempts === 1) throw new MendsyncError('STORAGE_FAILURE', 'first open fails')
        return await openReplica({ space: p.space, storage: leader.journal(p.db.open()) })
      },
    })
    const leading = nextRole(b.tabs, 'leader')
    await a.tabs.close()
    await leading
    expect(attempts).toBe(2)
    expect(errors).toHaveLength(1)
    expect(isMendsyncError(errors[0], 'STORAGE_FAILURE')).toBe(true)
  })
})

describe('calls from followers', () => {
  it("applies a follower's writes in the leader and fires every tab's subscribers", async () => {
    const p = profile()
    const a = await p.open('a')
    const b = await p.open('b')
    const c = await p.open('c')
    const seen = [a, b, c].map((tab) => nextChange(tab.tabs, 'cart/1'))
    await b.tabs.cart('cart/1').add('apple', 2, { name: 'Apple' })
    // How fast is measured in Chromium by `pnpm bench:tabs` (tabs.change_latency), not here.
    const changes = await Promise.all(seen)
    for (const change of changes) {
      expect(change.key).toBe('cart/1')
      expect(change.origin).toBe('local')
      // An add with meta is two events of the leader's replica: the addition and the meta.
      expect(change.state.context.versionVector.get(a.tabs.replica!.replicaId)).toBe(2)
    }
    for (const tab of [a, b, c]) expect(await quantity(tab.tabs, 'cart/1', 'apple')).toBe(2)
    const view = await c.tabs.get('cart/1')
    expect(view.lines).toEqual([
      { sku: 'apple', qty: 2, meta: { name: 'Apple' }, metaSiblings: [{ name: 'Apple' }] },
    ])
  })

  it('forwards registers with their read context, deletes, and prefix subscriptions', async () => {
    const p = profile()
    await p.open('a')
    const b = await p.open('b')
    const keys: string[] = []
    b.tabs.subscribe({ prefix: 'doc/' }, (change) => keys.push(change.key))
    await b.tabs.put('doc/1', { title: 'one' })
    const first = await b.tabs.get('doc/1')
    expect(first.value).toEqual({ title: 'one' })
    await b.tabs.put('doc/1', { title: 'two' }, first.context)
    const second = await b.tabs.get('doc/1')
    expect(second.siblings.map((s) => s.value)).toEqual([{ title: 'two' }])
    await b.tabs.delete('doc/1', second.context)
    expect((await b.tabs.get('doc/1')).kind).toBe('absent')
    await b.tabs.put('other', 1)
    expect(keys).toEqual(['doc/1', 'doc/1', 'doc/1'])
  })

  it('re-creates the leader errors as MendsyncErrors with their code', async () => {
    const p = profile()
    await p.open('a', { commands: { echo: (_replica, value) => value } })
    const b = await p.open('b')
    const error = await b.tabs.put('', 1).catch((e: unknown) => e)
    expect(isMendsyncError(error, 'INVALID_ARGUMENT')).toBe(true)
    await expect(b.tabs.cart('c').setMeta('nope', {})).rejects.toMatchObject({
      name: 'MendsyncError',
      code: 'INVALID_ARGUMENT',
    })
    await expect(b.tabs.call('missing')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await b.tabs.call('echo', { deep: [1, 2] })).toEqual({ deep: [1, 2] })
  })

  it("gives followers the leader's status, metrics and metric events", async () => {
    const p = profile()
    const a = await p.open('a')
    const b = await p.open('b')
    const events: string[] = []
    b.tabs.onMetric((event) => events.push(event.name))
    const writesCounted = new Promise<void>((resolve) => {
      b.tabs.onMetric((event) => {
        if (event.name === 'writes_total') resolve()
      })
    })
    await b.tabs.cart('k').add('x')
    const status = await b.tabs.status()
    expect(status.replicaId).toBe(a.tabs.replica!.replicaId)
    expect(status.keys).toBe(1)
    expect(status.versionVector).toEqual(new Map([[status.replicaId, 1]]))
    expect((await b.tabs.metrics()).writes_total).toBe(1)
    await b.tabs.settled()
    await b.tabs.sync()
    await writesCounted
    expect(events).toContain('writes_total')
  })

  it('fails a call with TIMEOUT once requestTimeoutMs passes without a leader, not before', async () => {
    const p = profile()
    // Something else holds the leader lock and never answers (a tab of an older version, say).
    let release = () => {}
    void p.locks
      .view('other')
      .request(
        `mendsync-leader:${p.space}`,
        { mode: 'exclusive' },
        () => new Promise<void>((resolve) => (release = resolve)),
      )
    const b = await p.open('b', { requestTimeoutMs: 150 })
    expect(b.tabs.role).toBe('follower')
    // The call's timer runs on a fake clock: the test moves time, the machine's speed does not.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      let outcome: unknown
      const call = b.tabs.get('k').catch((error: unknown) => {
        outcome = error
      })
      await vi.advanceTimersByTimeAsync(149)
      expect(outcome).toBeUndefined()
      await vi.advanceTimersByTimeAsync(1)
      await call
      expect(outcome).toMatchObject({ code: 'TIMEOUT' })
    } finally {
      vi.useRealTimers()
    }
    const leading = nextRole(b.tabs, 'leader')
    release()
    await leading
    expect((await b.tabs.get('k')).kind).toBe('absent')
  })

  it('fails pending and later calls with CLOSED after close', async () => {
    const p = profile()
    let release = () => {}
    void p.locks
      .view('other')
      .request(
        `mendsync-leader:${p.space}`,
        { mode: 'exclusive' },
        () => new Promise<void>((resolve) => (release = resolve)),
      )
    const b = await p.open('b')
    const pending = b.tabs.cart('k').add('x')
    await b.tabs.close()
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(b.tabs.get('k')).rejects.toMatchObject({ code: 'CLOSED' })
    release()
  })
})

describe('listeners', () => {
  function recordingLogger() {
    const entries: LogEntry[] = []
    return {
      entries,
      logger: makeLogger('mendsync:tabs', { sink: (entry) => entries.push(entry) }),
    }
  }
  const thrown = (entries: LogEntry[]) =>
    entries
      .filter((entry) => entry.level === 'error')
      .map((entry) => [entry.namespace, (entry.context?.error as Error | undefined)?.message])

  it('logs a subscriber that throws and still calls the others, in the leader and a follower', async () => {
    const p = profile()
    const { entries, logger } = recordingLogger()
    const a = await p.open('a', { logger })
    const b = await p.open('b', { logger })
    for (const tab of [a, b]) {
      tab.tabs.subscribe('k', () => {
        throw new Error(`broken in ${tab.name}`)
      })
    }
    const seen = [a, b].map((tab) => nextChange(tab.tabs, 'k'))
    await b.tabs.put('k', 1)
    expect((await Promise.all(seen)).map((change) => change.key)).toEqual(['k', 'k'])
    expect(thrown(entries).sort()).toEqual([
      ['mendsync:tabs:fan-out', 'broken in a'],
      ['mendsync:tabs:fan-out', 'broken in b'],
    ])
  })

  it('logs a role listener that throws and still takes over as the leader', async () => {
    const p = profile()
    const { entries, logger } = recordingLogger()
    const a = await p.open('a')
    const b = await p.open('b', { logger })
    b.tabs.onRoleChange(() => {
      throw new Error('broken role listener')
    })
    const leading = nextRole(b.tabs, 'leader')
    await a.tabs.close()
    await leading
    expect(b.tabs.replica).toBeDefined()
    expect(await b.tabs.put('k', 1)).toBeUndefined()
    expect(thrown(entries)).toEqual([['mendsync:tabs', 'broken role listener']])
  })
})

describe('handover', () => {
  // The handover time is measured in Chromium by `pnpm bench:tabs` (tabs.handover_after_close).
  it('hands over on close: the next tab opens the replica with its data', async () => {
    const p = profile()
    const a = await p.open('a')
    const b = await p.open('b')
    const c = await p.open('c')
    await c.tabs.cart('cart').add('apple', 3)
    const replicaId = a.tabs.replica!.replicaId
    const bLeads = nextRole(b.tabs, 'leader')
    const cSeesB = nextLeader(c.tabs, 'b')
    await a.tabs.close()
    await Promise.all([bLeads, cSeesB])
    expect(b.tabs.replica!.replicaId).toBe(replicaId)
    expect(await quantity(c.tabs, 'cart', 'apple')).toBe(3)
    await c.tabs.cart('cart').add('apple', 1)
    expect(await quantity(b.tabs, 'cart', 'apple')).toBe(4)
  })

  it('resends calls made while no tab leads once the next leader announces itself', async () => {
    const p = profile()
    const a = await p.open('a')
    const b = await p.open('b')
    const c = await p.open('c')
    await nextLeader(c.tabs, 'a')
    a.crash()
    // c calls before b has taken over (b takes over on a later turn of the event loop).
    const writes = [c.tabs.cart('cart').add('pear'), c.tabs.cart('cart').add('plum', 2)]
    await Promise.all(writes)
    expect(b.tabs.role).toBe('leader')
    expect(await quantity(b.tabs, 'cart', 'pear')).toBe(1)
    expect(await quantity(b.tabs, 'cart', 'plum')).toBe(2)
  })

  it('applies a write once when the leader dies after persisting it but before answering', async () => {
    const p = profile()
    const a = await p.open('a')
    const b = await p.open('b')
    const c = await p.open('c')
    await nextLeader(c.tabs, 'a')
    let crashed = false
    p.db.afterWrite = (batch) => {
      if (!crashed && batch.values?.some((mutation) => mutation.key === 'cart')) {
        crashed = true
        a.crash()
      }
    }
    await c.tabs.cart('cart').add('apple', 1)
    expect(crashed).toBe(true)
    expect(b.tabs.role).toBe('leader')
    expect(await quantity(c.tabs, 'cart', 'apple')).toBe(1)
  })

  it('without the journal, the same retry applies the write a second time (why it exists)', async () => {
    const p = profile()
    const a = await p.open('a', { journal: false })
    const b = await p.open('b', { journal: false })
    const c = await p.open('c', { journal: false })
    await nextLeader(c.tabs, 'a')
    let crashed = false
    p.db.afterWrite = (batch) => {
      if (!crashed && batch.values?.some((mutation) => mutation.key === 'cart')) {
        crashed = true
        a.crash()
      }
    }
    await c.tabs.cart('cart').add('apple', 1)
    expect(b.tabs.role).toBe('leader')
    expect(await quantity(c.tabs, 'cart', 'apple')).toBe(2)
  })

  it('loses and doubles no write from three tabs across two leader crashes', async () => {
    for (const crashAfter of [1, 4, 9]) {
      const p = profile()
      const tabs = [await p.open('a'), await p.open('b'), await p.open('c'), await p.open('d')]
      for (const tab of tabs.slice(1)) await nextLeader(tab.tabs, 'a')
      let batches = 0
      let crashes = 0
      p.db.afterWrite = (batch) => {
        if (!batch.values?.some((mutation) => mutation.key === 'cart')) return
        batches += 1
        if (crashes < 2 && batches % crashAfter === 0) {
          const leader = tabs.find((tab) => tab.tabs.role === 'leader' && tab.tabs.replica)
          if (leader !== undefined && leader.name !== 'd') {
            crashes += 1
            leader.crash()
          }
        }
      }
      // d never crashes in this test; b and c (and a) may. Every write comes from d and from
      // whichever tabs are still alive when it is made: count what each was acknowledged.
      const acknowledged = new Map<string, number>()
      const writers = tabs.map(async (tab) => {
        for (let i = 0; i < 6; i++) {
          try {
            await tab.tabs.cart('cart').add(tab.name, 1)
            acknowledged.set(tab.name, (acknowledged.get(tab.name) ?? 0) + 1)
          } catch {
            return // this tab crashed: its own calls die with it
          }
        }
      })
      await Promise.all(writers)
      expect(acknowledged.get('d')).toBe(6)
      expect(await quantity(tabs[3]!.tabs, 'cart', 'd')).toBe(6)
      const view = await tabs[3]!.tabs.cart('cart').view({ repair: 'none' })
      // Every acknowledged write is there once; a crashed tab's unacknowledged write may be there
      // or not (it died with it), but never twice.
      for (const tab of tabs) {
        const qty = view.lines.find((line) => line.sku === tab.name)?.qty ?? 0
        const acked = acknowledged.get(tab.name) ?? 0
        expect(qty, `${tab.name} after crash every ${crashAfter}`).toBeGreaterThanOrEqual(acked)
        expect(qty, `${tab.name} after crash every ${crashAfter}`).toBeLessThanOrEqual(acked + 1)
      }
      expect(crashes).toBeGreaterThan(0)
      p.db.afterWrite = undefined
    }
  })
})
