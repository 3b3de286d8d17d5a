import { type LogEntry, makeLogger } from '@mendsync/core/toolbox'
import { MemoryStorage, openReplica } from '@mendsync/replica'
import { createInProcessHub } from '@mendsync/replica/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { Cluster, knows } from './support.js'

/** A logger writing every entry of every level to an array, and a wait for a matching entry. */
function recordingLogger(namespace = 'mendsync:replica') {
  const entries: LogEntry[] = []
  const waiters: { match: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }[] = []
  const logger = makeLogger(namespace, {
    sink: (entry) => {
      entries.push(entry)
      for (const waiter of [...waiters]) {
        if (!waiter.match(entry)) continue
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(entry)
      }
    },
  })
  /** Resolves with the first entry (logged already or later) that `match` accepts. */
  const next = (match: (entry: LogEntry) => boolean): Promise<LogEntry> => {
    const logged = entries.find(match)
    if (logged !== undefined) return Promise.resolve(logged)
    return new Promise((resolve) => waiters.push({ match, resolve }))
  }
  return { logger, entries, next }
}

/** The message of the error an entry's context carries. */
function errorMessage(entry: LogEntry): string | undefined {
  const error = entry.context?.error
  return error instanceof Error ? error.message : undefined
}

let cluster: Cluster | undefined
afterEach(async () => {
  await cluster?.close()
  cluster = undefined
})

describe('logger injection', () => {
  it('logs a throwing subscriber at error through the injected logger; the write holds and other listeners run', async () => {
    const { logger, next } = recordingLogger()
    const replica = await openReplica({ space: 's', storage: new MemoryStorage(), logger })
    const seen: string[] = []
    replica.subscribe('k', () => {
      throw new Error('app bug')
    })
    replica.subscribe('k', (change) => seen.push(change.key))
    await replica.put('k', 'v')
    expect(seen).toEqual(['k'])
    expect((await replica.get('k')).value).toBe('v')
    const entry = await next((e) => e.message === 'a listener threw')
    expect(entry.level).toBe('error')
    expect(entry.namespace).toBe('mendsync:replica:subscriptions')
    expect(errorMessage(entry)).toBe('app bug')
    await replica.close()
  })

  it('logs a failed background task (a gossip publish the network refuses) under mendsync:replica:tasks', async () => {
    const { logger, next } = recordingLogger()
    cluster = new Cluster()
    const { replica } = await cluster.add({ logger, faults: { dropPublish: true } })
    // Opening online gossips at once; that publish fails in the background.
    const entry = await next((e) => e.message === 'gossip publish failed')
    expect(entry.namespace).toBe('mendsync:replica:tasks')
    expect(entry.level).toBe('warn')
    expect(errorMessage(entry)).toBe('publish dropped by the test')
    expect(replica.metrics().gossip_sent).toBeGreaterThanOrEqual(1)
  })

  it('logs a failed reconciliation under mendsync:replica:anti-entropy and still counts it', async () => {
    const { logger, next } = recordingLogger()
    cluster = new Cluster()
    // Pull-only: the write below reaches b only by reconciling, which the fault makes fail.
    const a = await cluster.add({ logger, handoff: false })
    const b = await cluster.add()
    await knows(a, b)
    a.faults.dropReconcile = true
    await a.replica.put('k', 'from a')
    await a.replica.sync()
    expect(a.replica.metrics().reconcile_failures).toBeGreaterThanOrEqual(1)
    const entry = await next((e) => e.message === 'a reconciliation failed')
    expect(entry.namespace).toBe('mendsync:replica:anti-entropy')
    expect(entry.context?.peer).toBe(b.peerId)
    expect(errorMessage(entry)).toBe('reconcile dropped by the test')
  })

  it('logs a handoff push that failed under mendsync:replica:handoff with the peer', async () => {
    const { logger, next } = recordingLogger()
    cluster = new Cluster()
    const a = await cluster.add({ logger, retryAttempts: 1 })
    const b = await cluster.add()
    await knows(a, b)
    await knows(b, a)
    a.faults.dropPush = true
    await a.replica.put('k', 'from a')
    const entry = await next((e) => e.message === 'handoff gave up until the next trigger')
    expect(entry.namespace).toBe('mendsync:replica:handoff')
    expect(entry.context?.peer).toBe(b.peerId)
    expect(errorMessage(entry)).toBe('push dropped by the test')
  })

  it('logs through the in-process network a throwing channel listener, with the peer and space in the namespace', async () => {
    const { logger, next } = recordingLogger('mendsync:in-process')
    const hub = createInProcessHub({ logger })
    const a = hub.createNetwork({ peerId: 'a' })
    const b = hub.createNetwork({ peerId: 'b' })
    const channelA = await a.join('space', {
      pull: async () => ({ mode: 'state', states: [] }),
      push: async () => {},
      reconcile: async () => {
        throw new Error('unused')
      },
    })
    const connected: string[] = []
    channelA.on('peer:connect', () => {
      throw new Error('listener bug')
    })
    channelA.on('peer:connect', ({ peer }) => connected.push(peer))
    await b.join('space', {
      pull: async () => ({ mode: 'state', states: [] }),
      push: async () => {},
      reconcile: async () => {
        throw new Error('unused')
      },
    })
    expect(connected).toEqual(['b'])
    const entry = await next((e) => e.message === 'a listener threw')
    expect(entry.namespace).toBe('mendsync:in-process:a:space')
    expect(errorMessage(entry)).toBe('listener bug')
    await a.close()
    await b.close()
  })
})
