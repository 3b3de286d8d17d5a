// Serves the built cart demo (dist/) on 127.0.0.1, plus `/relay.json` (the relay the page dials).
// As a library: `serveDemo({ port, host, relay })`. As a command (Node >= 22.18 runs .ts):
//   node apps/cart-demo/serve.ts [--port 5173] [--host 127.0.0.1] [--relay <multiaddr>] [--dist <dir>]
// It prints one line: the URL to open.
import { readFile, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** Options of {@link serveDemo}. */
export interface ServeDemoOptions {
  /** TCP port (0: a free one). Default `5173`. */
  readonly port?: number
  /** Interface to bind. Default `'127.0.0.1'` (service workers need localhost or HTTPS). */
  readonly host?: string
  /**
   * The relay multiaddr (`.../ws/p2p/<peer id>`) served as `/relay.json`, or a function giving it
   * (so a relay started later, or restarted, is picked up). Default none: the page then uses
   * `?relay=` or the last relay it knew.
   */
  readonly relay?: string | (() => string | undefined)
  /** The built app. Default `apps/cart-demo/dist`. */
  readonly dist?: string
}

/** What {@link serveDemo} returns. */
export interface DemoServer {
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

export const DEFAULT_DIST = fileURLToPath(new URL('./dist/', import.meta.url))

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

/** Starts the static server; resolves once it listens. */
export async function serveDemo(options: ServeDemoOptions = {}): Promise<DemoServer> {
  const root = resolve(options.dist ?? DEFAULT_DIST)
  const host = options.host ?? '127.0.0.1'
  const relay = options.relay
  try {
    await stat(join(root, 'index.html'))
  } catch {
    throw new Error(`${root} holds no build: run \`pnpm --filter @mendsync/cart-demo build\` first`)
  }
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)
    if (path === '/relay.json') {
      const address = typeof relay === 'function' ? relay() : relay
      response
        .writeHead(200, { 'content-type': TYPES['.json']!, 'cache-control': 'no-store' })
        .end(JSON.stringify({ relay: address ?? null }))
      return
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path))
    if (file !== root && !file.startsWith(root + sep)) {
      response.writeHead(403).end()
      return
    }
    // Unknown paths without an extension are app routes: the page.
    const target = extname(file) === '' ? join(root, 'index.html') : file
    readFile(target).then(
      (body) => {
        const immutable = target.includes(`${sep}assets${sep}`)
        response
          .writeHead(200, {
            'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
            'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
          })
          .end(body)
      },
      () => response.writeHead(404, { 'content-type': 'text/plain' }).end('not found'),
    )
  })
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 5173, host, () => resolveListen())
  })
  const port = (server.address() as { port: number }).port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections()
        server.close(() => resolveClose())
      }),
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5173' },
      host: { type: 'string', default: '127.0.0.1' },
      relay: { type: 'string' },
      dist: { type: 'string' },
    },
  })
  const served = await serveDemo({
    port: Number(values.port),
    host: values.host,
    ...(values.relay === undefined ? {} : { relay: values.relay }),
    ...(values.dist === undefined ? {} : { dist: values.dist }),
  })
  process.stdout.write(`${served.url}\n`)
}
