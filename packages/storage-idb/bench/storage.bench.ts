// IndexedDB storage bench, in real Chromium: writes/s and reads/s through the adapter for 100 B
// and 10 KB values in batches of 1, 100 and 1,000, each beside a raw `idb` baseline on the same
// bytes in the same run (raw puts in one transaction; raw gets). Medians over several runs.
//
//   pnpm exec node packages/storage-idb/bench/storage.bench.ts [--json] [--runs N]
//
// Bundles bench/page.ts with Vite (in memory), serves it on 127.0.0.1 (a real origin, which
// IndexedDB needs), and drives Chromium through playwright-core. MENDSYNC_CHROMIUM overrides the
// browser (default /usr/bin/chromium).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, defaultClientConditions } from 'vite'
import { median } from '../../../test/support/bench-stats.ts'
import { CHROMIUM_LAUNCH_OPTIONS } from '../../../test/support/chromium.ts'
import type { FigureConfig, FigureResult } from './page.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const json = args.includes('--json')
const runsFlag = args.indexOf('--runs')
const runs = runsFlag >= 0 ? Number(args[runsFlag + 1]) : 5
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer')

/** Records per run: enough transactions to time, few enough to keep the bench short. */
function recordsFor(op: 'write' | 'read', valueBytes: number, batch: number): number {
  if (op === 'read') return valueBytes > 1000 ? 1000 : 2000
  if (batch === 1) return 100
  return valueBytes > 1000 ? 2000 : 3000
}

const WRITE_TARGET = 0.7
const READ_TARGET = 0.8

async function bundle(): Promise<string> {
  const output = await build({
    configFile: false,
    logLevel: 'silent',
    root: benchDir,
    resolve: { conditions: ['mendsync-source', ...defaultClientConditions] },
    build: {
      write: false,
      minify: false,
      lib: { entry: join(benchDir, 'page.ts'), formats: ['es'], fileName: 'page' },
    },
  })
  const results = Array.isArray(output) ? output : [output]
  for (const result of results) {
    if (!('output' in result)) continue
    for (const chunk of result.output) {
      if (chunk.type === 'chunk' && chunk.isEntry) return chunk.code
    }
  }
  throw new Error('vite build produced no entry chunk')
}

async function main() {
  const script = await bundle()
  const server = createServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      response.end(script)
    } else {
      response.writeHead(200, { 'content-type': 'text/html' })
      response.end(
        '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
      )
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
  try {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.waitForFunction(() => window.mendsyncBench !== undefined)
    const version = browser.version()
    const rows: string[][] = []
    for (const op of ['write', 'read'] as const) {
      for (const valueBytes of [100, 10_240]) {
        for (const batch of [1, 100, 1000]) {
          const config: FigureConfig = {
            op,
            valueBytes,
            batch,
            records: recordsFor(op, valueBytes, batch),
            runs,
          }
          const result: FigureResult = await page.evaluate(
            (c) => window.mendsyncBench!.runFigure(c),
            config,
          )
          const value = median(result.adapter)
          const baseline = median(result.baseline)
          const ratio = value / baseline
          const target = op === 'write' ? WRITE_TARGET : READ_TARGET
          const size = valueBytes === 100 ? '100B' : '10KB'
          const figure = `idb.${op}.${size}.batch${batch}`
          if (json) {
            console.log(
              JSON.stringify({
                bench: 'storage',
                figure,
                value: Math.round(value),
                unit: 'ops/s',
                baseline: Math.round(baseline),
                ratio: Number(ratio.toFixed(3)),
                target,
              }),
            )
          } else {
            rows.push([
              figure,
              Math.round(value).toLocaleString('en-US'),
              Math.round(baseline).toLocaleString('en-US'),
              ratio.toFixed(2),
              `>= ${target}`,
              ratio >= target ? 'ok' : 'BELOW',
            ])
          }
        }
      }
    }
    if (!json) {
      const header = ['figure', 'adapter ops/s', 'raw idb ops/s', 'ratio', 'target', '']
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
      const line = (cells: string[]) =>
        `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
      console.log(
        `IndexedDB storage bench: Chromium ${version}, median of ${runs} runs, durability strict`,
      )
      console.log(line(header))
      console.log(
        `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
      )
      for (const row of rows) console.log(line(row))
    }
  } finally {
    await browser.close()
    server.close()
  }
}

await main()
