import { encode as cborEncode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CartLineStore,
  type CausalValue,
  decodeValue,
  encodeValue,
  formatDot,
  isMendsyncError,
  makeValue,
} from '../../src/index.js'
import {
  CART_ENTRY_KIND,
  keyedKeyId,
  openValue,
  requireIntact,
  sealValue,
} from '../../src/sealed/index.js'
import { historyArb } from '../model/helpers.js'
import { KEY_NAME, runSealedHistory, testKeyring } from './sealed-histories.js'

const keyring = testKeyring()
const keyId = keyedKeyId(keyring, KEY_NAME)
const OTHER_NAME = 'cart:bob'

/** One envelope of a sealed state: where it sits and its bytes. */
interface Slot {
  readonly id: string
  readonly dot: { readonly replica: string; readonly counter: number }
  readonly envelope: Uint8Array
}

function slotId(where: string, dot: { replica: string; counter: number }): string {
  return `${where}|${formatDot(dot)}`
}

function slotsOf(state: CausalValue): Slot[] {
  const out: Slot[] = []
  for (const e of state.register) {
    out.push({ id: slotId('r', e), dot: e, envelope: e.value.value as Uint8Array })
  }
  for (const [skuId, line] of state.cart) {
    for (const e of line.meta) {
      out.push({ id: slotId(skuId, e), dot: e, envelope: e.value as Uint8Array })
    }
  }
  return out
}

/** `state` with the envelopes of the slots in `replace` exchanged. */
function withEnvelopes(state: CausalValue, replace: ReadonlyMap<string, Uint8Array>): CausalValue {
  const register = state.register.map((e) => {
    const envelope = replace.get(slotId('r', e))
    return envelope === undefined ? e : { ...e, value: { ...e.value, value: envelope } }
  })
  const cart = new Map<string, CartLineStore>()
  for (const [skuId, line] of state.cart) {
    const meta = line.meta.map((e) => {
      const envelope = replace.get(slotId(skuId, e))
      return envelope === undefined ? e : { ...e, value: envelope }
    })
    cart.set(skuId, { ...line, meta })
  }
  return makeValue(state.context, register, cart)
}

/** Every entry of a plain state, as `dot -> description`, to compare what opening returned. */
function entriesOf(state: CausalValue): Map<string, string> {
  const out = new Map<string, string>()
  const describe = (parts: unknown[]) => Buffer.from(cborEncode(parts)).toString('hex')
  for (const e of state.register) {
    out.set(formatDot(e), describe(['r', e.value.value, e.value.time.wall, e.value.time.logical]))
  }
  for (const [sku, line] of state.cart) {
    for (const e of line.sets) out.set(formatDot(e), describe([sku, CART_ENTRY_KIND.set, e.value]))
    for (const e of line.adds) out.set(formatDot(e), describe([sku, CART_ENTRY_KIND.add, e.value]))
    for (const e of line.meta) out.set(formatDot(e), describe([sku, CART_ENTRY_KIND.meta, e.value]))
  }
  return out
}

type Mutation =
  | { readonly t: 'flip'; readonly slot: number; readonly at: number; readonly xor: number }
  | { readonly t: 'swap'; readonly slot: number; readonly other: number }
  | { readonly t: 'replay'; readonly slot: number; readonly other: number }
  | { readonly t: 'foreign'; readonly slot: number }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    t: fc.constant('flip' as const),
    slot: fc.nat(),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ t: fc.constant('swap' as const), slot: fc.nat(), other: fc.nat() }),
  fc.record({ t: fc.constant('replay' as const), slot: fc.nat(), other: fc.nat() }),
  fc.record({ t: fc.constant('foreign' as const), slot: fc.nat() }),
)

/** Applies `mutation` to `sealed` (whose plain twin is `plain`); returns the state and the dots it altered. */
function mutate(
  sealed: CausalValue,
  plain: CausalValue,
  mutation: Mutation,
): { state: CausalValue; altered: Set<string> } {
  const slots = slotsOf(sealed)
  const slot = slots[mutation.slot % slots.length] as Slot
  const replace = new Map<string, Uint8Array>()
  const altered = new Set<string>()
  const put = (target: Slot, envelope: Uint8Array) => {
    replace.set(target.id, envelope)
    altered.add(formatDot(target.dot))
  }
  switch (mutation.t) {
    case 'flip': {
      const bytes = new Uint8Array(slot.envelope)
      const at = mutation.at % bytes.length
      bytes[at] = (bytes[at] as number) ^ mutation.xor
      put(slot, bytes)
      break
    }
    case 'swap': {
      const other = slots[mutation.other % slots.length] as Slot
      if (other.id === slot.id) return mutate(sealed, plain, { t: 'flip', slot: 0, at: 0, xor: 1 })
      put(slot, other.envelope)
      put(other, slot.envelope)
      break
    }
    case 'replay': {
      const other = slots[mutation.other % slots.length] as Slot
      if (other.id === slot.id) return mutate(sealed, plain, { t: 'flip', slot: 0, at: 0, xor: 1 })
      put(slot, other.envelope)
      break
    }
    case 'foreign': {
      // The same dot's envelope of another key (the same plain state sealed under another name).
      const foreign = slotsOf(sealValue(keyring, keyedKeyId(keyring, OTHER_NAME), plain))
      const twin = foreign.find((s) => formatDot(s.dot) === formatDot(slot.dot)) as Slot
      put(slot, twin.envelope)
      break
    }
  }
  return { state: withEnvelopes(sealed, replace), altered }
}

