// The browser tests' page: a Vite build of a test page served over HTTP on 127.0.0.1.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { build } from 'vite'

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.map': 'application/json',
}

/** A built test page being served. */
export interface ServedPage {
  /** The port of the HTTP server on 127.0.0.1. */
  readonly port: number
  /** Stops the server and deletes the build. */
  close(): Promise<void>
}

/** Builds the page at `root` (workspace sources, es2022) and serves it on a free port. */
export async function servePage(root: string, tmpPrefix: string): Promise<ServedPage> {
  const outDir = await mkdtemp(join(tmpdir(), tmpPrefix))
  await build({
    root,
    logLevel: 'warn',
    configFile: false,
    resolve: { conditions: ['mendsync-source', 'browser', 'module', 'import', 'default'] },
    build: { target: 'es2022', outDir, emptyOutDir: true, minify: false, sourcemap: false },
  })
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0]!))
    const file = join(outDir, path === '/' ? 'index.html' : path)
    if (!file.startsWith(outDir)) {
      response.writeHead(403).end()
      return
    }
    readFile(file).then(
      (body) =>
        response
          .writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
          .end(body),
      () => response.writeHead(404).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await rm(outDir, { recursive: true, force: true })
    },
  }
}
