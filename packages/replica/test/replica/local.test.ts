import { isMendsyncError } from '@mendsync/core'
import { MemoryStorage, MemoryStore, openReplica } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'

async function offline(store = new MemoryStore(), replicaId?: string) {
  return openReplica({
    space: 'local',
    storage: new MemoryStorage({ store }),
    ...(replicaId ? { replicaId } : {}),
  })
}

describe('a replica without a network', () => {
  it('reads its own writes; a write with the read context supersedes, a blind write adds a sibling', async () => {
    const replica = await offline()
    expect((await replica.get('k')).kind).toBe('absent')
    await replica.put('k', 'one')
    const first = await replica.get('k')
    expect(first).toMatchObject({ kind: 'register', value: 'one', conflict: false })
    await replica.put('k', 'two', first.context)
    expect((await replica.get('k')).value).toBe('two')
    await replica.put('k', 'blind')
    const both = await replica.get('k')
    expect(both.conflict).toBe(true)
    expect(both.siblings.map((s) => s.value).sort()).toEqual(['blind', 'two'])
    await replica.put('k', 'resolved', both.context)
    expect((await replica.get('k')).siblings.map((s) => s.value)).toEqual(['resolved'])
    await replica.close()
  })

  it('keeps a cart: add, set quantity, meta, remove', async () => {
    const replica = await offline()
    const cart = replica.cart('cart')
    await cart.add('apple', 2, { name: 'Apple' })
    await cart.add('apple', 1)
    await cart.add('pear')
    await cart.setQty('pear', 5)
    await cart.setMeta('pear', { name: 'Pear' })
    await cart.remove('apple')
    const view = await cart.view()
    expect(view.kind).toBe('cart')
    expect(view.lines.map((l) => [l.sku, l.qty, l.meta])).toEqual([['pear', 5, { name: 'Pear' }]])
    await replica.close()
  })

  it('deletes a key, and a delete with a stale context keeps the write it had not seen', async () => {
    const replica = await offline()
    await replica.put('k', 'v1')
    const stale = (await replica.get('k')).context
    await replica.put('k', 'v2', stale)
    await replica.delete('k', stale)
    expect((await replica.get('k')).value).toBe('v2')
    await replica.delete('k')
    expect((await replica.get('k')).kind).toBe('absent')
    await replica.close()
  })

  it('recovers identity, values, version vector and summary after a reopen', async () => {
    const store = new MemoryStore()
    const first = await offline(store)
    await first.put('a', 1)
    await first.cart('c').add('x', 3)
    const before = first.status()
    await first.close()
    const second = await offline(store)
    expect(second.replicaId).toBe(before.replicaId)
    expect(second.status().versionVector).toEqual(before.versionVector)
    expect(second.status().summary).toEqual(before.summary)
    expect(second.status().keys).toBe(2)
    expect((await second.get('a')).value).toBe(1)
    await second.put('a', 2, (await second.get('a')).context)
    expect(second.status().versionVector.get(second.replicaId)).toBe(
      (before.versionVector.get(before.replicaId) ?? 0) + 1,
    )
    await second.close()
  })

  it('refuses a replica id that contradicts the persisted one', async () => {
    const store = new MemoryStore()
    const first = await offline(store, 'alpha')
    await first.close()
    await expect(offline(store, 'beta')).rejects.toSatisfy((e) =>
      isMendsyncError(e, 'INVALID_ARGUMENT'),
    )
  })

  it('notifies key and prefix subscribers of local writes, once each', async () => {
    const replica = await offline()
    const seen: string[] = []
    replica.subscribe('user/1', (c) => seen.push(`key:${c.key}:${c.origin}`))
    const stop = replica.subscribe({ prefix: 'user/' }, (c) => seen.push(`prefix:${c.key}`))
    await replica.put('user/1', 'a')
    await replica.put('other', 'b')
    stop()
    await replica.put('user/2', 'c')
    expect(seen).toEqual(['key:user/1:local', 'prefix:user/1'])
    await replica.close()
  })

  it('rejects bad input with typed errors and stores nothing', async () => {
    const replica = await offline()
    await expect(replica.put('', 1)).rejects.toSatisfy((e) =>
      isMendsyncError(e, 'INVALID_ARGUMENT'),
    )
    await expect(replica.put('k', () => 1)).rejects.toSatisfy((e) =>
      isMendsyncError(e, 'INVALID_ARGUMENT'),
    )
    await expect(replica.cart('c').add('sku', -1)).rejects.toSatisfy((e) =>
      isMendsyncError(e, 'INVALID_ARGUMENT'),
    )
    expect(replica.status().keys).toBe(0)
    await expect(
      openReplica({ space: 's', storage: new MemoryStorage(), timeoutMs: -1 }),
    ).rejects.toSatisfy((e) => isMendsyncError(e, 'INVALID_ARGUMENT'))
    await replica.close()
    await expect(replica.get('k')).rejects.toSatisfy((e) => isMendsyncError(e, 'CLOSED'))
  })
})
