// The rejoin rule of tombstone collection (issue 18): a replica away for longer than the horizon
// delivers what it wrote while away and brings back nothing the others deleted.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalValue,
  contextFromDots,
  contextHas,
  contextMax,
  contextWithout,
  type Dot,
  decodeValue,
  emptyValue,
  encodeValue,
  isTombstone,
  joinValues,
  rejoinPart,
  valueDots,
} from '../../src/index.js'
import { applyLocal, historyArb, joinAll, REPLICAS, runHistory, type Step } from './helpers.js'

/** The replica that goes away (index into REPLICAS). */
const AWAY = 2
const AWAY_ID = REPLICAS[AWAY] as string

/** Runs `steps` from `start`; the away replica neither sends nor receives anything. */
function runApart(start: readonly CausalValue[], steps: readonly Step[]): CausalValue[] {
  const replicas = [...start]
  for (const step of steps) {
    if (step.t === 'sync' || step.t === 'deliver') {
      if (step.from === AWAY || step.to === AWAY) continue
      replicas[step.to] = joinValues(
        replicas[step.to] as CausalValue,
        replicas[step.from] as CausalValue,
      )
      continue
    }
    const result = applyLocal(replicas[step.r] as CausalValue, step)
    if (result !== null) replicas[step.r] = result.state
  }
  return replicas
}

const scenario = fc.record({
  before: historyArb('mixed', 30),
  apart: historyArb('mixed', 30),
  /** Whether the others deleted the key and collected its tombstone while the replica was away. */
  collected: fc.boolean(),
})

/**
 * One key's story: three replicas write and agree (everyone joins everything), the away replica
 * leaves, everyone goes on apart; the others may delete and collect the key. Returns what the
 * away replica holds, what the space holds, and the counter it had when it left.
 */
function story(input: { before: Step[]; apart: Step[]; collected: boolean }) {
  const agreed = joinAll(runHistory(input.before).replicas)
  const c0 = contextMax(agreed.context, AWAY_ID)
  const apart = runApart([agreed, agreed, agreed], input.apart)
  const away = apart[AWAY] as CausalValue
  let space = joinValues(apart[0] as CausalValue, apart[1] as CausalValue)
  if (input.collected) space = emptyValue()
  const isAway = (dot: Dot) => dot.replica === AWAY_ID && dot.counter > c0
  const offered = rejoinPart(away, isAway)
  return { agreed, away, space, isAway, offered, result: joinValues(space, offered) }
}

function key(dot: Dot): string {
  return `${dot.replica}:${dot.counter}`
}

describe('the rejoin rule', () => {
  it('brings back no entry the space does not hold, whatever the away replica kept', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { space, isAway, result } = story(input)
        const inSpace = new Set(valueDots(space).map(key))
        for (const dot of valueDots(result)) {
          expect(isAway(dot) || inSpace.has(key(dot))).toBe(true)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('delivers every entry the away replica wrote while away and still holds', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { away, isAway, result } = story(input)
        const delivered = new Set(valueDots(result).map(key))
        for (const dot of valueDots(away).filter(isAway)) expect(delivered.has(key(dot))).toBe(true)
      }),
      { numRuns: 400 },
    )
  })

  it('applies what the away replica removed while away to the space', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { agreed, away, result } = story(input)
        const held = new Set(valueDots(away).map(key))
        const live = new Set(valueDots(result).map(key))
        for (const dot of valueDots(agreed)) {
          // Live when the replica left, seen and gone there when it came back: it removed it.
          if (!held.has(key(dot)) && contextHas(away.context, dot)) {
            expect(live.has(key(dot))).toBe(false)
          }
        }
      }),
      { numRuns: 400 },
    )
  })

  it('changes nothing for a replica that wrote everything it holds while away', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { away, offered } = story(input)
        const everything = () => true
        expect(rejoinPart(away, everything)).toBe(away)
        expect(rejoinPart(offered, everything)).toBe(offered)
      }),
    )
  })

  it('offers a valid state: it round-trips through the strict codec', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { offered } = story(input)
        const bytes = encodeValue(offered)
        expect(encodeValue(decodeValue(bytes))).toEqual(bytes)
      }),
      { numRuns: 400 },
    )
  })

  it('offers a tombstone at most for a key it did not write while away', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { away, isAway, offered } = story(input)
        if (!valueDots(away).some(isAway)) expect(isTombstone(offered)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })
})

describe('contextWithout', () => {
  it('removes exactly the given dots and stays compact', () => {
    const dotArb = fc.record({
      replica: fc.constantFrom('a', 'b'),
      counter: fc.integer({ min: 1, max: 12 }),
    })
    fc.assert(
      fc.property(fc.array(dotArb), fc.array(dotArb), (seen, removed) => {
        const expected = seen.filter(
          (dot) => !removed.some((r) => r.replica === dot.replica && r.counter === dot.counter),
        )
        const out = contextWithout(contextFromDots(seen), removed)
        expect(out).toEqual(contextFromDots(expected))
      }),
    )
  })
})
