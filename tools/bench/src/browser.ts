// What the benchmarks that run in real Chromium share: bundling the page (and any
// worker it starts) with Vite in memory, serving it on 127.0.0.1 (a real origin, which IndexedDB
// and Web Locks need), and opening it in Debian's Chromium through playwright-core.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { build, defaultClientConditions } from 'vite'
import { CHROMIUM_LAUNCH_OPTIONS } from './chromium.ts'

/**
 * Bundles `entry` (from the workspace sources) and everything it loads, module workers
 * included; returns the files by name, the entry as `page.js`.
 */
export async function bundlePage(
  root: string,
  entry: string,
): Promise<Map<string, string | Uint8Array>> {
  const output = await build({
    configFile: false,
    logLevel: 'silent',
    root,
    resolve: { conditions: ['mendsync-source', ...defaultClientConditions] },
    worker: { format: 'es' },
    build: {
      write: false,
      minify: false,
      modulePreload: false,
      rollupOptions: { input: entry, output: { entryFileNames: 'page.js' } },
    },
  })
  const files = new Map<string, string | Uint8Array>()
  for (const result of Array.isArray(output) ? output : [output]) {
    if (!('output' in result)) continue
    for (const item of result.output) {
      files.set(item.fileName, item.type === 'chunk' ? item.code : item.source)
    }
  }
  if (!files.has('page.js')) throw new Error('vite build produced no page.js')
  return files
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
}

/** A bench page open in Chromium. */
export interface BenchPage {
  readonly page: Page
  /** The browser's version, for the table's title. */
  readonly version: string
  /** Closes the browser and the server. */
  close(): Promise<void>
}

/**
 * Serves `files` on 127.0.0.1, opens the page in Chromium, and waits until the page has set
 * `window[ready]` (its bench API). Page errors are part of the error if it never does.
 */
export async function openBenchPage(
  files: ReadonlyMap<string, string | Uint8Array>,
  ready: string,
): Promise<BenchPage> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' })
      response.end(
        '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
      )
      return
    }
    const file = files.get(path.slice(1))
    if (file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' })
      response.end('not found')
      return
    }
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    })
    response.end(file)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  let browser: Browser | undefined
  const close = async () => {
    await browser?.close()
    await new Promise<void>((resolve) => (server as Server).close(() => resolve()))
  }
  try {
    browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(String(error)))
    const { port } = server.address() as AddressInfo
    await page.goto(`http://127.0.0.1:${port}/`)
    await page
      .waitForFunction((name) => name in window, ready, { timeout: 30_000 })
      .catch((error: unknown) => {
        throw new Error(`the bench page did not load: ${errors.join('; ') || String(error)}`)
      })
    return { page, version: browser.version(), close }
  } catch (error) {
    await close()
    throw error
  }
}
