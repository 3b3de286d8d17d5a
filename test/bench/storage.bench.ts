// `pnpm bench:storage`: the file adapter's bench (Node) and the IndexedDB adapter's bench
// (real Chromium), one after the other, with the same common flags (`--json`, `--runs`,
// `--quick`); `--dir` goes to the file bench only.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commonArgv, startBench } from '@mendsync/bench'

const bench = startBench({ name: 'storage', options: { dir: { type: 'string' } } })
const common = commonArgv(bench.flags)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const benches = [
  {
    file: 'packages/storage-file/bench/storage.bench.ts',
    args: bench.values.dir === undefined ? common : [...common, '--dir', bench.values.dir],
  },
  { file: 'packages/storage-idb/bench/storage.bench.ts', args: common },
]

let failed = false
for (const { file, args } of benches) {
  const result = spawnSync(process.execPath, [join(root, file), ...args], { stdio: 'inherit' })
  if (result.status !== 0) {
    bench.log(`bench:storage: ${file} exited with ${result.status ?? result.signal}`)
    failed = true
  }
}
process.exitCode = failed ? 1 : 0
