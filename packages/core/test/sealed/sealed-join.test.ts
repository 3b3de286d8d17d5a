import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CausalValue,
  decodeValue,
  encodeValue,
  joinValues,
  valueEquals,
} from '../../src/index.js'
import { keyedKeyId, openValue, sealValue } from '../../src/sealed/index.js'
import { historyArb } from '../model/helpers.js'
import { KEY_NAME, runSealedHistory, testKeyring } from './sealed-histories.js'

const keyring = testKeyring()
const keyId = keyedKeyId(keyring, KEY_NAME)
const KINDS = ['register', 'cart', 'mixed'] as const

function open(sealed: CausalValue): CausalValue {
  const opened = openValue(keyring, keyId, sealed)
  expect(opened.quarantined).toEqual([])
  return opened.value
}

/** Plain states compare by their encoding (the codec's canonical form). */
function expectSameState(actual: CausalValue, expected: CausalValue): void {
  expect(valueEquals(actual, expected)).toBe(true)
}

describe.each(KINDS)('sealed %s states under random concurrent histories', (kind) => {
  it('every sealed replica opens to its plain twin, and opening the join of two sealed replicas gives the join of the plain ones', () => {
    fc.assert(
      fc.property(historyArb(kind), fc.nat(), fc.nat(), (steps, i, j) => {
        const run = runSealedHistory(keyring, steps)
        for (let r = 0; r < run.plain.length; r++) {
          expectSameState(open(run.sealed[r] as CausalValue), run.plain[r] as CausalValue)
        }
        const a = run.pairs[i % Math.max(1, run.pairs.length)]
        const b = run.pairs[j % Math.max(1, run.pairs.length)]
        if (a === undefined || b === undefined) return
        expectSameState(open(joinValues(a.sealed, b.sealed)), joinValues(a.plain, b.plain))
      }),
    )
  })

  it('open(join(seal(a), seal(b))) equals join(a, b) when a and b are sealed separately', () => {
    fc.assert(
      fc.property(historyArb(kind), fc.nat(), fc.nat(), (steps, i, j) => {
        const run = runSealedHistory(keyring, steps)
        const a = run.pairs[i % Math.max(1, run.pairs.length)]?.plain
        const b = run.pairs[j % Math.max(1, run.pairs.length)]?.plain
        if (a === undefined || b === undefined) return
        const sa = sealValue(keyring, keyId, a)
        const sb = sealValue(keyring, keyId, b)
        expectSameState(open(joinValues(sa, sb)), joinValues(a, b))
      }),
    )
  })

  it('the join of sealed states is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(historyArb(kind), fc.nat(), fc.nat(), fc.nat(), (steps, i, j, k) => {
        const { pairs } = runSealedHistory(keyring, steps)
        if (pairs.length === 0) return
        const pick = (n: number) => (pairs[n % pairs.length] as { sealed: CausalValue }).sealed
        const [x, y, z] = [pick(i), pick(j), pick(k)]
        expect(valueEquals(joinValues(x, y), joinValues(y, x))).toBe(true)
        expect(valueEquals(joinValues(joinValues(x, y), z), joinValues(x, joinValues(y, z)))).toBe(
          true,
        )
        expect(valueEquals(joinValues(x, x), x)).toBe(true)
      }),
    )
  })

  it('sealed states pass the codec unchanged (decode(encode(s)) equals s)', () => {
    fc.assert(
      fc.property(historyArb(kind), (steps) => {
        for (const { sealed } of runSealedHistory(keyring, steps).pairs) {
          expect(valueEquals(decodeValue(encodeValue(sealed)), sealed)).toBe(true)
        }
      }),
    )
  })
})
