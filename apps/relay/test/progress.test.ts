// Progress of long reconciliations, on a fake clock: periodic lines when not on a terminal, one
// live line on a terminal, a closing line, nothing for short sessions. And the log formats.
import { Writable } from 'node:stream'
import {
  IDLE_PROGRESS,
  type ReplicaMetricValues,
  type ReplicaStatus,
  type SyncProgress,
} from '@mendsync/replica'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/index.js'
import { ProgressReporter, type ProgressSource } from '../src/progress.js'

/** What the live line writes to clear the terminal line. */
const CLEAR = '\r\x1b[2K'

class Capture extends Writable {
  chunks: string[] = []
  isTTY: boolean
  constructor(isTTY: boolean) {
    super()
    this.isTTY = isTTY
  }
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.chunks.push(chunk.toString())
    done()
  }
  get text(): string {
    return this.chunks.join('')
  }
}

function fakeReplica(): ProgressSource & {
  reconciling: string[]
  changes: number
  progress: SyncProgress
} {
  const fake = {
    reconciling: [] as string[],
    changes: 0,
    progress: IDLE_PROGRESS,
    status: () =>
      ({
        reconciling: fake.reconciling,
        keys: 42,
        progress: fake.progress,
      }) as unknown as ReplicaStatus,
    metrics: () => ({ remote_changes_total: fake.changes }) as unknown as ReplicaMetricValues,
  }
  return fake
}

/** A reporter on a fake clock over one fake replica of the space `demo`, writing to a capture. */
function setup(tty: boolean, format: 'json' | 'text', intervalMs: number) {
  const out = new Capture(tty)
  const log = createLogger({ format, stream: out })
  const replica = fakeReplica()
  const clock = { now: 0 }
  const reporter = new ProgressReporter(new Map([['demo', replica]]), log, intervalMs, {
    now: () => clock.now,
    timer: false,
  })
  return { out, log, replica, clock, reporter }
}

describe('the progress of long reconciliations', () => {
  it('logs a line per interval when not on a terminal, and a closing line', () => {
    const { out, replica, clock, reporter } = setup(false, 'json', 5_000)
    // A short session: no line at all.
    replica.reconciling = ['peer-short']
    reporter.tick()
    clock.now = 1_000
    replica.reconciling = []
    reporter.tick()
    expect(out.chunks).toEqual([])

    replica.reconciling = ['peer-long']
    clock.now = 2_000
    reporter.tick()
    for (let t = 3_000; t <= 14_000; t += 1_000) {
      clock.now = t
      replica.changes += 10
      reporter.tick()
    }
    const lines = out.chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>)
    // At 7 s and 12 s after it started (every 5 s once it ran 5 s).
    expect(lines.map((line) => [line.msg, line.seconds])).toEqual([
      ['reconciliation in progress', 5],
      ['reconciliation in progress', 10],
    ])
    expect(lines[0]).toMatchObject({ space: 'demo', peer: 'peer-long', changes: 50, keys: 42 })
    replica.reconciling = []
    clock.now = 15_000
    reporter.tick()
    expect(JSON.parse(out.chunks.at(-1) as string)).toMatchObject({
      msg: 'reconciliation finished',
      peer: 'peer-long',
      seconds: 13,
      changes: 120,
    })
    reporter.stop()
  })

  it('keeps one live line on a terminal and prints other lines above it', () => {
    const { out, log, replica, clock, reporter } = setup(true, 'text', 2_000)
    expect(log.live).toBe(true)
    replica.reconciling = ['12D3KooWPvoN51SWxjqK817u2XfcW91HxdS4gypznyZhfFStveLu']
    reporter.tick()
    clock.now = 3_000
    reporter.tick()
    expect(out.text).toBe(`${CLEAR}reconciling demo with 12D3KooW…StveLu: 3 s, 0 changes, 42 keys`)
    out.chunks = []
    log.info('hello', { peer: 'x' })
    expect(out.text.startsWith(CLEAR)).toBe(true)
    expect(out.text.slice(CLEAR.length)).toMatch(
      /^\S+ INFO {2}hello peer=x\nreconciling demo with 12D3KooW…StveLu: 3 s/,
    )
    out.chunks = []
    replica.reconciling = []
    clock.now = 4_000
    reporter.tick()
    expect(out.text).toMatch(/reconciliation finished/)
    expect(out.text.endsWith(CLEAR)).toBe(true)
  })
})

describe('the sync progress in the progress lines', () => {
  it('adds the keys received of the keys to receive and the bytes, once the round knows them', () => {
    const { out, replica, clock, reporter } = setup(false, 'json', 1_000)
    replica.reconciling = ['peer-long']
    replica.progress = { ...IDLE_PROGRESS, active: true, peers: ['peer-long'] }
    reporter.tick()
    clock.now = 1_000
    reporter.tick()
    replica.progress = {
      active: true,
      keysToReceive: 500,
      keysReceived: 120,
      bytesReceived: 48_000,
      peers: ['peer-long'],
    }
    clock.now = 2_000
    reporter.tick()
    replica.reconciling = []
    replica.progress = { ...replica.progress, active: false, keysReceived: 500, peers: [] }
    clock.now = 3_000
    reporter.tick()
    const lines = out.chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>)
    expect(lines).toHaveLength(3)
    // Before the round knows what it brings: no progress fields.
    expect(lines[0]).not.toHaveProperty('keysToReceive')
    expect(lines[1]).toMatchObject({
      msg: 'reconciliation in progress',
      keysToReceive: 500,
      keysReceived: 120,
      bytesReceived: 48_000,
    })
    expect(lines[2]).toMatchObject({
      msg: 'reconciliation finished',
      keysToReceive: 500,
      keysReceived: 500,
    })
    reporter.stop()
  })

  it('shows the keys received of the keys to receive on the live line', () => {
    const { out, replica, clock, reporter } = setup(true, 'text', 1_000)
    replica.reconciling = ['peer-long']
    replica.progress = {
      active: true,
      keysToReceive: 2_000,
      keysReceived: 1_500,
      bytesReceived: 1_250_000,
      peers: ['peer-long'],
    }
    reporter.tick()
    clock.now = 2_000
    reporter.tick()
    expect(out.text).toBe(
      `${CLEAR}reconciling demo with peer-long: 2 s, 0 changes, 42 keys, received 1500/2000 keys (1.3 MB)`,
    )
    reporter.stop()
  })
})

describe('the logger', () => {
  it('writes human-readable lines, or JSON lines, and honours the level', () => {
    const text = new Capture(false)
    const log = createLogger({ format: 'text', level: 'warn', stream: text })
    log.info('hidden')
    log.warn('refused', { peer: 'p', reason: 'not allowed', list: ['a', 'b'] })
    expect(text.text).toMatch(/^\S+Z WARN {2}refused peer=p reason="not allowed" list=a,b\n$/)
    const json = new Capture(false)
    const jlog = createLogger({ format: 'json', stream: json })
    jlog.error('failed', { error: new Error('boom') })
    expect(JSON.parse(json.text)).toMatchObject({
      level: 'error',
      msg: 'failed',
      error: { name: 'Error', message: 'boom' },
    })
  })
})
