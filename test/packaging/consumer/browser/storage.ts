// The storage half of the browser example: one replica per profile, on IndexedDB, shared by the
// profile's tabs. It uses no network package, so it type-checks with no third-party library in
// the way: nothing here may need Node's types (it once did: a storage-file type imported
// node:sqlite).
import { openReplica } from '@mendsync/replica'
import type { Network } from '@mendsync/replica/adapter'
import type { FileStorageOptions } from '@mendsync/storage-file'
import { openIdbStorage } from '@mendsync/storage-idb'
import { openTabs, type Tabs } from '@mendsync/tabs'

/** The space of the example; an app's server side may share such option types with it. */
export const SHOP: Pick<FileStorageOptions, 'space'> = { space: 'shop' }

/** Opens the shop in this tab; `network` runs only in the tab that becomes the leader. */
export function openShop(network: () => Promise<Network>): Promise<Tabs> {
  return openTabs({
    space: SHOP.space,
    openReplica: async (leader) =>
      openReplica({
        space: SHOP.space,
        storage: leader.journal(await openIdbStorage({ space: SHOP.space })),
        network: await network(),
      }),
  })
}
