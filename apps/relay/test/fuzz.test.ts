// The fuzz test of issue 19 against the built relay in its own process: a few thousand random,
// mutated, never-ending and oversized frames (MENDSYNC_FUZZ_FRAMES for a longer run) on pull, push
// and reconcile, from identities on the space's allowlist and from outsiders. The relay's heap
// (scraped from its /metrics) grows by less than the documented bound, it never exits, and a
// well-behaved writer's writes reach a well-behaved reader during the attack and after it.
import { describe, expect, it } from 'vitest'
import { HEAP_GROWTH_BOUND_MIB, runAbuseScenario } from '../bench/abuse-scenario.ts'
import { assertBuilt } from './helpers.js'

const FRAMES = Number(process.env.MENDSYNC_FUZZ_FRAMES ?? 3000)
const SEED = Number(process.env.MENDSYNC_FUZZ_SEED ?? Date.now() % 2 ** 31)

describe('a relay under fuzzed frames', () => {
  it(`keeps its heap growth under ${HEAP_GROWTH_BOUND_MIB} MiB, stays up and keeps well-behaved peers syncing (${FRAMES} frames)`, async () => {
    assertBuilt()
    const report = await runAbuseScenario({ frames: FRAMES, seed: SEED })
    const summary = JSON.stringify({ seed: SEED, ...report })
    expect(report.relayExitCode, summary).toBeUndefined()
    expect(report.fuzz.frames, summary).toBeGreaterThanOrEqual(FRAMES)
    // Every stream was answered or ended by the relay; none was left hanging.
    expect(report.fuzz.outcomes.stalled, summary).toBe(0)
    expect(report.fuzz.outcomes.reset, summary).toBeGreaterThan(0)
    expect(report.fuzz.identities.allowed, summary).toBeGreaterThan(0)
    expect(report.fuzz.identities.outsiders, summary).toBeGreaterThan(0)
    expect(report.heapSamples, summary).toBeGreaterThan(0)
    expect(report.heapGrowthMiB, summary).toBeLessThan(HEAP_GROWTH_BOUND_MIB)
    expect(report.syncedDuring, summary).toBeGreaterThan(0)
    expect(report.syncFailures, summary).toBe(0)
    expect(report.syncedAfter, summary).toBe(true)
  }, 600_000)
})
