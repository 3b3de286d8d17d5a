import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalValue,
  contextHas,
  type Data,
  deleteValue,
  emptyValue,
  HybridClock,
  isMendsyncError,
  joinValues,
  LIMITS,
  type ReadContext,
  readRegister,
  resolveRegister,
  type SiblingView,
  writeRegister,
} from '../../src/index.js'
import { historyArb, joinAll, runHistory } from './helpers.js'

const alice = { replica: 'alice' }
const bob = { replica: 'bob' }
const carol = { replica: 'carol' }

function values(state: CausalValue): Data[] {
  return readRegister(state).siblings.map((s) => s.value)
}

describe('register (multi-value, dotted version vectors)', () => {
  it('a write with a read context supersedes exactly the siblings that read saw', () => {
    const base = writeRegister(emptyValue(), alice, 'v0').state
    const a = writeRegister(base, alice, 'from alice', readRegister(base).context).state
    const b = writeRegister(base, bob, 'from bob', readRegister(base).context).state
    const both = joinValues(a, b)
    expect(values(both)).toEqual(['from alice', 'from bob'])
    // Carol saw only Alice's write: hers replaces it, Bob's stays as a sibling.
    const carolSawA = writeRegister(
      joinValues(emptyValue(), a),
      carol,
      'from carol',
      readRegister(a).context,
    )
    expect(values(joinValues(both, carolSawA.state))).toEqual(['from bob', 'from carol'])
    expect(values(joinValues(both, carolSawA.delta))).toEqual(['from bob', 'from carol'])
    // A read of both siblings resolves both.
    const resolved = writeRegister(both, carol, 'merged', readRegister(both).context).state
    expect(values(joinAll([resolved, a, b, base]))).toEqual(['merged'])
  })

  it('a write without a context adds a sibling', () => {
    const one = writeRegister(emptyValue(), alice, 1).state
    const two = writeRegister(one, alice, 2).state
    expect(values(two)).toEqual([1, 2])
    expect(readRegister(two).conflict).toBe(true)
    expect(readRegister(two).value).toBeUndefined()
  })

  it('after any write, the siblings are the new one plus exactly those the context had not seen', () => {
    fc.assert(
      fc.property(historyArb('register', 40), (steps) => {
        for (const { before, result } of runHistory(steps).mutations) {
          if (result.delta.register.length !== 1) continue // a delete
          const written = result.delta.register[0] as { replica: string; counter: number }
          const expected = before.register
            .filter((e) => !contextHas(result.delta.context, e))
            .map((e) => `${e.replica}:${e.counter}`)
          expected.push(`${written.replica}:${written.counter}`)
          const actual = readRegister(result.state).siblings.map(
            (s) => `${s.dot.replica}:${s.dot.counter}`,
          )
          expect(actual.sort()).toEqual(expected.sort())
        }
      }),
      { numRuns: 150 },
    )
  })

  it('sibling explosion (riak_test sibling_explosion): two writers alternating read-resolve-write with stale contexts never exceed 2 siblings or lose a write', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 100, maxLength: 100 }),
        (schedule) => {
          const writers = [alice, bob]
          let server = emptyValue()
          // Each client holds the context of its last response; the other client's writes make it stale.
          const contexts = [readRegister(server).context, readRegister(server).context]
          const seen: string[][] = [[], []]
          const acknowledged: string[] = []
          // The strict alternation of riak_test first, then the random interleaving.
          const order = [...Array.from({ length: 100 }, (_, i) => i % 2), ...schedule]
          order.forEach((client, i) => {
            const item = `${client}-${i}`
            // Resolve: the union of what this client last read, plus its new item.
            const resolved = [...new Set([...(seen[client] as string[]), item])].sort()
            server = writeRegister(
              server,
              writers[client] as { replica: string },
              resolved,
              contexts[client],
            ).state
            acknowledged.push(item)
            const response = readRegister(server)
            contexts[client] = response.context
            seen[client] = response.siblings.flatMap((s) => s.value as string[])
            expect(response.siblings.length).toBeLessThanOrEqual(2)
            const union = new Set(response.siblings.flatMap((s) => s.value as string[]))
            expect(acknowledged.filter((written) => !union.has(written))).toEqual([])
          })
        },
      ),
      { numRuns: 20 },
    )
  })

  it('lww arbitrates concurrent siblings by (timestamp, replica id)', () => {
    const base = emptyValue()
    const early = writeRegister(
      base,
      { replica: 'zed', time: { wall: 1000, logical: 0 } },
      'early',
    ).state
    const late = writeRegister(
      base,
      { replica: 'amy', time: { wall: 2000, logical: 0 } },
      'late',
    ).state
    expect(readRegister(joinValues(early, late), 'lww').value).toBe('late')
    expect(readRegister(joinValues(late, early), 'lww').value).toBe('late')
    // Same timestamp: the greater replica id wins.
    const t = { wall: 5, logical: 1 }
    const x = writeRegister(base, { replica: 'amy', time: t }, 'amy').state
    const y = writeRegister(base, { replica: 'zed', time: t }, 'zed').state
    expect(readRegister(joinValues(x, y), 'lww').value).toBe('zed')
    // Arbitration is a read policy: the siblings are still there.
    expect(readRegister(joinValues(x, y), 'lww').siblings).toHaveLength(2)
  })

  it('with lww, a causally later write always wins whatever the clocks say (±1 hour skew)', () => {
    const HOUR = 3_600_000
    fc.assert(
      fc.property(
        fc.integer({ min: -HOUR, max: HOUR }),
        fc.integer({ min: -HOUR, max: HOUR }),
        fc.boolean(),
        (skewA, skewB, tickClocks) => {
          const physical = 1_700_000_000_000
          const clockA = new HybridClock({ now: () => physical + skewA, maxDriftMs: 60_000 })
          const clockB = new HybridClock({ now: () => physical + skewB, maxDriftMs: 60_000 })
          const first = writeRegister(
            emptyValue(),
            { replica: 'alice', time: clockA.now() },
            'first',
          )
          // Bob receives Alice's write (optionally updating his clock), then overwrites it.
          const bobState = joinValues(emptyValue(), first.delta)
          if (tickClocks) clockB.receive(first.delta.register[0]?.value.time ?? clockB.now())
          const second = writeRegister(
            bobState,
            { replica: 'bob', time: clockB.now() },
            'second',
            readRegister(bobState).context,
          )
          for (const state of [
            joinValues(first.state, second.delta),
            joinValues(second.state, first.state),
          ]) {
            const read = readRegister(state, 'lww')
            expect(read.value).toBe('second')
            expect(read.siblings).toHaveLength(1)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a resolver sees the siblings in canonical order, whatever the join order', () => {
    const calls: string[] = []
    const firstWins = (siblings: readonly SiblingView[]): Data => {
      calls.push(siblings.map((s) => s.value).join(','))
      return siblings[0]?.value ?? null
    }
    const a = writeRegister(emptyValue(), carol, 'c').state
    const b = writeRegister(emptyValue(), alice, 'a').state
    const c = writeRegister(emptyValue(), bob, 'b').state
    const results = [joinAll([a, b, c]), joinAll([c, b, a]), joinAll([b, a, c])].map(
      (s) => readRegister(s, firstWins).value,
    )
    expect(results).toEqual(['a', 'a', 'a'])
    expect(new Set(calls)).toEqual(new Set(['a,b,c']))
  })

  it('resolveRegister collapses siblings into one write that replicates', () => {
    const a = writeRegister(
      emptyValue(),
      { replica: 'alice', time: { wall: 1, logical: 0 } },
      'a',
    ).state
    const b = writeRegister(
      emptyValue(),
      { replica: 'bob', time: { wall: 2, logical: 0 } },
      'b',
    ).state
    const both = joinValues(a, b)
    const resolved = resolveRegister(both, carol, 'lww')
    expect(resolved).not.toBeNull()
    expect(values(resolved?.state as CausalValue)).toEqual(['b'])
    expect(values(joinAll([a, b, resolved?.delta as CausalValue]))).toEqual(['b'])
    expect(resolveRegister(a, carol, 'lww')).toBeNull()
  })

  it('stores a frozen copy of the data and refuses what CBOR cannot carry exactly', () => {
    const input = { list: [1, 2], bytes: new Uint8Array([1, 2]), nested: { ok: true } }
    const state = writeRegister(emptyValue(), alice, input).state
    input.list.push(3)
    ;(input.bytes as Uint8Array)[0] = 9
    const stored = readRegister(state).value as { list: number[]; bytes: Uint8Array }
    expect(stored.list).toEqual([1, 2])
    expect(stored.bytes).toEqual(new Uint8Array([1, 2]))
    expect(Object.isFrozen(stored)).toBe(true)
    const holey: unknown[] = [1]
    holey[2] = 3
    let deep: Data = 'leaf'
    for (let i = 0; i < LIMITS.maxDepth + 1; i++) deep = [deep]
    for (const bad of [
      undefined,
      Number.NaN,
      Infinity,
      10n,
      new Date(),
      new Map(),
      () => 1,
      holey,
      deep,
      '\udc00',
    ]) {
      let caught: unknown
      try {
        writeRegister(emptyValue(), alice, bad)
      } catch (error) {
        caught = error
      }
      expect(isMendsyncError(caught, 'INVALID_ARGUMENT')).toBe(true)
    }
  })

  it('refuses a context that is not a causal context', () => {
    for (const attempt of [
      () => writeRegister(emptyValue(), alice, 1, { nope: true } as unknown as ReadContext),
      () => deleteValue(emptyValue(), { versionVector: new Map([['a', -1]]), cloud: new Map() }),
    ]) {
      let caught: unknown
      try {
        attempt()
      } catch (error) {
        caught = error
      }
      expect(isMendsyncError(caught, 'INVALID_ARGUMENT')).toBe(true)
    }
  })

  it(`refuses a blind write beyond ${LIMITS.maxSiblings} siblings`, () => {
    let state = emptyValue()
    for (let i = 0; i < LIMITS.maxSiblings; i++) state = writeRegister(state, alice, i).state
    expect(() => writeRegister(state, alice, 'one too many')).toThrow(/siblings/)
    // Writing with the read context resolves them.
    expect(values(writeRegister(state, alice, 'ok', readRegister(state).context).state)).toEqual([
      'ok',
    ])
  })
})
