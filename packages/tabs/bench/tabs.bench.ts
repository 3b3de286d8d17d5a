// Tabs bench, in real Chromium: how fast a write in one tab reaches the other tabs' subscribers
// (no network), and how fast another tab takes over when the leader tab crashes or closes.
// Medians over several runs, each after an unmeasured warm-up run.
//
//   pnpm bench:tabs [--json] [--runs N]
//
// Bundles bench/page.ts and the tab worker (test/tab.worker.ts) with Vite, in memory; serves them
// on 127.0.0.1 (a real origin, which IndexedDB and Web Locks need); drives Chromium through
// playwright-core. Tabs are module workers of one page. MENDSYNC_CHROMIUM overrides the browser
// (default /usr/bin/chromium).
//
// Figures (ms): tabs.change_latency.p50 / .p99 (target 100), tabs.handover_after_crash,
// tabs.write_after_crash and tabs.handover_after_close (target 2000). A missed target is
// reported, not an error: the exit code is 0.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, defaultClientConditions } from 'vite'
import { median, percentile } from '../../../test/support/bench-stats.ts'
import { CHROMIUM_LAUNCH_OPTIONS } from '../../../test/support/chromium.ts'
import type { LatencyConfig } from './page.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const json = args.includes('--json')
const runsFlag = args.indexOf('--runs')
const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 5
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer')

/** 100 measured writes per run (200 samples: two other tabs each), after 10 unmeasured ones. */
const LATENCY: LatencyConfig = { writes: 100, warmupWrites: 10 }
const SETUP = `3 worker tabs, ${LATENCY.writes} writes per run for the latency`
const LATENCY_TARGET_MS = 100
const HANDOVER_TARGET_MS = 2000
/** The longest one page call may take before the bench gives up (no hangs). */
const CALL_TIMEOUT_MS = 120_000

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
}

/** Builds page.ts and everything it loads (the worker too); returns the files by name. */
async function bundle(): Promise<Map<string, string | Uint8Array>> {
  const output = await build({
    configFile: false,
    logLevel: 'silent',
    root: benchDir,
    resolve: { conditions: ['mendsync-source', ...defaultClientConditions] },
    worker: { format: 'es' },
    build: {
      write: false,
      minify: false,
      modulePreload: false,
      rollupOptions: {
        input: join(benchDir, 'page.ts'),
        output: { entryFileNames: 'page.js' },
      },
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
  if (![...files.keys()].some((name) => name.includes('tab.worker'))) {
    throw new Error(`vite build produced no tab worker: ${[...files.keys()].join(', ')}`)
  }
  return files
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${CALL_TIMEOUT_MS} ms`)),
      CALL_TIMEOUT_MS,
    )
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

interface Figure {
  readonly figure: string
  readonly value: number
  readonly target: number
}

async function main() {
  const files = await bundle()
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
  const { port } = server.address() as AddressInfo
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined
  try {
    browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(String(error)))
    await page.goto(`http://127.0.0.1:${port}/`)
    await page
      .waitForFunction(() => window.mendsyncTabsBench !== undefined, undefined, {
        timeout: 30_000,
      })
      .catch((error: unknown) => {
        throw new Error(`the bench page did not load: ${errors.join('; ') || String(error)}`)
      })
    const version = browser.version()

    const p50s: number[] = []
    const p99s: number[] = []
    const crashHandovers: number[] = []
    const crashWrites: number[] = []
    const closeHandovers: number[] = []
    // Run -1 is the warm-up: everything once, nothing kept.
    for (let run = -1; run < runs; run++) {
      const latencies = await withTimeout(
        page.evaluate((c) => window.mendsyncTabsBench!.changeLatency(c), LATENCY),
        'changeLatency',
      )
      const crash = await withTimeout(
        page.evaluate(() => window.mendsyncTabsBench!.handoverAfterCrash()),
        'handoverAfterCrash',
      )
      const close = await withTimeout(
        page.evaluate(() => window.mendsyncTabsBench!.handoverAfterClose()),
        'handoverAfterClose',
      )
      if (run < 0) continue
      p50s.push(percentile(latencies, 50))
      p99s.push(percentile(latencies, 99))
      crashHandovers.push(crash.handover)
      crashWrites.push(crash.write)
      closeHandovers.push(close)
    }
    const leftover = await withTimeout(
      page.evaluate(() => window.mendsyncTabsBench!.leftoverDatabases()),
      'leftoverDatabases',
    )
    if (leftover.length > 0) {
      console.error(`warning: IndexedDB databases not deleted: ${leftover.join(', ')}`)
    }

    const figures: Figure[] = [
      { figure: 'tabs.change_latency.p50', value: median(p50s), target: LATENCY_TARGET_MS },
      { figure: 'tabs.change_latency.p99', value: median(p99s), target: LATENCY_TARGET_MS },
      {
        figure: 'tabs.handover_after_crash',
        value: median(crashHandovers),
        target: HANDOVER_TARGET_MS,
      },
      { figure: 'tabs.write_after_crash', value: median(crashWrites), target: HANDOVER_TARGET_MS },
      {
        figure: 'tabs.handover_after_close',
        value: median(closeHandovers),
        target: HANDOVER_TARGET_MS,
      },
    ]
    if (json) {
      for (const { figure, value, target } of figures) {
        console.log(
          JSON.stringify({
            bench: 'tabs',
            figure,
            value: Number(value.toFixed(2)),
            unit: 'ms',
            baseline: null,
            ratio: null,
            target,
          }),
        )
      }
    } else {
      const rows = figures.map(({ figure, value, target }) => [
        figure,
        `${value.toFixed(2)} ms`,
        `<= ${target} ms`,
        value <= target ? 'ok' : 'ABOVE',
      ])
      const header = ['figure', 'value', 'target', '']
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      const line = (cells: string[]) =>
        `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
      console.log(
        `Tabs bench: Chromium ${version}, ${SETUP}, median of ${runs} runs (after a warm-up run)`,
      )
      console.log(line(header))
      console.log(
        `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
      )
      for (const row of rows) console.log(line(row))
    }
  } finally {
    await browser?.close()
    server.close()
  }
}

await main()