describe('tampered sealed states', () => {
  it('an altered, swapped, replayed or foreign envelope is never returned, is quarantined, and every other entry of the key stays readable', () => {
    fc.assert(
      fc.property(historyArb('mixed', 30), fc.nat(), mutationArb, (steps, pick, mutation) => {
        const { pairs } = runSealedHistory(keyring, steps)
        const candidates = pairs.filter((p) => slotsOf(p.sealed).length >= 2)
        fc.pre(candidates.length > 0)
        const { plain, sealed } = candidates[pick % candidates.length] as (typeof candidates)[0]
        const { state, altered } = mutate(sealed, plain, mutation)
        const opened = openValue(keyring, keyId, state)
        const expected = entriesOf(plain)
        const returned = entriesOf(opened.value)
        // Zero tampered values accepted: whatever opening returns is exactly the plain entry.
        for (const [dot, entry] of returned) expect(entry).toBe(expected.get(dot))
        expect(new Set(opened.quarantined.map((q) => formatDot(q.dot)))).toEqual(altered)
        for (const dot of expected.keys()) {
          if (!altered.has(dot)) expect(returned.has(dot)).toBe(true)
        }
        // A flipped epoch byte names an epoch this keyring lacks: refused all the same, but
        // indistinguishable from a rotation this device was not given.
        const epochFlipped =
          mutation.t === 'flip' && opened.quarantined[0]?.reason === 'unknown-epoch'
        expect(() => requireIntact(opened)).toThrow(
          expect.objectContaining({ code: epochFlipped ? 'ACCESS_DENIED' : 'SEALED_TAMPERED' }),
        )
      }),
    )
  })

  it('a byte flipped anywhere in an encoded sealed state is refused by the codec or yields only entries of the plain state', () => {
    fc.assert(
      fc.property(
        historyArb('mixed', 30),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (steps, pick, at, xor) => {
          const { pairs } = runSealedHistory(keyring, steps)
          fc.pre(pairs.length > 0)
          const { plain, sealed } = pairs[pick % pairs.length] as (typeof pairs)[0]
          const bytes = encodeValue(sealed)
          const i = at % bytes.length
          bytes[i] = (bytes[i] as number) ^ xor
          let decoded: CausalValue
          try {
            decoded = decodeValue(bytes)
          } catch (error) {
            expect(isMendsyncError(error, 'DECODE_ERROR')).toBe(true)
            return
          }
          // The context is not authenticated (a flip there may hide entries); values are:
          // whatever opens is exactly an entry of the plain state, at its own dot.
          const expected = entriesOf(plain)
          const opened = openValue(keyring, keyId, decoded)
          for (const [dot, entry] of entriesOf(opened.value)) expect(entry).toBe(expected.get(dot))
        },
      ),
    )
  })

  it('a whole state served under another key opens to nothing: every entry is quarantined', () => {
    fc.assert(
      fc.property(historyArb('mixed', 30), (steps) => {
        for (const { sealed } of runSealedHistory(keyring, steps).pairs) {
          const opened = openValue(keyring, keyedKeyId(keyring, OTHER_NAME), sealed)
          expect(opened.value.register).toEqual([])
          expect(opened.value.cart.size).toBe(0)
          expect(opened.quarantined).toHaveLength(slotsOf(sealed).length)
        }
      }),
    )
  })

  it('a register sibling whose timestamp was changed is quarantined (the timestamp is bound)', () => {
    const sealed = runSealedHistory(keyring, [
      { t: 'write', r: 0, value: 1, withContext: false },
      { t: 'write', r: 1, value: 2, withContext: false },
    ]).sealed
    const a = sealed[0] as CausalValue
    const b = sealed[1] as CausalValue
    const first = a.register[0] as (typeof a.register)[0]
    const retimed = makeValue(a.context, [
      { ...first, value: { ...first.value, time: { wall: 999, logical: 0 } } },
    ])
    const opened = openValue(keyring, keyId, retimed)
    expect(opened.value.register).toEqual([])
    expect(opened.quarantined).toEqual([
      { dot: { replica: 'alice', counter: 1 }, store: 'register', reason: 'tampered' },
    ])
    expect(openValue(keyring, keyId, b).quarantined).toEqual([])
  })

  it('a cart placeholder that was changed, dropped or duplicated as an add quarantines its dot', () => {
    const [sealed] = runSealedHistory(keyring, [
      { t: 'add', r: 0, sku: 'apple', n: 2, meta: 'red' },
      { t: 'add', r: 0, sku: 'bread', n: 1 },
    ]).sealed
    const state = sealed as CausalValue
    const variants: ((line: CartLineStore) => CartLineStore)[] = [
      (line) => ({ ...line, sets: line.sets.map((e, i) => (i === 0 ? { ...e, value: 7 } : e)) }),
      (line) => ({ ...line, sets: line.sets.slice(1) }),
      (line) => ({ ...line, adds: [line.sets[0] as (typeof line.sets)[0]] }),
    ]
    for (const variant of variants) {
      const cart = new Map(state.cart)
      const [skuId, line] = [...cart][0] as [string, CartLineStore]
      cart.set(skuId, variant(line))
      const opened = openValue(keyring, keyId, makeValue(state.context, [], cart))
      const dot = formatDot(line.sets[0] as (typeof line.sets)[0])
      expect(opened.quarantined.map((q) => formatDot(q.dot))).toEqual([dot])
      expect(entriesOf(opened.value).has(dot)).toBe(false)
      expect(entriesOf(opened.value).size).toBe(2)
      try {
        requireIntact(opened)
        expect.unreachable('requireIntact must throw')
      } catch (error) {
        expect(isMendsyncError(error, 'SEALED_TAMPERED')).toBe(true)
        expect(String(error)).toContain(dot)
      }
    }
  })
})
