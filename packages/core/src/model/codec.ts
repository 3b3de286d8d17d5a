import { decode as cborDecode, encode as cborEncode, type DecodeOptions, encodeInto } from 'cborg'
import { MendsyncError } from '../errors.js'
import { type CausalContext, contextHasCounter } from './causal-context.js'
import type {
  CartLineStore,
  CartStore,
  CausalValue,
  RegisterStore,
  Sibling,
} from './causal-value.js'
import { checkDecodedData, type Data } from './data.js'
import type { DotEntry, DotFun } from './dot-store.js'
import { invalid, isReplicaId } from './guards.js'
import { LIMITS } from './limits.js'
import type { ReplicaId, VersionVector } from './types.js'
import type { VersionVectorDelta } from './version-vector.js'

/**
 * Canonical CBOR encoding of the data model (`cborg`). Equal states encode to equal bytes:
 * replica ids go into one sorted table and dots refer to it by index; every list is sorted
 * (replicas by UTF-16 code units, dots by replica then counter, skus by UTF-16 code units);
 * integers use their shortest form; user data is encoded by cborg's deterministic rules (map
 * keys sorted length-first then bytewise, safe integers as integers, other numbers as the
 * shortest exact float). Every encoding starts with {@link FORMAT_VERSION}.
 *
 * Layout of a causal value (all arrays; `ri` is an index into `replicas`):
 * ```
 * [1, replicas: [id...], vv: [ri, n, ...], cloud: [ri, [c...], ...], stores: [tag, store, ...]]
 * register store (tag 1): [ri, counter, wall, logical, data, ...]
 * cart store (tag 2):     [sku, nSets, nAdds, nMeta, sets..., adds..., meta..., sku, ...]
 *   each set or add: ri, counter, qty      each meta: ri, counter, data
 * ```
 * Decoding checks everything (types, ranges, order, compaction, that every stored dot is in the
 * context, the bounds of {@link LIMITS}) and throws `MendsyncError('DECODE_ERROR')` on any
 * defect, cborg's own errors included; it never returns a partly valid value.
 */

/** Version of the encoding, first element of every encoded structure. */
export const FORMAT_VERSION = 1

const TAG_REGISTER = 1
const TAG_CART = 2

/** cborg's options for decoding untrusted bytes strictly (shared by every mendsync decoder). */
export const STRICT_DECODE_OPTIONS: DecodeOptions = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: false,
}

function bad(message: string): never {
  throw new MendsyncError('DECODE_ERROR', message)
}

function decodeCbor(bytes: unknown, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) bad(`${what}: expected a Uint8Array`)
  if (bytes.length > LIMITS.maxEncodedBytes) bad(`${what}: ${bytes.length} bytes exceeds the limit`)
  try {
    return cborDecode(bytes, STRICT_DECODE_OPTIONS)
  } catch (error) {
    // Includes the RangeError of a nesting bomb overflowing cborg's recursion: the depth of
    // legitimate input is bounded (LIMITS.maxDepth is checked on the decoded data), so anything
    // deep enough to exhaust the stack is hostile and refused like any other malformed input.
    const message = error instanceof Error ? error.message : String(error)
    throw new MendsyncError('DECODE_ERROR', `${what}: malformed CBOR (${message})`, {
      cause: error,
    })
  }
}

/** Runs a structural reader, wrapping anything unexpected into DECODE_ERROR. */
function guarded<T>(what: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (error instanceof MendsyncError) {
      if (error.code === 'DECODE_ERROR') {
        if (error.message.startsWith(what)) throw error
        throw new MendsyncError('DECODE_ERROR', `${what}: ${error.message}`, { cause: error })
      }
      throw new MendsyncError('DECODE_ERROR', `${what}: ${error.message}`, { cause: error })
    }
    const message = error instanceof Error ? error.message : String(error)
    throw new MendsyncError('DECODE_ERROR', `${what}: ${message}`, { cause: error })
  }
}

function array(input: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(input)) bad(`${what} must be an array`)
  return input
}

