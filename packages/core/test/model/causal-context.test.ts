import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalContext,
  compareContexts,
  contextAdd,
  contextCloudSize,
  contextEquals,
  contextFromDots,
  contextFromVersionVector,
  contextFrontier,
  contextHas,
  contextHasAll,
  contextIncludes,
  contextJoin,
  contextMax,
  contextMissing,
  contextNextDot,
  contextSeenUpTo,
  createVersionVector,
  type Dot,
  decodeContext,
  emptyContext,
  encodeContext,
  isCausalContext,
  isMendsyncError,
  sortDots,
} from '../../src/index.js'

const REPLICAS = ['a', 'b', 'c']
const MAX = 12

const dotArb: fc.Arbitrary<Dot> = fc.record({
  replica: fc.constantFrom(...REPLICAS),
  counter: fc.integer({ min: 1, max: MAX }),
})
const dotsArb = fc.array(dotArb, { maxLength: 30 })

const key = (d: Dot) => `${d.replica}:${d.counter}`
const ALL: Dot[] = REPLICAS.flatMap((replica) =>
  Array.from({ length: MAX + 2 }, (_, i) => ({ replica, counter: i + 1 })),
)

/** The context's content as a set of dot keys, over the whole test domain. */
function content(context: CausalContext): Set<string> {
  return new Set(ALL.filter((d) => contextHas(context, d)).map(key))
}

function sameContext(x: CausalContext, y: CausalContext): void {
  expect(contextEquals(x, y)).toBe(true)
  expect(encodeContext(x)).toEqual(encodeContext(y))
}

describe('causal context', () => {
  it('holds exactly the dots it was built from, always compact', () => {
    fc.assert(
      fc.property(dotsArb, (dots) => {
        const context = contextFromDots(dots)
        expect(content(context)).toEqual(new Set(dots.map(key)))
        expect(isCausalContext(context)).toBe(true)
      }),
    )
  })

  it('contiguous dots compact into the version vector, leaving no cloud', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 3, maxLength: 3 }),
        (ns) => {
          const dots = REPLICAS.flatMap((replica, i) =>
            Array.from({ length: ns[i] as number }, (_, k) => ({ replica, counter: k + 1 })),
          )
          // Insert them one by one, in reverse order: the cloud fills, then collapses.
          let context = emptyContext()
          for (const dot of [...dots].reverse()) context = contextAdd(context, dot)
          expect(contextCloudSize(context)).toBe(0)
          expect(context.versionVector).toEqual(
            createVersionVector(REPLICAS.map((r, i) => [r, ns[i] as number] as const)),
          )
        },
      ),
    )
  })

  it('join is the union, and is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(dotsArb, dotsArb, dotsArb, (x, y, z) => {
        const [a, b, c] = [contextFromDots(x), contextFromDots(y), contextFromDots(z)]
        const ab = contextJoin(a, b)
        expect(content(ab)).toEqual(new Set([...x, ...y].map(key)))
        expect(isCausalContext(ab)).toBe(true)
        sameContext(ab, contextJoin(b, a))
        sameContext(contextJoin(ab, c), contextJoin(a, contextJoin(b, c)))
        sameContext(contextJoin(a, a), a)
        sameContext(ab, contextFromDots([...x, ...y]))
      }),
    )
  })

  it('contextAdd equals the join with a single dot', () => {
    fc.assert(
      fc.property(dotsArb, dotArb, (dots, dot) => {
        const context = contextFromDots(dots)
        sameContext(contextAdd(context, dot), contextJoin(context, contextFromDots([dot])))
      }),
    )
  })

  it('compare, includes, missing and next dot agree with set semantics', () => {
    fc.assert(
      fc.property(dotsArb, dotsArb, (x, y) => {
        const a = contextFromDots(x)
        const b = contextFromDots(y)
        const sa = content(a)
        const sb = content(b)
        const aSeesB = [...sb].every((d) => sa.has(d))
        const bSeesA = [...sa].every((d) => sb.has(d))
        expect(contextIncludes(a, b)).toBe(aSeesB)
        const expected = aSeesB ? (bSeesA ? 'equal' : 'after') : bSeesA ? 'before' : 'concurrent'
        expect(compareContexts(a, b)).toBe(expected)
        expect(contextMissing(a, y)).toEqual(sortDots(y).filter((d) => !sa.has(key(d))))
        expect(contextHasAll(a, y)).toBe(aSeesB)
        for (const replica of REPLICAS) {
          const max = Math.max(0, ...x.filter((d) => d.replica === replica).map((d) => d.counter))
          expect(contextMax(a, replica)).toBe(max)
          expect(contextNextDot(a, replica)).toEqual({ replica, counter: max + 1 })
        }
      }),
    )
  })

  it('contextSeenUpTo(mine, frontier(peer)) is true only when I have seen everything the peer has', () => {
    fc.assert(
      fc.property(dotsArb, dotsArb, (x, y) => {
        const mine = contextFromDots(x)
        const peer = contextFromDots(y)
        if (contextSeenUpTo(mine, contextFrontier(peer)))
          expect(contextIncludes(mine, peer)).toBe(true)
        // With compact (gap-free) histories it is exact.
        const full = contextFromVersionVector(mine.versionVector)
        const fullPeer = contextFromVersionVector(peer.versionVector)
        expect(contextSeenUpTo(full, contextFrontier(fullPeer))).toBe(
          contextIncludes(full, fullPeer),
        )
      }),
    )
  })

  it('round-trips through its encoding and rejects malformed ones', () => {
    fc.assert(
      fc.property(dotsArb, (dots) => {
        const context = contextFromDots(dots)
        sameContext(decodeContext(encodeContext(context)), context)
      }),
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const decoded = decodeContext(bytes)
          expect(isCausalContext(decoded)).toBe(true)
        } catch (error) {
          expect(isMendsyncError(error, 'DECODE_ERROR')).toBe(true)
        }
      }),
    )
  })

  it('refuses invalid dots with INVALID_ARGUMENT', () => {
    for (const bad of [
      { replica: '', counter: 1 },
      { replica: 'a', counter: 0 },
      { replica: 'a', counter: 1.5 },
      { replica: 'a', counter: -2 },
    ]) {
      expect(() => contextFromDots([bad])).toThrow()
      try {
        contextAdd(emptyContext(), bad)
      } catch (error) {
        expect(isMendsyncError(error, 'INVALID_ARGUMENT')).toBe(true)
      }
    }
  })
})
