import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Figure } from '@mendsync/bench'
import { describe, expect, it } from 'vitest'

// The 10-second smoke version of `pnpm bench:relay`: the same benchmark, small enough for CI. It
// asserts what must hold at any load (no write lost, none failed, every peer's key at the relay),
// never a timing: timings belong to the benchmark, on a machine that is not shared.

const BENCH = fileURLToPath(new URL('../bench/relay.bench.ts', import.meta.url))
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const PEERS = 10

function runBench(args: string[]): Promise<Figure[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the relay bench exited with ${code}`))
      const lines = out.split('\n').filter((line) => line.startsWith('{'))
      resolve(lines.map((line) => JSON.parse(line) as Figure))
    })
  })
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