function counterAt(input: unknown, what: string): number {
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 1) {
    bad(`${what} must be a positive integer`)
  }
  return input
}

function uintAt(input: unknown, what: string, max: number): number {
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 0 || input > max) {
    bad(`${what} must be an integer from 0 to ${max}`)
  }
  return input
}

function checkVersion(top: readonly unknown[], length: number, what: string): void {
  if (top[0] !== FORMAT_VERSION) bad(`unsupported ${what} format version ${String(top[0])}`)
  if (top.length !== length) bad(`${what} must have ${length} fields, has ${top.length}`)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Reused output buffer: `encodeInto` one buffer is faster than cborg's chunked writer. */
let scratch = new Uint8Array(64 * 1024)
const MAX_SCRATCH = 1024 * 1024

/** cborg's canonical encoding of `data` (same bytes as `cborg.encode`). */
function encodeCbor(data: unknown): Uint8Array {
  for (;;) {
    try {
      const { written } = encodeInto(data, scratch)
      return scratch.slice(0, written)
    } catch (error) {
      const tooSmall = error instanceof Error && error.message.includes('too small')
      if (!tooSmall) throw error
      // Grow the scratch buffer for typical sizes; encode very large values chunk by chunk.
      if (scratch.length >= MAX_SCRATCH) return cborEncode(data)
      scratch = new Uint8Array(scratch.length * 4)
    }
  }
}

class ReplicaTable {
  readonly ids: readonly ReplicaId[]
  readonly #index: Map<ReplicaId, number>

  constructor(ids: Set<ReplicaId>) {
    this.ids = [...ids].sort()
    this.#index = new Map(this.ids.map((id, i) => [id, i]))
  }

  of(replica: ReplicaId): number {
    const index = this.#index.get(replica)
    if (index === undefined) invalid(`a stored dot of ${replica} is missing from the context`)
    return index
  }
}

function collectContextReplicas(context: CausalContext, ids: Set<ReplicaId>): void {
  for (const replica of context.versionVector.keys()) ids.add(replica)
  for (const replica of context.cloud.keys()) ids.add(replica)
}

function encodeContextParts(context: CausalContext, table: ReplicaTable): [number[], unknown[]] {
  const vv: number[] = []
  const cloud: unknown[] = []
  for (let i = 0; i < table.ids.length; i++) {
    const replica = table.ids[i] as ReplicaId
    const n = context.versionVector.get(replica)
    if (n !== undefined) vv.push(i, n)
    const extra = context.cloud.get(replica)
    if (extra !== undefined) cloud.push(i, extra)
  }
  return [vv, cloud]
}

function encodeRegister(store: RegisterStore, table: ReplicaTable): unknown[] {
  const out: unknown[] = []
  for (const e of store)
    out.push(table.of(e.replica), e.counter, e.value.time.wall, e.value.time.logical, e.value.value)
  return out
}

function pushEntries(out: unknown[], store: DotFun<unknown>, table: ReplicaTable): void {
  for (const e of store) out.push(table.of(e.replica), e.counter, e.value)
}

function encodeCart(cart: CartStore, table: ReplicaTable): unknown[] {
  const out: unknown[] = []
  for (const sku of [...cart.keys()].sort()) {
    const line = cart.get(sku) as CartLineStore
    out.push(sku, line.sets.length, line.adds.length, line.meta.length)
    pushEntries(out, line.sets, table)
    pushEntries(out, line.adds, table)
    pushEntries(out, line.meta, table)
  }
  return out
}

/** The canonical encoding of a key's causal value (see the module description for the layout). */
export function encodeValue(value: CausalValue): Uint8Array {
  // Every stored dot is in the context, so the context names every replica of the value.
  const ids = new Set<ReplicaId>()
  collectContextReplicas(value.context, ids)
  const table = new ReplicaTable(ids)
  const [vv, cloud] = encodeContextParts(value.context, table)
  const stores: unknown[] = []
  if (value.register.length > 0) stores.push(TAG_REGISTER, encodeRegister(value.register, table))
  if (value.cart.size > 0) stores.push(TAG_CART, encodeCart(value.cart, table))
  return encodeCbor([FORMAT_VERSION, table.ids, vv, cloud, stores])
}

/** The canonical encoding of a causal context alone (e.g. a register read context for a client). */
export function encodeContext(context: CausalContext): Uint8Array {
  const ids = new Set<ReplicaId>()
  collectContextReplicas(context, ids)
  const table = new ReplicaTable(ids)
  const [vv, cloud] = encodeContextParts(context, table)
  return cborEncode([FORMAT_VERSION, table.ids, vv, cloud])
}

function flatVersionVector(vv: VersionVector): unknown[] {
  const out: unknown[] = []
  for (const replica of [...vv.keys()].sort()) out.push(replica, vv.get(replica))
  return out
}

/** The canonical encoding of a version vector: `[1, [replica, counter, ...]]`, sorted. */
export function encodeVersionVector(vv: VersionVector): Uint8Array {
  return cborEncode([FORMAT_VERSION, flatVersionVector(vv)])
}

/** The canonical encoding of a version-vector delta: `[1, [replica, counter, ...], [removed...]]`. */
export function encodeVersionVectorDelta(delta: VersionVectorDelta): Uint8Array {
  return cborEncode([FORMAT_VERSION, flatVersionVector(delta.changed), [...delta.removed].sort()])
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface DecodeState {
  readonly replicas: readonly ReplicaId[]
  readonly used: Uint8Array
  dots: number
  /** A decoded string holds U+FFFD: the input may have had invalid UTF-8 (checked at the end). */
  replaced: boolean
}

/** U+FFFD, what cborg's UTF-8 decoder substitutes for invalid byte sequences. */
const REPLACEMENT_CHARACTER = '\uFFFD'

/**
 * A decoded string holding U+FFFD may stand for invalid UTF-8, which must not be accepted
 * (lossily). Such input is not what the encoder produces: insist on the exact canonical bytes.
 * Legitimate U+FFFD is rare, so this costs nothing in practice.
 */
function requireCanonical(reencoded: Uint8Array, bytes: Uint8Array): void {
  let same = reencoded.length === bytes.length
  for (let i = 0; same && i < bytes.length; i++) same = reencoded[i] === bytes[i]
  if (!same) bad('a string is not valid UTF-8, or the encoding is not canonical')
}

function hasReplacement(texts: Iterable<string>): boolean {
  for (const text of texts) if (text.includes(REPLACEMENT_CHARACTER)) return true
  return false
}

function countDots(state: DecodeState, n: number): void {
  state.dots += n
  if (state.dots > LIMITS.maxDots) bad(`more than ${LIMITS.maxDots} dots`)
}

function readReplicas(input: unknown): readonly ReplicaId[] {
  const ids = array(input, 'replica table')
  if (ids.length > LIMITS.maxReplicas) bad(`more than ${LIMITS.maxReplicas} replicas`)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    if (!isReplicaId(id)) bad(`replica table entry ${i} is not a replica id`)
    if (i > 0 && !((ids[i - 1] as string) < id)) bad('replica table is not sorted and unique')
  }
  return ids as readonly ReplicaId[]
}

function replicaAt(input: unknown, state: DecodeState, what: string): number {
  if (
    typeof input !== 'number' ||
    !Number.isInteger(input) ||
    input < 0 ||
    input >= state.replicas.length
  ) {
    bad(`${what}: replica index out of range`)
  }
  state.used[input] = 1
  return input
}

function readContextParts(
  vvInput: unknown,
  cloudInput: unknown,
  state: DecodeState,
): CausalContext {
  const flat = array(vvInput, 'version vector')
  if (flat.length % 2 !== 0) bad('version vector has an odd length')
  const vv = new Map<ReplicaId, number>()
  let last = -1
  for (let i = 0; i < flat.length; i += 2) {
    const index = replicaAt(flat[i], state, 'version vector')
    if (index <= last) bad('version vector is not sorted and unique')
    last = index
    vv.set(state.replicas[index] as ReplicaId, counterAt(flat[i + 1], 'version vector counter'))
  }
  const cloudFlat = array(cloudInput, 'dot cloud')
  if (cloudFlat.length % 2 !== 0) bad('dot cloud has an odd length')
  const cloud = new Map<ReplicaId, readonly number[]>()
  last = -1
  for (let i = 0; i < cloudFlat.length; i += 2) {
    const index = replicaAt(cloudFlat[i], state, 'dot cloud')
    if (index <= last) bad('dot cloud is not sorted and unique')
    last = index
    const replica = state.replicas[index] as ReplicaId
    const counters = array(cloudFlat[i + 1], 'dot cloud counters')
    if (counters.length === 0) bad('dot cloud holds an empty list')
    countDots(state, counters.length)
    let previous = (vv.get(replica) ?? 0) + 1
    for (const counter of counters) {
      const c = counterAt(counter, 'dot cloud counter')
      if (c <= previous) bad('dot cloud is not compact, sorted and unique')
      previous = c
    }
    cloud.set(replica, counters as readonly number[])
  }
  return { versionVector: vv, cloud }
}

/** Validates the dot `[ri, counter]` at `flat[i]`, which must sort after the previous one. */
class DotReader {
  lastIndex = -1
  lastCounter = 0
  replica: ReplicaId = ''
  counter = 0

  readonly state: DecodeState
  readonly context: CausalContext
  readonly what: string

  constructor(state: DecodeState, context: CausalContext, what: string) {
    this.state = state
    this.context = context
    this.what = what
  }

  read(flat: readonly unknown[], i: number): void {
    const index = replicaAt(flat[i], this.state, this.what)
    const counter = flat[i + 1]
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) {
      bad(`${this.what}: counter must be a positive integer`)
    }
    if (index < this.lastIndex || (index === this.lastIndex && counter <= this.lastCounter)) {
      bad(`${this.what} is not sorted by dot`)
    }
    this.lastIndex = index
    this.lastCounter = counter
    this.replica = this.state.replicas[index] as ReplicaId
    this.counter = counter
    if (!contextHasCounter(this.context, this.replica, counter)) {
      bad(`${this.what} holds a dot its context lacks`)
    }
  }
}

