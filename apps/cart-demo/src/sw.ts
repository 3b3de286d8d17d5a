// The demo's service worker, written by hand. On install it caches the built app (the list of
// files is prepended to this script at build time by vite.config.ts); it answers those files
// cache-first and page navigations with the cached index.html, so the app opens offline after
// its first visit. Everything else (e.g. /relay.json) goes to the network.

interface SwExtendableEvent extends Event {
  waitUntil(work: Promise<unknown>): void
}

interface SwFetchEvent extends SwExtendableEvent {
  readonly request: Request
  respondWith(response: Promise<Response> | Response): void
}

interface Precache {
  readonly version: string
  readonly files: readonly string[]
}

interface SwScope {
  readonly __MENDSYNC_PRECACHE__?: Precache
  readonly location: Location
  readonly clients: { claim(): Promise<void> }
  skipWaiting(): Promise<void>
  addEventListener(type: 'install' | 'activate', listener: (event: SwExtendableEvent) => void): void
  addEventListener(type: 'fetch', listener: (event: SwFetchEvent) => void): void
}

const scope = self as unknown as SwScope
const precache: Precache = scope.__MENDSYNC_PRECACHE__ ?? { version: 'dev', files: [] }
const PREFIX = 'mendsync-cart-'
const CACHE = `${PREFIX}${precache.version}`
const cached = new Set(precache.files)

scope.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...precache.files]))
      .then(() => scope.skipWaiting()),
  )
})

scope.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith(PREFIX) && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => scope.clients.claim()),
  )
})

async function fromCache(request: Request | string): Promise<Response> {
  const cache = await caches.open(CACHE)
  const hit = await cache.match(request, { ignoreSearch: true })
  return hit ?? (await fetch(request))
}

scope.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== scope.location.origin) return
  if (request.mode === 'navigate') {
    event.respondWith(fromCache('/index.html'))
    return
  }
  if (cached.has(url.pathname)) event.respondWith(fromCache(request))
})
