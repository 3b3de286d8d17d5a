import { MendsyncError, type MendsyncErrorCode } from '../errors.js'
import { isWellFormed } from './guards.js'
import { LIMITS } from './limits.js'

/**
 * Application data a register or a cart line's meta can hold: what canonical CBOR represents
 * without ambiguity and what round-trips exactly through {@link encodeValue}/{@link decodeValue}.
 *
 * - `null`, `true`, `false`;
 * - finite numbers (`NaN` and `±Infinity` are refused; `-0` is stored as `0`; safe integers are
 *   encoded as CBOR integers, everything else as the shortest exact float);
 * - strings without lone surrogates;
 * - `Uint8Array` (copied into a plain `Uint8Array` on the way in, so a Node `Buffer` is fine;
 *   other typed arrays, `DataView` and `ArrayBuffer` are refused);
 * - arrays (dense, no holes) and plain objects (prototype `Object.prototype` or `null`, string
 *   keys, no `undefined` values) of the above, nested at most `LIMITS.maxDepth` deep.
 *
 * Not allowed: `undefined`, `bigint`, symbols, functions, `Date`, `Map`, `Set`, class instances.
 * Data stored in a value is frozen (except `Uint8Array`s, which JavaScript cannot freeze: do not
 * mutate them).
 */
export type Data = null | boolean | number | string | Uint8Array | readonly Data[] | DataObject

/** A plain object of {@link Data}. */
export interface DataObject {
  readonly [key: string]: Data
}

class DataError extends Error {}

function reject(message: string): never {
  throw new DataError(message)
}

function copyData(input: unknown, depth: number): Data {
  if (input === null) return null
  switch (typeof input) {
    case 'boolean':
      return input
    case 'number':
      if (!Number.isFinite(input)) reject(`numbers must be finite, got ${input}`)
      return input === 0 ? 0 : input
    case 'string':
      if (!isWellFormed(input)) reject('strings must not contain lone surrogates')
      return input
    case 'object': {
      if (depth >= LIMITS.maxDepth) reject(`data is nested deeper than ${LIMITS.maxDepth} levels`)
      if (input instanceof Uint8Array) return new Uint8Array(input)
      if (Array.isArray(input)) {
        const out: Data[] = new Array(input.length)
        for (let i = 0; i < input.length; i++) {
          if (!(i in input)) reject('arrays must not have holes')
          out[i] = copyData(input[i], depth + 1)
        }
        return Object.freeze(out)
      }
      const proto: unknown = Object.getPrototypeOf(input)
      if (proto !== Object.prototype && proto !== null) {
        reject(`only plain objects are allowed, got ${describe(input)}`)
      }
      if (Object.getOwnPropertySymbols(input).length > 0) reject('object keys must be strings')
      const out: Record<string, Data> = {}
      for (const key of Object.keys(input)) {
        if (!isWellFormed(key)) reject('object keys must not contain lone surrogates')
        const item = (input as Record<string, unknown>)[key]
        if (item === undefined) reject(`property "${key}" is undefined`)
        setOwn(out, key, copyData(item, depth + 1))
      }
      return Object.freeze(out)
    }
    default:
      return reject(`${typeof input} is not allowed in data`)
  }
}