function readQuantities(
  flat: readonly unknown[],
  start: number,
  count: number,
  dots: DotReader,
): DotFun<number> {
  countDots(dots.state, count)
  dots.lastIndex = -1
  const out: DotEntry<number>[] = new Array(count)
  for (let k = 0, i = start; k < count; i += 3, k++) {
    dots.read(flat, i)
    const qty = flat[i + 2]
    if (
      typeof qty !== 'number' ||
      !Number.isSafeInteger(qty) ||
      qty < 1 ||
      qty > LIMITS.maxQuantity
    ) {
      bad(`quantity must be an integer from 1 to ${LIMITS.maxQuantity}`)
    }
    out[k] = { replica: dots.replica, counter: dots.counter, value: qty }
  }
  return out
}

function readMetas(
  flat: readonly unknown[],
  start: number,
  count: number,
  dots: DotReader,
): DotFun<Data> {
  countDots(dots.state, count)
  dots.lastIndex = -1
  const out: DotEntry<Data>[] = new Array(count)
  for (let k = 0, i = start; k < count; i += 3, k++) {
    dots.read(flat, i)
    const value = flat[i + 2]
    if (checkDecodedData(value)) dots.state.replaced = true
    out[k] = { replica: dots.replica, counter: dots.counter, value: value as Data }
  }
  return out
}

