// Crash safety: a child process writes batches and reports each acknowledgement; the parent kills
// it with SIGKILL at a random moment, then checks the store opens cleanly (quick_check) and holds
// every acknowledged batch whole, and no partial batch: exactly a prefix 0..m of the batches,
// each whole, with m at least the last acknowledged one. 20 trials on the same store. A third of
// the batches are relaxed (no fsync): a process crash must not lose them either.
//
// The child runs the built package (`dist`): `pnpm run check` (tsc -b) runs before vitest in
// `npm test`; when running vitest alone, run `pnpm exec tsc -b` first.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { scanAll } from '@mendsync/replica/adapter'
import { afterAll, describe, expect, it } from 'vitest'
import { openFileStorage } from '../src/index.js'
import { CRASH_SPACE, pad, payload } from './fixtures/crash-batch.ts'
import { temporaryDirectory } from './harness.js'

const TRIALS = 20
const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))
const built = ['../dist/index.js', '../../replica/dist/index.js', '../../core/dist/index.js'].map(
  (path) => fileURLToPath(new URL(path, import.meta.url)),
)

interface Trial {
  readonly acked: number[]
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/** Runs the writer from batch `start` and SIGKILLs it `delayMs` after it is ready. */
function crashRun(directory: string, start: number, delayMs: number): Promise<Trial> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, directory, String(start)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const acked: number[] = []
    let stderr = ''
    let buffered = ''
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
    })
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), delayMs)
        else if (line.startsWith('ack ')) acked.push(Number(line.slice(4)))
      }
    })
    child.on('error', reject)
    child.on('close', (_code, signal) => resolve({ acked, signal, stderr }))
  })
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/**
 * Checks the store holds exactly batches 0..m, each whole; returns m (-1 when empty). Values of
 * batches from `fresh` on are compared byte for byte; older ones were compared after an earlier
 * trial, and the storage verifies every record's checksum as it reads it.
 */
async function checkPrefix(directory: string, fresh: number): Promise<number> {
  const storage = await openFileStorage({ directory, space: CRASH_SPACE, check: 'quick' })
  try {
    let count = 0
    for await (const { key } of scanAll(storage, { namespace: 'meta', prefix: 'batch/' })) {
      expect(key).toBe(`batch/${pad(count)}`)
      count++
    }
    const last = count - 1
    let values = 0
    for await (const { key, value } of scanAll(storage, { namespace: 'values', prefix: 'b/' })) {
      const i = Number(key.slice(2, 9))
      const j = Number(key.slice(10))
      if (i > last || (i >= fresh && !sameBytes(value, payload(i, j)))) {
        expect.fail(`${key} is ${i > last ? 'past the last whole batch' : 'not the bytes written'}`)
      }
      values++
    }
    expect(values).toBe(4 * count)
    const heads: string[] = []
    for await (const { key } of scanAll(storage, { namespace: 'meta', prefix: 'head/' })) {
      heads.push(key)
    }
    expect(heads).toEqual(count === 0 ? [] : [`head/${pad(last)}`])
    return last
  } finally {
    await storage.close()
  }
}

describe('crash safety', () => {
  const { directory, remove } = temporaryDirectory()
  afterAll(() => remove())

  it(`keeps every acknowledged batch whole across ${TRIALS} SIGKILLs at random moments`, async () => {
    const missing = built.filter((path) => !existsSync(path))
    if (missing.length > 0) {
      throw new Error(
        `the crash test runs the built packages in a child process, but ${missing.join(', ')} ` +
          'is missing: run `pnpm exec tsc -b` (part of `pnpm run check`) before vitest',
      )
    }
    let last = -1
    let acknowledged = 0
    let killedWhileWriting = 0
    for (let trial = 0; trial < TRIALS; trial++) {
      const delayMs = 20 + Math.floor(Math.random() * 180)
      const run = await crashRun(directory, last + 1, delayMs)
      const context = { trial, delayMs, start: last + 1, stderr: run.stderr }
      expect({ ...context, signal: run.signal }).toEqual({ ...context, signal: 'SIGKILL' })
      last = await checkPrefix(directory, last + 1)
      const highest = Math.max(-1, ...run.acked)
      expect({ ...context, highestAcked: highest, durable: last >= highest }).toEqual({
        ...context,
        highestAcked: highest,
        durable: true,
      })
      acknowledged += run.acked.length
      if (run.acked.length > 0) killedWhileWriting++
    }
    // Not vacuous: the writer was acknowledged and killed mid-stream in most trials.
    expect(killedWhileWriting).toBeGreaterThanOrEqual(TRIALS - 3)
    expect(acknowledged).toBeGreaterThan(TRIALS * 10)
    console.log(`crash test: ${acknowledged} acknowledged batches, ${last + 1} stored`)
    const storage = await openFileStorage({ directory, space: CRASH_SPACE, check: 'full' })
    await storage.close()
  }, 120_000)
})
