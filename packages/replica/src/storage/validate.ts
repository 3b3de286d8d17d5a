// The argument checks of the Storage contract, shared by every adapter so that all of them accept
// and reject exactly the same input. Each check runs before any I/O: invalid input fails with
// INVALID_ARGUMENT and stores nothing.
import { MendsyncError } from '@mendsync/core'
import {
  DEFAULT_SCAN_LIMIT,
  type Durability,
  MAX_KEY_LENGTH,
  MAX_SCAN_LIMIT,
  MAX_VALUE_BYTES,
  type Namespace,
} from './types.js'

/** The error of a call with an argument the contract does not accept. */
export function invalidArgument(message: string): MendsyncError {
  return new MendsyncError('INVALID_ARGUMENT', message)
}

/** The error of a call on a storage after `close()`; `what` names the storage (file, database). */
export function storageClosed(operation: string, what = 'the storage'): MendsyncError {
  return new MendsyncError(
    'STORAGE_CLOSED',
    `${operation}: ${what} is closed; open it again to keep using it`,
  )
}

/** Compares keys by UTF-16 code unit, the contract's order (JavaScript's `<`). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Throws `INVALID_ARGUMENT` (prefixed with `where`) unless `namespace` is `values` or `meta`. */
export function assertNamespace(namespace: unknown, where: string): asserts namespace is Namespace {
  if (namespace !== 'values' && namespace !== 'meta') {
    throw invalidArgument(
      `${where}: namespace must be 'values' or 'meta', got ${describe(namespace)}`,
    )
  }
}

/** Index of the first lone surrogate of `text`, or -1 when it is well-formed. */
export function loneSurrogateIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0xd800 || unit > 0xdfff) continue
    if (unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    return i
  }
  return -1
}

/** Why `key` is not a valid key (to append to the name of the argument), or `undefined`. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `must be a string, got ${describe(key)}`
  if (key.length === 0) return 'must not be empty'
  if (key.length > MAX_KEY_LENGTH) {
    return `is ${key.length} UTF-16 code units long; at most ${MAX_KEY_LENGTH} are allowed`
  }
  const lone = loneSurrogateIndex(key)
  if (lone >= 0) {
    return (
      `has a lone surrogate (U+${key.charCodeAt(lone).toString(16).toUpperCase()}) at ` +
      `index ${lone}; keys must be well-formed UTF-16`
    )
  }
  return undefined
}

/** Throws `INVALID_ARGUMENT` (prefixed with `where`) unless `key` is a valid key. */
export function assertKey(key: unknown, where: string): asserts key is string {
  const problem = keyProblem(key)
  if (problem !== undefined) throw invalidArgument(`${where} ${problem}`)
}

function isUint8Array(value: unknown): value is Uint8Array {
  return (
    value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]')
  )
}

/** Why `value` is not a valid value (to append to the name of the argument), or `undefined`. */
export function valueProblem(value: unknown): string | undefined {
  if (!isUint8Array(value)) return `must be a Uint8Array (or null to erase), got ${describe(value)}`
  if (value.byteLength > MAX_VALUE_BYTES) {
    return `is ${value.byteLength} bytes; at most ${MAX_VALUE_BYTES} are allowed`
  }
  return undefined
}

/** Throws `INVALID_ARGUMENT` (prefixed with `where`) unless `value` is a valid value. */
export function assertValue(value: unknown, where: string): asserts value is Uint8Array {
  const problem = valueProblem(value)
  if (problem !== undefined) throw invalidArgument(`${where} ${problem}`)
}

/** Checks the `keys` of a `get` and returns a snapshot of them. */
export function prepareKeys(keys: unknown, operation = 'get'): string[] {
  if (!Array.isArray(keys)) {
    throw invalidArgument(`${operation}: keys must be an array of strings, got ${describe(keys)}`)
  }
  const snapshot = keys.slice() as unknown[]
  for (let i = 0; i < snapshot.length; i++) {
    const problem = keyProblem(snapshot[i])
    if (problem !== undefined) throw invalidArgument(`${operation}: keys[${i}] ${problem}`)
  }
  return snapshot as string[]
}

/** One checked mutation of a {@link PreparedBatch}: `value` is the adapter's own copy. */
export interface PreparedMutation {
  readonly key: string
  readonly value: Uint8Array | null
}

/** A checked batch, detached from the caller's objects (later changes to them do not leak in). */
export interface PreparedBatch {
  readonly values: readonly PreparedMutation[]
  readonly meta: readonly PreparedMutation[]
  /** Number of mutations in both namespaces. */
  readonly size: number
  /** Bytes of keys (2 per code unit) and values in both namespaces. */
  readonly bytes: number
  readonly durability: Durability
}

/** Options of {@link prepareBatch}. */
export interface PrepareBatchOptions {
  /** Copy the values (default `true`); only skip it when the bytes are consumed synchronously. */
  readonly copyValues?: boolean
}

/**
 * Checks a whole `write` batch before anything is applied (one bad mutation rejects the batch)
 * and returns a snapshot of it with copied values, so a caller mutating its arrays after the
 * call cannot change what is stored.
 */