function readSiblings(flat: readonly unknown[], dots: DotReader): DotFun<Sibling> {
  const count = flat.length / 5
  countDots(dots.state, count)
  const out: DotEntry<Sibling>[] = new Array(count)
  for (let k = 0, i = 0; k < count; i += 5, k++) {
    dots.read(flat, i)
    const wall = uintAt(flat[i + 2], 'sibling wall time', Number.MAX_SAFE_INTEGER)
    const logical = uintAt(flat[i + 3], 'sibling logical time', LIMITS.maxLogical)
    const value = flat[i + 4]
    if (checkDecodedData(value)) dots.state.replaced = true
    out[k] = {
      replica: dots.replica,
      counter: dots.counter,
      value: { value: value as Data, time: { wall, logical } },
    }
  }
  return out
}

function lineCount(input: unknown, room: number): number {
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 0 || input > room) {
    bad('cart line entry count is out of range')
  }
  return input
}

function readCart(input: unknown, state: DecodeState, context: CausalContext): CartStore {
  const flat = array(input, 'cart')
  const cart = new Map<string, CartLineStore>()
  const setDots = new DotReader(state, context, 'cart sets')
  const addDots = new DotReader(state, context, 'cart adds')
  const metaDots = new DotReader(state, context, 'cart meta')
  let lastSku: string | undefined
  let i = 0
  while (i < flat.length) {
    if (cart.size >= LIMITS.maxLines) bad(`more than ${LIMITS.maxLines} cart lines`)
    if (i + 4 > flat.length) bad('cart line header is truncated')
    const sku = flat[i]
    if (typeof sku !== 'string' || sku.length === 0 || sku.length > LIMITS.maxSkuLength) {
      bad('cart sku is not a valid sku')
    }
    if (sku.includes(REPLACEMENT_CHARACTER)) state.replaced = true
    if (lastSku !== undefined && !(lastSku < sku)) bad('cart skus are not sorted and unique')
    lastSku = sku
    const room = Math.floor((flat.length - i - 4) / 3)
    const nSets = lineCount(flat[i + 1], room)
    const nAdds = lineCount(flat[i + 2], room - nSets)
    const nMeta = lineCount(flat[i + 3], room - nSets - nAdds)
    if (nSets + nAdds === 0) bad(`cart line "${sku}" has no quantity`)
    i += 4
    const sets = readQuantities(flat, i, nSets, setDots)
    i += 3 * nSets
    const adds = readQuantities(flat, i, nAdds, addDots)
    i += 3 * nAdds
    const meta = readMetas(flat, i, nMeta, metaDots)
    i += 3 * nMeta
    cart.set(sku, { sets, adds, meta })
  }
  return cart
}

