// `pnpm bench:smoke`: runs every bench with `--quick --json` (after `tsc -b`) and checks that each
// exits 0 and prints at least one line, every line a figure of the one schema (parseFigureLine).
// A smoke run: it proves the benches run and speak the schema, not what they measure.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseFigureLine } from './figure.ts'
import { runBenchProcess } from './run.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** Every bench entry point, with the flags its `pnpm bench:*` script adds. */
const BENCHES: readonly (readonly string[])[] = [
  ['packages/core/bench/core.bench.ts'],
  ['packages/core/bench/reconcile.bench.ts'],
  ['packages/core/bench/reconcile.bench.ts', '--against', 'negentropy'],
  ['test/bench/storage.bench.ts'],
  ['packages/libp2p/bench/net.bench.ts'],
  ['test/bench/replica.bench.ts'],
  ['apps/relay/bench/relay.bench.ts'],
  ['packages/tabs/bench/tabs.bench.ts'],
  ['packages/core/bench/spaces.bench.ts'],
  ['test/bench/shaped.bench.ts'],
  ['test/bench/open.bench.ts', '--keys', '20000'],
]

let failed = 0
for (const args of BENCHES) {
  const name = args.join(' ')
  const started = performance.now()
  const [file, ...flags] = args as [string, ...string[]]
  const {
    code,
    stdout: out,
    stderr: err,
  } = await runBenchProcess(
    join(ROOT, file),
    [...flags, '--quick', '--json'],
    ['--max-old-space-size=4096'],
  )
  const lines = out.split('\n').filter((line) => line.length > 0)
  const problems: string[] = []
  if (code !== 0) problems.push(`exit code ${code}`)
  if (lines.length === 0) problems.push('no figure line')
  for (const line of lines) {
    try {
      parseFigureLine(line)
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error))
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0)
  if (problems.length === 0) {
    process.stdout.write(`ok ${name}: ${lines.length} figures, ${seconds} s\n`)
  } else {
    failed++
    process.stdout.write(
      `FAILED ${name}: ${problems.slice(0, 5).join('; ')}\n${err.slice(-2000)}\n`,
    )
  }
}
process.stdout.write(`${BENCHES.length - failed} passed, ${failed} failed\n`)
process.exitCode = failed === 0 ? 0 : 1
