import { MendsyncError } from '../errors.js'
import {
  type CartLineStore,
  type CartStore,
  type CausalValue,
  compareDots,
  type Data,
  type DotEntry,
  type DotFun,
  makeValue,
  type RegisterStore,
} from '../model/index.js'
import { KeyEnvelopes } from './envelope.js'
import { keyedSkuId } from './keyed-id.js'
import type { SpaceKeyring } from './keyring.js'

/**
 * The sealed form of a key's state, walking the model's public types (no hook in the model):
 *
 * - the causal context is kept as it is (in the clear);
 * - each register sibling keeps its dot and timestamp; its data becomes the envelope of the data;
 * - each cart line moves to the keyed id of its sku; every entry of the line (set, add or meta)
 *   becomes one *sealed entry* with the same dot: a placeholder quantity
 *   ({@link PLACEHOLDER_QUANTITY}) in `sets`, and the envelope of `[sku, kind, value]` in
 *   `meta`. `adds` stays empty. A blind peer so learns neither quantities nor which entries are
 *   adds, sets or meta; every line stays a valid cart line (the codec wants a quantity entry),
 *   and because the placeholder and the envelope share their dot the join keeps or drops both
 *   together, exactly as it keeps or drops the plain entry.
 *
 * The same `joinValues` of `@mendsync/core` merges sealed states, and opening the join of two
 * sealed states gives the join of the plain ones (property-tested).
 */

/** The quantity of every placeholder entry of a sealed cart line. */
export const PLACEHOLDER_QUANTITY = 1

/** The `kind` field of a sealed cart entry's payload. */
export const CART_ENTRY_KIND = { set: 0, add: 1, meta: 2 } as const

type Sealable = { readonly kind: number; readonly entry: DotEntry<Data | number> }

function tagged(kind: number, store: DotFun<Data | number>): Sealable[] {
  return store.map((entry) => ({ kind, entry }))
}

function sealLine(
  envelopes: KeyEnvelopes,
  skuId: string,
  sku: string,
  line: CartLineStore,
): CartLineStore {
  const entries = [
    ...tagged(CART_ENTRY_KIND.set, line.sets),
    ...tagged(CART_ENTRY_KIND.add, line.adds),
    ...tagged(CART_ENTRY_KIND.meta, line.meta),
  ].sort((a, b) => compareDots(a.entry, b.entry))
  const sets: DotEntry<number>[] = []
  const meta: DotEntry<Data>[] = []
  for (const { kind, entry } of entries) {
    const previous = sets[sets.length - 1]
    if (previous !== undefined && compareDots(previous, entry) === 0) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `cart line "${sku}" holds dot ${entry.replica}:${entry.counter} twice; cannot seal it`,
      )
    }
    const dot = { replica: entry.replica, counter: entry.counter }
    const envelope = envelopes.seal({ store: 'cart', skuId }, dot, [sku, kind, entry.value])
    sets.push({ ...dot, value: PLACEHOLDER_QUANTITY })
    meta.push({ ...dot, value: envelope })
  }
  return { sets, adds: [], meta }
}

/**
 * Seals the state (or delta) `value` of the key whose keyed id is `keyId` ({@link keyedKeyId} of
 * its name) with the keyring's current epoch (see the module description for the layout). Every
 * envelope gets a fresh nonce: seal each delta once, when it is made, and join sealed deltas into
 * the sealed state; never re-seal a whole state (that would give every existing entry a second,
 * different envelope for the same dot). Throws `INVALID_ARGUMENT` on a cart line holding one dot
 * in two of its stores (no operation makes one).
 */
export function sealValue(keyring: SpaceKeyring, keyId: string, value: CausalValue): CausalValue {
  const envelopes = new KeyEnvelopes(keyring, keyId)
  const register: RegisterStore = value.register.map((e) => {
    const dot = { replica: e.replica, counter: e.counter }
    const envelope = envelopes.seal({ store: 'register', time: e.value.time }, dot, e.value.value)
    return { ...dot, value: { value: envelope, time: e.value.time } }
  })
  const cart = new Map<string, CartLineStore>()
  for (const [sku, line] of value.cart) {
    const skuId = keyedSkuId(keyring, keyId, sku)
    cart.set(skuId, sealLine(envelopes, skuId, sku, line))
  }
  return makeValue(value.context, register, cart satisfies CartStore)
}