function checkAllUsed(state: DecodeState): void {
  if (state.used.indexOf(0) !== -1) bad('replica table lists a replica that is not used')
}

function readCausalValue(raw: unknown, bytes: Uint8Array): CausalValue {
  const top = array(raw, 'value')
  checkVersion(top, 5, 'value')
  const replicas = readReplicas(top[1])
  const state: DecodeState = {
    replicas,
    used: new Uint8Array(replicas.length),
    dots: 0,
    replaced: hasReplacement(replicas),
  }
  const context = readContextParts(top[2], top[3], state)
  const stores = array(top[4], 'stores')
  if (stores.length % 2 !== 0) bad('stores has an odd length')
  let register: RegisterStore = []
  let cart: CartStore = new Map()
  let lastTag = 0
  for (let i = 0; i < stores.length; i += 2) {
    const tag = stores[i]
    if (typeof tag !== 'number' || tag <= lastTag) bad('store tags are not sorted and unique')
    lastTag = tag
    if (tag === TAG_REGISTER) {
      const flat = array(stores[i + 1], 'register')
      if (flat.length % 5 !== 0) bad('register length is not a multiple of 5')
      if (flat.length / 5 > LIMITS.maxSiblings) bad(`more than ${LIMITS.maxSiblings} siblings`)
      register = readSiblings(flat, new DotReader(state, context, 'register'))
      if (register.length === 0) bad('empty register store is encoded')
    } else if (tag === TAG_CART) {
      cart = readCart(stores[i + 1], state, context)
      if (cart.size === 0) bad('empty cart store is encoded')
    } else {
      bad(`unknown store tag ${String(tag)}`)
    }
  }
  checkAllUsed(state)
  const value: CausalValue = { context, register, cart }
  // U+FFFD may stand for invalid UTF-8, which must not be accepted (lossily). Such input is not
  // what the encoder produces: insist on the exact canonical bytes (rare, so cheap overall).
  if (state.replaced) requireCanonical(encodeValue(value), bytes)
  return value
}

