import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Figure, parseFigureLine, runBenchProcess } from '@mendsync/bench'
import { describe, expect, it } from 'vitest'

// The 10-second smoke version of `pnpm bench:relay`: the same benchmark, small enough for CI. It
// asserts what must hold at any load (no write lost, none failed, every peer's key at the relay),
// never a timing: timings belong to the benchmark, on a machine that is not shared.

const BENCH = fileURLToPath(new URL('../bench/relay.bench.ts', import.meta.url))
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const PEERS = 10

async function runBench(args: string[]): Promise<Figure[]> {
  const { code, stdout, stderr } = await runBenchProcess(BENCH, args)
  if (code !== 0) throw new Error(`the relay bench exited with ${code}: ${stderr.slice(-2000)}`)
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map(parseFigureLine)
}

describe('relay load smoke run', () => {
  it('holds 10 peers writing 5/s for 10 s without losing or failing a write', async () => {
    if (!existsSync(CLI))
      throw new Error('build first: the bench starts the built relay (pnpm exec tsc -b)')
    const figures = await runBench([
      '--peers',
      String(PEERS),
      '--rate',
      '5',
      '--seconds',
      '10',
      '--workers',
      '1',
      '--json',
    ])
    const value = (name: string) => figures.find((f) => f.figure === name)?.value
    expect(value('lost_writes')).toBe(0)
    expect(value('write_errors')).toBe(0)
    expect(value('relay_keys')).toBe(PEERS)
    expect(value('writes_per_second')).toBeGreaterThan(0)
    expect(value('visibility_samples')).toBeGreaterThan(0)
  }, 120_000)
})