export function prepareBatch(batch: unknown, options: PrepareBatchOptions = {}): PreparedBatch {
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch)) {
    throw invalidArgument(
      `write: batch must be a { values?, meta? } object, got ${describe(batch)}`,
    )
  }
  const copy = options.copyValues ?? true
  const record = batch as { values?: unknown; meta?: unknown; durability?: unknown }
  const durability = record.durability === undefined ? 'strict' : record.durability
  if (durability !== 'strict' && durability !== 'relaxed') {
    throw invalidArgument(
      `write: batch.durability must be 'strict' or 'relaxed', got ${describe(record.durability)}`,
    )
  }
  let bytes = 0
  const prepare = (namespace: Namespace, mutations: unknown): PreparedMutation[] => {
    if (mutations === undefined) return []
    if (!Array.isArray(mutations)) {
      throw invalidArgument(
        `write: batch.${namespace} must be an array of { key, value }, got ${describe(mutations)}`,
      )
    }
    const prepared: PreparedMutation[] = new Array(mutations.length)
    for (let i = 0; i < mutations.length; i++) {
      const mutation: unknown = mutations[i]
      if (typeof mutation !== 'object' || mutation === null) {
        throw invalidArgument(
          `write: batch.${namespace}[${i}] must be a { key, value } object, got ${describe(mutation)}`,
        )
      }
      const { key, value } = mutation as { key?: unknown; value?: unknown }
      const keyIssue = keyProblem(key)
      if (keyIssue !== undefined) {
        throw invalidArgument(`write: batch.${namespace}[${i}].key ${keyIssue}`)
      }
      const k = key as string
      if (value === null) {
        prepared[i] = { key: k, value: null }
        bytes += k.length * 2
        continue
      }
      const valueIssue = valueProblem(value)
      if (valueIssue !== undefined) {
        throw invalidArgument(`write: batch.${namespace}[${i}].value ${valueIssue}`)
      }
      const v = value as Uint8Array
      prepared[i] = { key: k, value: copy ? new Uint8Array(v) : v }
      bytes += k.length * 2 + v.byteLength
    }
    return prepared
  }
  const values = prepare('values', record.values)
  const meta = prepare('meta', record.meta)
  return { values, meta, size: values.length + meta.length, bytes, durability }
}

/**
 * A checked scan: the intersection of its bounds as one interval. `lower` is inclusive unless
 * `lowerOpen`; `upper` is exclusive. `empty` when no key can match (the adapter answers with an
 * empty page without I/O, and backends such as IDBKeyRange never see an inverted range).
 */
export interface PreparedScan {
  readonly namespace: Namespace
  readonly lower?: string
  readonly lowerOpen: boolean
  readonly upper?: string
  readonly limit: number
  readonly empty: boolean
}

/**
 * The smallest string greater than every string that starts with `prefix` (UTF-16 code unit
 * order), or `undefined` when there is none (empty prefix, or only U+FFFF). The strings starting
 * with `prefix` are exactly those in `[prefix, prefixEnd(prefix))`.
 */
export function prefixEnd(prefix: string): string | undefined {
  let end = prefix.length
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--
  if (end === 0) return undefined
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1)
}

/** Checks `scan` options and folds `prefix`, `gte`, `lt` and `after` into one interval. */
export function prepareScan(options: unknown): PreparedScan {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(
      `scan: options must be a { namespace, ... } object, got ${describe(options)}`,
    )
  }
  const { namespace, prefix, gte, lt, after, limit } = options as Record<string, unknown>
  assertNamespace(namespace, 'scan')
  for (const [name, bound] of [
    ['prefix', prefix],
    ['gte', gte],
    ['lt', lt],
    ['after', after],
  ] as const) {
    if (bound !== undefined && typeof bound !== 'string') {
      throw invalidArgument(`scan: ${name} must be a string, got ${describe(bound)}`)
    }
  }
  if (
    limit !== undefined &&
    (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT)
  ) {
    throw invalidArgument(
      `scan: limit must be an integer from 1 to ${MAX_SCAN_LIMIT}, got ${describe(limit)}`,
    )
  }

  let lower: string | undefined
  let lowerOpen = false
  const raise = (key: string, open: boolean) => {
    if (lower === undefined || key > lower) {
      lower = key
      lowerOpen = open
    } else if (key === lower && open) {
      lowerOpen = true
    }
  }
  let upper: string | undefined
  const cap = (key: string) => {
    if (upper === undefined || key < upper) upper = key
  }
  if (typeof gte === 'string') raise(gte, false)
  if (typeof after === 'string') raise(after, true)
  if (typeof prefix === 'string' && prefix !== '') {
    raise(prefix, false)
    const end = prefixEnd(prefix)
    if (end !== undefined) cap(end)
  }
  if (typeof lt === 'string') cap(lt)
  // Keys are never empty, so an inclusive lower bound of '' excludes nothing.
  if (lower === '' && !lowerOpen) lower = undefined
  const empty = upper !== undefined && (upper === '' || (lower !== undefined && lower >= upper))
  return {
    namespace,
    ...(lower === undefined ? {} : { lower }),
    lowerOpen,
    ...(upper === undefined ? {} : { upper }),
    limit: (limit as number | undefined) ?? DEFAULT_SCAN_LIMIT,
    empty,
  }
}

/** True when `key` lies in the interval of `scan`. */
export function inScanRange(scan: PreparedScan, key: string): boolean {
  if (scan.empty) return false
  if (scan.lower !== undefined) {
    if (scan.lowerOpen ? key <= scan.lower : key < scan.lower) return false
  }
  return scan.upper === undefined || key < scan.upper
}

/** Bytes a record counts for in a scan page's budget: 2 per key code unit plus the value. */
export function entryBytes(key: string, value: Uint8Array): number {
  return key.length * 2 + value.byteLength
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} code units` : JSON.stringify(value)
  }
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name
    return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object'
  }
  if (typeof value === 'function') return 'a function'
  return `${typeof value} ${String(value)}`
}