/**
 * Decodes and fully validates a causal value produced by {@link encodeValue}. Throws
 * `MendsyncError('DECODE_ERROR')` on anything malformed, oversized or inconsistent.
 */
export function decodeValue(bytes: Uint8Array): CausalValue {
  return guarded('causal value', () => readCausalValue(decodeCbor(bytes, 'causal value'), bytes))
}

/** Decodes and validates a causal context produced by {@link encodeContext}. Throws `DECODE_ERROR`. */
export function decodeContext(bytes: Uint8Array): CausalContext {
  return guarded('causal context', () => {
    const top = array(decodeCbor(bytes, 'causal context'), 'context')
    checkVersion(top, 4, 'context')
    const replicas = readReplicas(top[1])
    const state: DecodeState = {
      replicas,
      used: new Uint8Array(replicas.length),
      dots: 0,
      replaced: hasReplacement(replicas),
    }
    const context = readContextParts(top[2], top[3], state)
    checkAllUsed(state)
    if (state.replaced) requireCanonical(encodeContext(context), bytes)
    return context
  })
}

function readFlatVersionVector(input: unknown): Map<ReplicaId, number> {
  const flat = array(input, 'version vector')
  if (flat.length % 2 !== 0) bad('version vector has an odd length')
  if (flat.length / 2 > LIMITS.maxReplicas) bad(`more than ${LIMITS.maxReplicas} replicas`)
  const vv = new Map<ReplicaId, number>()
  let last: string | undefined
  for (let i = 0; i < flat.length; i += 2) {
    const replica = flat[i]
    if (!isReplicaId(replica)) bad('version vector key is not a replica id')
    if (last !== undefined && !(last < replica)) bad('version vector is not sorted and unique')
    last = replica
    vv.set(replica, counterAt(flat[i + 1], 'version vector counter'))
  }
  return vv
}

/** Decodes and validates a version vector produced by {@link encodeVersionVector}. */
export function decodeVersionVector(bytes: Uint8Array): VersionVector {
  return guarded('version vector', () => {
    const top = array(decodeCbor(bytes, 'version vector'), 'version vector')
    checkVersion(top, 2, 'version vector')
    const vv = readFlatVersionVector(top[1])
    if (hasReplacement(vv.keys())) requireCanonical(encodeVersionVector(vv), bytes)
    return vv
  })
}

/** Decodes and validates a delta produced by {@link encodeVersionVectorDelta}. */
export function decodeVersionVectorDelta(bytes: Uint8Array): VersionVectorDelta {
  return guarded('version vector delta', () => {
    const top = array(decodeCbor(bytes, 'version vector delta'), 'version vector delta')
    checkVersion(top, 3, 'version vector delta')
    const changed = readFlatVersionVector(top[1])
    const removedInput = array(top[2], 'removed replicas')
    if (removedInput.length > LIMITS.maxReplicas) bad(`more than ${LIMITS.maxReplicas} replicas`)
    const removed: ReplicaId[] = []
    for (const replica of removedInput) {
      if (!isReplicaId(replica)) bad('removed entry is not a replica id')
      const previous = removed[removed.length - 1]
      if (previous !== undefined && !(previous < replica))
        bad('removed replicas are not sorted and unique')
      if (changed.has(replica)) bad('a replica is both changed and removed')
      removed.push(replica)
    }
    const delta: VersionVectorDelta = { changed, removed }
    if (hasReplacement([...changed.keys(), ...removed])) {
      requireCanonical(encodeVersionVectorDelta(delta), bytes)
    }
    return delta
  })
}
