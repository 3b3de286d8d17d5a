// The example's entry: one replica per browser profile, shared by its tabs (`@mendsync/tabs`),
// kept in IndexedDB. Add a relay with `createBrowserLibp2p` as apps/cart-demo does to sync
// between devices; the hooks stay the same.

import { ReplicaProvider } from '@mendsync/react'
import { openReplica } from '@mendsync/replica'
import { openIdbStorage } from '@mendsync/storage-idb'
import { openTabs } from '@mendsync/tabs'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app.tsx'

const SPACE = 'react-example'

// Opened once, outside React; the provider shows `loading` until it resolves. The page owns it
// and closes it when it goes away (a leader tab then hands the replica to another tab).
const tabs = openTabs({
  space: SPACE,
  openReplica: async (leader) =>
    await openReplica({
      space: SPACE,
      storage: leader.journal(await openIdbStorage({ space: SPACE })),
    }),
})
addEventListener('pagehide', () => {
  void tabs.then((opened) => opened.close())
})

const root = document.getElementById('root')
if (root === null) throw new Error('index.html has no #root')
createRoot(root).render(
  <StrictMode>
    <ReplicaProvider replica={tabs}>
      <App />
    </ReplicaProvider>
  </StrictMode>,
)
