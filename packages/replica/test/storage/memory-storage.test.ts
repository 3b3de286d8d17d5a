import { MemoryStorage, MemoryStore } from '@mendsync/replica'
import type { Namespace } from '@mendsync/replica/adapter'
import { runStorageAdapterTests } from '@mendsync/replica/testing'
import { describe, expect, it } from 'vitest'

runStorageAdapterTests(
  async () => {
    const store = new MemoryStore()
    let armed: { namespace: Namespace; key: string } | undefined
    const onMutation = (namespace: Namespace, key: string) => {
      if (armed?.namespace === namespace && armed.key === key) {
        armed = undefined
        throw new Error('injected failure')
      }
    }
    let current = new MemoryStorage({ store, onMutation })
    return {
      storage: current,
      async reopen() {
        await current.close()
        current = new MemoryStorage({ store, onMutation })
        return current
      },
      async corrupt(namespace, key) {
        store.damage(namespace, key)
        return current
      },
      injectWriteFailure(namespace, key) {
        armed = { namespace, key }
      },
      async teardown() {
        await current.close()
      },
    }
  },
  { name: 'MemoryStorage' },
)

describe('MemoryStorage specifics', () => {
  it('starts on a new store by default and reopens an existing one', async () => {
    const first = new MemoryStorage()
    await first.write({ values: [{ key: 'k', value: new Uint8Array([1]) }] })
    await first.close()
    const again = new MemoryStorage({ store: first.store })
    expect(await again.get('values', ['k'])).toEqual([new Uint8Array([1])])
    expect(await new MemoryStorage().get('values', ['k'])).toEqual([undefined])
  })

  it('detects a damaged empty value (through its checksum)', async () => {
    const storage = new MemoryStorage()
    await storage.write({ meta: [{ key: 'e', value: new Uint8Array(0) }] })
    storage.store.damage('meta', 'e')
    await expect(storage.get('meta', ['e'])).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' })
  })

  it('keeps scans ordered while keys are added and erased between scans', async () => {
    const storage = new MemoryStorage()
    const model = new Set<string>()
    for (let round = 0; round < 30; round++) {
      const values = []
      for (let i = 0; i < 20; i++) {
        const key = String.fromCharCode(97 + ((round * 7 + i * 13) % 26)) + ((round * i) % 5)
        const erase = (round + i) % 4 === 0
        values.push({ key, value: erase ? null : new Uint8Array([i]) })
        if (erase) model.delete(key)
        else model.add(key)
      }
      await storage.write({ values })
      const page = await storage.scan({ namespace: 'values', limit: 10_000 })
      expect(page.entries.map((entry) => entry.key)).toEqual([...model].sort())
    }
  })
})
