// `pnpm bench:storage`: the file adapter's bench (Node) and the IndexedDB adapter's bench
// (real Chromium), one after the other, with the same flags (e.g. `--json`).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const benches = [
  'packages/storage-file/bench/storage.bench.ts',
  'packages/storage-idb/bench/storage.bench.ts',
]

let failed = false
for (const bench of benches) {
  const result = spawnSync(process.execPath, [join(root, bench), ...process.argv.slice(2)], {
    stdio: 'inherit',
  })
  if (result.status !== 0) {
    console.error(`bench:storage: ${bench} exited with ${result.status ?? result.signal}`)
    failed = true
  }
}
process.exitCode = failed ? 1 : 0
