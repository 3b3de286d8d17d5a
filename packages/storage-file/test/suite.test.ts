import type { Namespace } from '@mendsync/replica/adapter'
import { runStorageAdapterTests } from '@mendsync/replica/testing'
import { type FileStorage, openFileStorage } from '../src/index.js'
import { damageRecord, temporaryDirectory } from './harness.js'

runStorageAdapterTests(
  async () => {
    const { directory, remove } = temporaryDirectory()
    let armed: { namespace: Namespace; key: string } | undefined
    const onMutation = (namespace: Namespace, key: string) => {
      if (armed?.namespace === namespace && armed.key === key) {
        armed = undefined
        throw new Error('injected I/O failure')
      }
    }
    const open = () => openFileStorage({ directory, space: 'suite', onMutation })
    let current: FileStorage = await open()
    return {
      storage: current,
      async reopen() {
        await current.close()
        current = await open()
        return current
      },
      async corrupt(namespace, key) {
        await current.close()
        damageRecord(current.path, namespace, key)
        current = await open()
        return current
      },
      injectWriteFailure(namespace, key) {
        armed = { namespace, key }
      },
      async teardown() {
        await current.close()
        remove()
      },
    }
  },
  { name: 'FileStorage' },
)
