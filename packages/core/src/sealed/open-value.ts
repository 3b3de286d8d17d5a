import { MendsyncError } from '../errors.js'
import {
  type CartLineStore,
  type CausalValue,
  type Data,
  type Dot,
  type DotEntry,
  formatDot,
  LIMITS,
  makeValue,
  type RegisterStore,
  type Sibling,
  toData,
} from '../model/index.js'
import { type EntryPlace, KeyEnvelopes, type OpenFailure } from './envelope.js'
import { keyedSkuId } from './keyed-id.js'
import type { SpaceKeyring } from './keyring.js'
import { CART_ENTRY_KIND, PLACEHOLDER_QUANTITY } from './seal-value.js'

/** A sealed entry that {@link openValue} did not return, and why. */
export interface QuarantinedEntry {
  readonly dot: Dot
  /** The store it was in. */
  readonly store: 'register' | 'cart'
  /** For a cart entry: the keyed id of its line. */
  readonly skuId?: string
  /**
   * `tampered`: the envelope failed authentication (altered, moved to another key, line or dot,
   * given another timestamp) or its authentic content is not what a sealer writes;
   * `unknown-epoch`: sealed with an epoch this keyring lacks (written after a rotation this
   * device was not given, or before it received the new key).
   */
  readonly reason: OpenFailure
}

/** What {@link openValue} returns. */
export interface OpenedValue {
  /**
   * The plain state: the sealed state's context with every entry that opened. Read it with the
   * model's readers (`readRegister`, `readCart`); do not join it into sealed states or re-seal it.
   */
  readonly value: CausalValue
  /** The entries left out, in the order met (register first, then cart lines). */
  readonly quarantined: readonly QuarantinedEntry[]
}

/** `input` as data when it is valid data, otherwise `undefined`. */
function asData(input: unknown): Data | undefined {
  try {
    return toData(input)
  } catch {
    // Authentic but invalid content counts as tampered: the caller quarantines the entry.
    return undefined
  }
}

function isQuantity(input: unknown): input is number {
  return (
    typeof input === 'number' &&
    Number.isSafeInteger(input) &&
    input >= 1 &&
    input <= LIMITS.maxQuantity
  )
}

function openRegister(
  envelopes: KeyEnvelopes,
  store: RegisterStore,
  quarantined: QuarantinedEntry[],
): RegisterStore {
  const out: DotEntry<Sibling>[] = []
  for (const e of store) {
    const dot = { replica: e.replica, counter: e.counter }
    const place: EntryPlace = { store: 'register', time: e.value.time }
    const opened = envelopes.open(place, dot, e.value.value)
    const data = opened.ok ? asData(opened.payload) : undefined
    if (data === undefined) {
      quarantined.push({ dot, store: 'register', reason: opened.ok ? 'tampered' : opened.reason })
    } else {
      out.push({ ...dot, value: { value: data, time: e.value.time } })
    }
  }
  return out
}

interface OpenedCartEntry {
  readonly sku: string
  readonly kind: number
  readonly value: Data
}

/**
 * The entry an authentic payload describes, or `undefined` when it is not what a sealer writes.
 * `lineSku` is the sku already verified for this line: later entries must name the same one
 * (one HMAC per line, not per entry).
 */
function readCartPayload(
  payload: unknown,
  envelopes: KeyEnvelopes,
  skuId: string,
  lineSku: string | undefined,
): OpenedCartEntry | undefined {
  if (!Array.isArray(payload) || payload.length !== 3) return undefined
  const [sku, kind, value] = payload as unknown[]
  if (typeof sku !== 'string') return undefined
  if (
    lineSku !== undefined
      ? sku !== lineSku
      : keyedSkuId(envelopes.keyring, envelopes.keyId, sku) !== skuId
  ) {
    return undefined
  }
  if (kind === CART_ENTRY_KIND.set || kind === CART_ENTRY_KIND.add) {
    return isQuantity(value) ? { sku, kind, value } : undefined
  }
  if (kind !== CART_ENTRY_KIND.meta) return undefined
  const data = asData(value)
  return data === undefined ? undefined : { sku, kind, value: data }
}

