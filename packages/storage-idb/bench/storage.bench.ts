// IndexedDB storage bench, in real Chromium: writes/s and reads/s through the adapter for 100 B
// and 10 KB values in batches of 1, 100 and 1,000, each beside a raw `idb` baseline on the same
// bytes in the same run (raw puts in one transaction; raw gets). Medians over several runs.
//
//   pnpm exec node packages/storage-idb/bench/storage.bench.ts [--json] [--runs N] [--quick]
//
// ratio = value / baseline; targets are lower bounds on it. `--quick`: a fifth of the records,
// 2 runs.
//
// Bundles bench/page.ts with Vite (in memory), serves it on 127.0.0.1 (a real origin, which
// IndexedDB needs), and drives Chromium through playwright-core. MENDSYNC_CHROMIUM overrides the
// browser (default /usr/bin/chromium).
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, startBench } from '@mendsync/bench'
import { bundlePage, openBenchPage } from '@mendsync/bench/browser'
import type { FigureConfig, FigureResult } from './page.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const bench = startBench({ name: 'storage', defaultRuns: 5, quickRuns: 2 })
const { runs, quick } = bench.flags

/** Records per run: enough transactions to time, few enough to keep the bench short. */
function recordsFor(op: 'write' | 'read', valueBytes: number, batch: number): number {
  const scale = quick ? 5 : 1
  if (op === 'read') return (valueBytes > 1000 ? 1000 : 2000) / scale
  if (batch === 1) return 100 / scale
  return (valueBytes > 1000 ? 2000 : 3000) / scale
}

const WRITE_TARGET = 0.7
const READ_TARGET = 0.8

async function main() {
  const files = await bundlePage(benchDir, join(benchDir, 'page.ts'))
  const { page, version, close } = await openBenchPage(files, 'mendsyncBench')
  try {
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
          const size = valueBytes === 100 ? '100B' : '10KB'
          bench.record({
            figure: `idb.${op}.${size}.batch${batch}`,
            value: Math.round(value),
            unit: 'ops/s',
            baseline: Math.round(baseline),
            target: op === 'write' ? WRITE_TARGET : READ_TARGET,
            bound: 'min',
            note: 'baseline: raw idb',
          })
        }
      }
    }
    bench.finish(
      `IndexedDB storage bench: Chromium ${version}, median of ${runs} runs, durability strict${quick ? ' (--quick)' : ''}`,
    )
  } finally {
    await close()
  }
}

await main()
