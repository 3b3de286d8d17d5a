import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  advanceVersionVector,
  applyVersionVectorDelta,
  compareVersionVectors,
  createVersionVector,
  decodeVersionVector,
  decodeVersionVectorDelta,
  diffVersionVectors,
  encodeVersionVector,
  encodeVersionVectorDelta,
  isMendsyncError,
  mergeVersionVectors,
  type VersionVector,
  versionVectorEquals,
  versionVectorGet,
  versionVectorIncludes,
} from '../../src/index.js'

const REPLICAS = ['a', 'b', 'c', 'd']
const vvArb: fc.Arbitrary<VersionVector> = fc
  .array(fc.tuple(fc.constantFrom(...REPLICAS), fc.integer({ min: 0, max: 5 })), { maxLength: 6 })
  .map((entries) => createVersionVector(entries))

function leq(a: VersionVector, b: VersionVector): boolean {
  return REPLICAS.every((r) => versionVectorGet(a, r) <= versionVectorGet(b, r))
}

describe('version vectors', () => {
  it('compare agrees with the pointwise order', () => {
    fc.assert(
      fc.property(vvArb, vvArb, (a, b) => {
        const ab = leq(a, b)
        const ba = leq(b, a)
        const expected = ab && ba ? 'equal' : ab ? 'before' : ba ? 'after' : 'concurrent'
        expect(compareVersionVectors(a, b)).toBe(expected)
        expect(versionVectorEquals(a, b)).toBe(ab && ba)
      }),
    )
  })

  it('merge is the least upper bound: commutative, associative, idempotent', () => {
    fc.assert(
      fc.property(vvArb, vvArb, vvArb, (a, b, c) => {
        const ab = mergeVersionVectors(a, b)
        expect(leq(a, ab) && leq(b, ab)).toBe(true)
        for (const r of REPLICAS) {
          expect(versionVectorGet(ab, r)).toBe(
            Math.max(versionVectorGet(a, r), versionVectorGet(b, r)),
          )
        }
        expect(versionVectorEquals(ab, mergeVersionVectors(b, a))).toBe(true)
        expect(
          versionVectorEquals(
            mergeVersionVectors(ab, c),
            mergeVersionVectors(a, mergeVersionVectors(b, c)),
          ),
        ).toBe(true)
        expect(versionVectorEquals(mergeVersionVectors(a, a), a)).toBe(true)
      }),
    )
  })

  it('a delta against the previous vector rebuilds the next one, and both encode and decode', () => {
    fc.assert(
      fc.property(vvArb, vvArb, (previous, next) => {
        const delta = diffVersionVectors(previous, next)
        expect(versionVectorEquals(applyVersionVectorDelta(previous, delta), next)).toBe(true)
        expect(applyVersionVectorDelta(previous, delta)).toEqual(next)
        const decoded = decodeVersionVectorDelta(encodeVersionVectorDelta(delta))
        expect(versionVectorEquals(applyVersionVectorDelta(previous, decoded), next)).toBe(true)
        expect(decodeVersionVector(encodeVersionVector(next))).toEqual(next)
        // Only changed entries travel.
        for (const [replica, counter] of delta.changed)
          expect(previous.get(replica)).not.toBe(counter)
      }),
    )
    // A typical gossip step: one replica advanced, one entry in the delta.
    const previous = createVersionVector({ a: 10, b: 7, c: 3 })
    const delta = diffVersionVectors(previous, advanceVersionVector(previous, 'b'))
    expect([...delta.changed]).toEqual([['b', 8]])
    expect(delta.removed).toEqual([])
  })

  it('includes, get and advance behave, and invalid input is refused', () => {
    const vv = createVersionVector([
      ['a', 3],
      ['b', 0],
    ])
    expect(vv.has('b')).toBe(false)
    expect(versionVectorIncludes(vv, { replica: 'a', counter: 3 })).toBe(true)
    expect(versionVectorIncludes(vv, { replica: 'a', counter: 4 })).toBe(false)
    expect(advanceVersionVector(vv, 'a', 2)).toBe(vv)
    expect(versionVectorGet(advanceVersionVector(vv, 'a', 9), 'a')).toBe(9)
    for (const bad of [[['', 1]], [['a', -1]], [['a', 1.5]]] as [string, number][][]) {
      try {
        createVersionVector(bad)
        expect.unreachable()
      } catch (error) {
        expect(isMendsyncError(error, 'INVALID_ARGUMENT')).toBe(true)
      }
    }
  })

  it('decoding random bytes only ever throws DECODE_ERROR', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        for (const decode of [decodeVersionVector, decodeVersionVectorDelta]) {
          try {
            decode(bytes)
          } catch (error) {
            expect(isMendsyncError(error, 'DECODE_ERROR')).toBe(true)
          }
        }
      }),
    )
  })
})
