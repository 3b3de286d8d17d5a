// IndexedDB storage bench, in real Chromium: writes/s and reads/s through the adapter for 100 B
// and 10 KB values in batches of 1, 100 and 1,000, each beside a raw `idb` baseline on the same
// bytes in the same run (raw puts in one transaction; raw gets). Medians over several runs.
//
//   pnpm exec node packages/storage-idb/bench/storage.bench.ts [--json] [--runs N]
//
// Bundles bench/page.ts with Vite (in memory), serves it on 127.0.0.1 (a real origin, which
// IndexedDB needs), and drives Chromium through playwright-core. MENDSYNC_CHROMIUM overrides the
// browser (default /usr/bin/chromium).
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { markdownTable, median } from '@mendsync/bench'
import { benchArgs, bundlePage, openBenchPage } from '../../../test/support/browser-bench.ts'
import type { FigureConfig, FigureResult } from './page.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const { json, runs } = benchArgs(5)

/** Records per run: enough transactions to time, few enough to keep the bench short. */
function recordsFor(op: 'write' | 'read', valueBytes: number, batch: number): number {
  if (op === 'read') return valueBytes > 1000 ? 1000 : 2000
  if (batch === 1) return 100
  return valueBytes > 1000 ? 2000 : 3000
}

const WRITE_TARGET = 0.7
const READ_TARGET = 0.8

async function main() {
  const files = await bundlePage(benchDir, join(benchDir, 'page.ts'))
  const { page, version, close } = await openBenchPage(files, 'mendsyncBench')
  try {
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
      console.log(
        `IndexedDB storage bench: Chromium ${version}, median of ${runs} runs, durability strict`,
      )
      console.log(
        markdownTable(['figure', 'adapter ops/s', 'raw idb ops/s', 'ratio', 'target', ''], rows),
      )
    }
  } finally {
    await close()
  }
}

await main()