function describe(input: object): string {
  const name = (input as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' ? name : 'an object with a custom prototype'
}

/** Sets an own data property, also for the key `__proto__` (which `=` would not create). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  } else {
    target[key] = value
  }
}

/**
 * Validates `input` as {@link Data} and returns a frozen deep copy of it (the caller keeps its own
 * object, mutable). Throws `MendsyncError('INVALID_ARGUMENT')` naming what is not allowed.
 */
export function toData(input: unknown): Data {
  return wrapDataErrors('INVALID_ARGUMENT', 'invalid data', () => copyData(input, 0))
}

/** True when `input` is valid {@link Data} (see {@link toData} for the rules). */
export function isData(input: unknown): boolean {
  try {
    copyData(input, 0)
    return true
  } catch {
    return false
  }
}

/** U+FFFD, what cborg's UTF-8 decoder substitutes for invalid byte sequences. */
const REPLACEMENT_CHARACTER = '\uFFFD'

/**
 * Checks decoded data in place and freezes it. Strings need no surrogate check: cborg's UTF-8
 * decoder never yields lone surrogates, it replaces invalid sequences with U+FFFD. Returns true
 * when a string or key contains U+FFFD, so the codec can make sure the bytes were valid UTF-8.
 */
function checkDecoded(input: unknown, depth: number): boolean {
  if (input === null) return false
  switch (typeof input) {
    case 'boolean':
      return false
    case 'number':
      // cborg already refuses NaN and infinities here; -0 is never produced by the encoder.
      if (Object.is(input, -0)) reject('-0 is not canonical')
      return false
    case 'string':
      return input.includes(REPLACEMENT_CHARACTER)
    case 'object': {
      if (depth >= LIMITS.maxDepth) reject(`data is nested deeper than ${LIMITS.maxDepth} levels`)
      if (input instanceof Uint8Array) return false
      let replaced = false
      if (Array.isArray(input)) {
        for (const item of input) if (checkDecoded(item, depth + 1)) replaced = true
      } else {
        const record = input as Record<string, unknown>
        for (const key of Object.keys(record)) {
          if (key.includes(REPLACEMENT_CHARACTER)) replaced = true
          if (checkDecoded(record[key], depth + 1)) replaced = true
        }
      }
      Object.freeze(input)
      return replaced
    }
    default:
      return reject(`${typeof input} is not allowed in data`)
  }
}

/**
 * Validates data freshly produced by the CBOR decoder, in place, and freezes it. Throws
 * `DECODE_ERROR`. Returns true when a string in it contains U+FFFD (see the codec). Internal.
 */
export function checkDecodedData(input: unknown): boolean {
  return wrapDataErrors('DECODE_ERROR', 'invalid data in encoding', () => checkDecoded(input, 0))
}

function wrapDataErrors<T>(code: MendsyncErrorCode, prefix: string, run: () => T): T {
  try {
    return run()
  } catch (error) {
    if (error instanceof DataError) throw new MendsyncError(code, `${prefix}: ${error.message}`)
    if (error instanceof RangeError) {
      throw new MendsyncError(code, `${prefix}: too deeply nested`, { cause: error })
    }
    throw error
  }
}

const RANK_NULL = 0
const RANK_BOOLEAN = 1
const RANK_NUMBER = 2
const RANK_STRING = 3
const RANK_BYTES = 4
const RANK_ARRAY = 5
const RANK_OBJECT = 6

function rank(value: Data): number {
  if (value === null) return RANK_NULL
  switch (typeof value) {
    case 'boolean':
      return RANK_BOOLEAN
    case 'number':
      return RANK_NUMBER
    case 'string':
      return RANK_STRING
    default:
      if (value instanceof Uint8Array) return RANK_BYTES
      return Array.isArray(value) ? RANK_ARRAY : RANK_OBJECT
  }
}

function sign(a: number | string | boolean, b: number | string | boolean): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A total order on {@link Data}, the same on every replica: by kind (null < booleans < numbers <
 * strings < bytes < arrays < objects), then by content (numbers numerically, strings by UTF-16
 * code units, bytes and arrays lexicographically, objects by their sorted entries). Returns a
 * negative number, zero (equal data) or a positive number.
 */
export function compareData(a: Data, b: Data): number {
  if (a === b) return 0
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  switch (ra) {
    case RANK_NULL:
      return 0
    case RANK_BOOLEAN:
    case RANK_NUMBER:
    case RANK_STRING:
      return sign(a as number, b as number)
    case RANK_BYTES: {
      const x = a as Uint8Array
      const y = b as Uint8Array
      const n = Math.min(x.length, y.length)
      for (let i = 0; i < n; i++) {
        const d = (x[i] as number) - (y[i] as number)
        if (d !== 0) return d
      }
      return x.length - y.length
    }
    case RANK_ARRAY: {
      const x = a as readonly Data[]
      const y = b as readonly Data[]
      const n = Math.min(x.length, y.length)
      for (let i = 0; i < n; i++) {
        const d = compareData(x[i] as Data, y[i] as Data)
        if (d !== 0) return d
      }
      return x.length - y.length
    }
    default: {
      const x = a as DataObject
      const y = b as DataObject
      const kx = Object.keys(x).sort()
      const ky = Object.keys(y).sort()
      const n = Math.min(kx.length, ky.length)
      for (let i = 0; i < n; i++) {
        const k1 = kx[i] as string
        const k2 = ky[i] as string
        if (k1 !== k2) return sign(k1, k2)
        const d = compareData(x[k1] as Data, y[k2] as Data)
        if (d !== 0) return d
      }
      return kx.length - ky.length
    }
  }
}

/** Deep equality of {@link Data} (`compareData(a, b) === 0`). */
export function dataEquals(a: Data, b: Data): boolean {
  return a === b || compareData(a, b) === 0
}
