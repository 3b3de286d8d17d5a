// The browser example a new user would write, built with Vite from the installed tarballs: the
// shop of storage.ts syncing through a relay named by `?relay=`; the tab closes what it opened.
import {
  createBrowserLibp2p,
  createLibp2pNetwork,
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  type PrivateKey,
} from '@mendsync/libp2p'
import { openShop } from './storage.ts'

const KEY_STORAGE = 'mendsync-example:key'

async function identity(): Promise<PrivateKey> {
  const saved = localStorage.getItem(KEY_STORAGE)
  if (saved) return identityFromBytes(Uint8Array.from(atob(saved), (c) => c.charCodeAt(0)))
  const key = await generateIdentity()
  localStorage.setItem(KEY_STORAGE, btoa(String.fromCharCode(...identityToBytes(key))))
  return key
}

const relay = new URLSearchParams(location.search).get('relay')
const tabs = await openShop(async () =>
  createLibp2pNetwork(
    await createBrowserLibp2p({ privateKey: await identity(), bootstrap: relay ? [relay] : [] }),
    { stopNodeOnClose: true },
  ),
)

async function render(): Promise<void> {
  const view = await tabs.cart('cart/alice').view()
  const list = document.getElementById('cart')
  if (list) list.textContent = view.lines.map((line) => `${line.sku} x${line.qty}`).join(', ')
}
tabs.subscribe({ prefix: 'cart/' }, () => void render())
await tabs.cart('cart/alice').add('apple', 1)
addEventListener('pagehide', () => void tabs.close())