function openLine(
  envelopes: KeyEnvelopes,
  skuId: string,
  line: CartLineStore,
  quarantined: QuarantinedEntry[],
): { sku: string; line: CartLineStore } | undefined {
  const rejected = new Set<string>()
  const reject = (dot: Dot, reason: OpenFailure) => {
    const id = formatDot(dot)
    if (rejected.has(id)) return
    rejected.add(id)
    quarantined.push({
      dot: { replica: dot.replica, counter: dot.counter },
      store: 'cart',
      skuId,
      reason,
    })
  }
  // A sealer writes one placeholder per envelope, with the same dot, and no adds: anything else
  // was changed on the way, and the dots concerned are quarantined.
  const placeholders = new Set<string>()
  for (const e of line.sets) {
    if (e.value === PLACEHOLDER_QUANTITY) placeholders.add(formatDot(e))
    else reject(e, 'tampered')
  }
  for (const e of line.adds) reject(e, 'tampered')
  const sets: DotEntry<number>[] = []
  const adds: DotEntry<number>[] = []
  const meta: DotEntry<Data>[] = []
  let sku: string | undefined
  const enveloped = new Set<string>()
  for (const e of line.meta) {
    const dot = { replica: e.replica, counter: e.counter }
    enveloped.add(formatDot(dot))
    if (rejected.has(formatDot(dot))) continue
    if (!placeholders.has(formatDot(dot))) {
      reject(dot, 'tampered')
      continue
    }
    const opened = envelopes.open({ store: 'cart', skuId }, dot, e.value)
    if (!opened.ok) {
      reject(dot, opened.reason)
      continue
    }
    const entry = readCartPayload(opened.payload, envelopes, skuId, sku)
    if (entry === undefined) {
      reject(dot, 'tampered')
      continue
    }
    sku = entry.sku
    if (entry.kind === CART_ENTRY_KIND.set) sets.push({ ...dot, value: entry.value as number })
    else if (entry.kind === CART_ENTRY_KIND.add) adds.push({ ...dot, value: entry.value as number })
    else meta.push({ ...dot, value: entry.value })
  }
  for (const e of line.sets) {
    if (e.value === PLACEHOLDER_QUANTITY && !enveloped.has(formatDot(e))) reject(e, 'tampered')
  }
  return sku === undefined ? undefined : { sku, line: { sets, adds, meta } }
}

/**
 * Opens the sealed state `sealed` stored under the keyed id `keyId`. Never throws on hostile
 * content: every entry that fails authentication, holds what no sealer writes, or was sealed
 * with an epoch this keyring lacks is left out and listed in `quarantined`; every other entry of
 * the key stays readable. Use {@link requireIntact} where a read must fail instead.
 */
export function openValue(keyring: SpaceKeyring, keyId: string, sealed: CausalValue): OpenedValue {
  const envelopes = new KeyEnvelopes(keyring, keyId)
  const quarantined: QuarantinedEntry[] = []
  const register = openRegister(envelopes, sealed.register, quarantined)
  const cart = new Map<string, CartLineStore>()
  for (const [skuId, line] of sealed.cart) {
    const opened = openLine(envelopes, skuId, line, quarantined)
    if (opened !== undefined) cart.set(opened.sku, opened.line)
  }
  return { value: makeValue(sealed.context, register, cart), quarantined }
}

/**
 * Throws when `opened` left entries out: `SEALED_TAMPERED` when any failed authentication (the
 * message lists the dots), `ACCESS_DENIED` when the only ones left out were sealed with an epoch
 * the keyring lacks. Returns `opened` otherwise. `what` names the key in the message (the caller
 * knows its name; the sealed state does not say it).
 */
export function requireIntact(opened: OpenedValue, what = 'a sealed key'): OpenedValue {
  if (opened.quarantined.length === 0) return opened
  const tampered = opened.quarantined.filter((q) => q.reason === 'tampered')
  if (tampered.length > 0) {
    throw new MendsyncError(
      'SEALED_TAMPERED',
      `${what}: ${tampered.length} sealed entr${tampered.length === 1 ? 'y' : 'ies'} failed ` +
        `authentication and were left out (${tampered.map((q) => formatDot(q.dot)).join(', ')}); ` +
        'the peer that served them altered or moved them: read from another peer',
    )
  }
  throw new MendsyncError(
    'ACCESS_DENIED',
    `${what}: ${opened.quarantined.length} entries are sealed with an epoch this keyring lacks; ` +
      'ask a holder of the space for the rotated key',
  )
}
