import { emptyValue, encodeValue, isMendsyncError, writeRegister } from '@mendsync/core'
import { MemoryStorage, MemoryStore, openReplica, type Replica } from '@mendsync/replica'
import type { KeyState, SpaceHandlers } from '@mendsync/replica/adapter'
import { createInProcessHub } from '@mendsync/replica/testing'
import { afterEach, describe, expect, it } from 'vitest'

const replicas: Replica[] = []
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((replica) => replica.close()))
})

async function open(store: MemoryStore, quota: { maxKeys?: number; maxBytes?: number }) {
  const replica = await openReplica({ space: 'q', storage: new MemoryStorage({ store }), quota })
  replicas.push(replica)
  return replica
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (error) {
    return isMendsyncError(error) ? error.code : String(error)
  }
}

/** A register state written by replica `writer`, as a peer would push it. */
function pushedState(key: string, writer: string, value: unknown): KeyState {
  const { state } = writeRegister(emptyValue(), { replica: writer }, value)
  return { key, state: encodeValue(state) }
}

describe('a replica with a quota', () => {
  it('refuses a new key past maxKeys with QUOTA_EXCEEDED and stores nothing of it', async () => {
    const replica = await open(new MemoryStore(), { maxKeys: 2 })
    await replica.put('a', 1)
    await replica.put('b', 2)
    expect(await code(replica.put('c', 3))).toBe('QUOTA_EXCEEDED')
    expect((await replica.get('c')).value).toBeUndefined()
    expect(replica.status().keys).toBe(2)
    // Changing and deleting keys it holds is still allowed.
    await replica.put('a', 10, (await replica.get('a')).context)
    await replica.delete('b')
    expect((await replica.get('a')).value).toBe(10)
    expect(await code(replica.put('c', 3))).toBe('QUOTA_EXCEEDED')
  })

  it('refuses a change that grows the space past maxBytes, accepts one that shrinks it', async () => {
    const replica = await open(new MemoryStore(), { maxBytes: 420 })
    await replica.put('a', 'x'.repeat(200))
    expect(await code(replica.put('b', 'y'.repeat(300)))).toBe('QUOTA_EXCEEDED')
    expect(await code(replica.put('a', 'x'.repeat(500)))).toBe('QUOTA_EXCEEDED')
    await replica.put('a', 'short', (await replica.get('a')).context)
    await replica.put('b', 'y'.repeat(300))
    expect((await replica.get('b')).value).toBe('y'.repeat(300))
  })

  it('counts what the storage already holds when it opens', async () => {
    const store = new MemoryStore()
    const first = await open(store, {})
    await first.put('a', 1)
    await first.put('b', 2)
    await first.close()
    replicas.splice(replicas.indexOf(first), 1)
    const reopened = await open(store, { maxKeys: 2 })
    expect(await code(reopened.put('c', 3))).toBe('QUOTA_EXCEEDED')
    await reopened.put('a', 3, (await reopened.get('a')).context)
    expect((await reopened.get('a')).value).toBe(3)
  })

  it('gives a pusher QUOTA_EXCEEDED for a push past the quota, and stores none of its keys', async () => {
    const hub = createInProcessHub()
    const full = await openReplica({
      space: 'q',
      storage: new MemoryStorage({ store: new MemoryStore() }),
      network: hub.createNetwork(),
      quota: { maxKeys: 1 },
    })
    replicas.push(full)
    const pusher = hub.createNetwork()
    const refuse = async () => {
      throw new Error('the pusher serves nothing')
    }
    const handlers: SpaceHandlers = { pull: refuse, push: refuse, reconcile: refuse }
    const channel = await pusher.join('q', handlers)
    try {
      await channel.push(full.status().peerId as string, [pushedState('a', 'w1', 1)])
      expect(
        await code(
          channel.push(full.status().peerId as string, [
            pushedState('b', 'w1', 2),
            pushedState('c', 'w1', 3),
          ]),
        ),
      ).toBe('QUOTA_EXCEEDED')
      expect((await full.get('a')).value).toBe(1)
      expect((await full.get('b')).value).toBeUndefined()
      expect((await full.get('c')).value).toBeUndefined()
    } finally {
      await channel.leave()
      await pusher.close()
    }
  })

  it('rejects a limit that is not a non-negative integer with INVALID_ARGUMENT', async () => {
    expect(await code(open(new MemoryStore(), { maxKeys: -1 }))).toBe('INVALID_ARGUMENT')
    expect(await code(open(new MemoryStore(), { maxBytes: 1.5 }))).toBe('INVALID_ARGUMENT')
  })
})
