// Helpers of the storage acceptance suite: key sets, mutation builders, page checks, typed-error
// checks, a deterministic PRNG and a model of what a correct storage holds.

import { type SeededRandom, seededRandom } from '@mendsync/core/toolbox'
import { expect } from 'vitest'
import { scanPages } from '../../storage/scan-all.js'
import {
  DEFAULT_SCAN_LIMIT,
  type Entry,
  MIN_SCAN_PAGE_BYTES,
  type Mutation,
  type Namespace,
  type ScanOptions,
  type ScanPage,
  type Storage,
  type WriteBatch,
} from '../../storage/types.js'

/** Both namespaces of the contract. */
export const NAMESPACES: readonly Namespace[] = ['values', 'meta']

// Keys whose UTF-16 code unit order differs from code point / UTF-8 order.
export const ORDER_KEYS = [
  'a',
  'a\u0000',
  'ab',
  'b',
  '\u0000',
  '\u007f',
  '\u0080',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uf8ff',
  '\ufffd',
  '\uffff',
  '\uffff\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{1f642}',
  '\u{10ffff}',
  'z\u{1f600}',
  'z\uffff',
]

/** Keys around the edges of prefixes and ranges (`a/`, `a0`, `a\uffff`, ...) for the bound tests. */
export const BOUND_KEYS = [
  'a',
  'a/1',
  'a/2',
  'a/2/x',
  'a/3',
  'a0',
  'a\uffff',
  'a\uffff\uffff',
  'b',
  'b/1',
  'ba',
  '\uffff',
  '\uffffa',
]

/** Compares by UTF-16 code unit, the contract's key order. */
export function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Whether `key` falls in the range `scan` describes (prefix, gte, lt, after). */
export function matches(scan: ScanOptions, key: string): boolean {
  if (scan.prefix !== undefined && !key.startsWith(scan.prefix)) return false
  if (scan.gte !== undefined && key < scan.gte) return false
  if (scan.lt !== undefined && key >= scan.lt) return false
  if (scan.after !== undefined && key <= scan.after) return false
  return true
}

/** A mutation setting `key` to `bytes`. */
export function put(key: string, bytes: number[]): Mutation {
  return { key, value: new Uint8Array(bytes) }
}

/** A mutation erasing `key`. */
export function erase(key: string): Mutation {
  return { key, value: null }
}

/** A value as a plain array of bytes (for `toEqual`), `undefined` kept. */
export function toArray(value: Uint8Array | undefined): number[] | undefined {
  return value === undefined ? undefined : Array.from(value)
}

/** `n` as 4 big-endian bytes. */
export function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

/** Reads {@link u32}'s bytes back, checking the length. */
export function readU32(value: Uint8Array): number {
  expect(value.byteLength).toBe(4)
  return ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0
}

/** Fails unless `actual` holds exactly `expected`'s bytes (reports the first differing offset). */
export function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual!.byteLength).toBe(expected.byteLength)
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual![i] !== expected[i]) expect.fail(`bytes differ at offset ${i}`)
  }
}

/** Checks the page shape every adapter owes: at most `limit`, cursor = last key, never empty with a cursor. */
export function expectPage(page: ScanPage, limit: number): void {
  expect(page.entries.length).toBeLessThanOrEqual(limit)
  if (page.cursor !== undefined) {
    expect(page.entries.length).toBeGreaterThan(0)
    expect(page.cursor).toBe(page.entries[page.entries.length - 1]!.key)
    let bytes = 0
    for (const entry of page.entries) bytes += entry.key.length * 2 + entry.value.byteLength
    if (bytes < MIN_SCAN_PAGE_BYTES) expect(page.entries.length).toBe(limit)
  }
}

/** Every entry of a scan, following cursors, checking each page's shape. */
export async function all(storage: Storage, options: ScanOptions): Promise<Entry[]> {
  const entries: Entry[] = []
  for await (const page of scanPages(storage, options)) {
    expectPage(page, options.limit ?? DEFAULT_SCAN_LIMIT)
    entries.push(...page.entries)
  }
  return entries
}

/** Every `[key, bytes]` of `namespace` within `bounds`, in order. */
export async function dump(
  storage: Storage,
  namespace: Namespace,
  bounds: Omit<ScanOptions, 'namespace'> = {},
): Promise<[string, number[]][]> {
  const entries = await all(storage, { ...bounds, namespace })
  return entries.map((entry) => [entry.key, Array.from(entry.value)])
}

/** An error with a `code` (a MendsyncError, checked by name so any copy of the class passes). */
export interface CodedError extends Error {
  readonly code: string
}

/** Fails unless `error` is a MendsyncError of `code` with a message; returns it. */
export function expectMendsyncError(error: unknown, code: string): CodedError {
  if (!(error instanceof Error) || error.name !== 'MendsyncError') {
    expect.fail(`expected a MendsyncError with code ${code}, got ${String(error)}`)
  }
  expect((error as CodedError).code).toBe(code)
  expect(error.message.length).toBeGreaterThan(0)
  return error as CodedError
}

/** Fails unless `call` rejects with a MendsyncError of `code`; returns the error. */
export async function expectError(code: string, call: () => Promise<unknown>): Promise<CodedError> {
  try {
    await call()
  } catch (error) {
    return expectMendsyncError(error, code)
  }
  return expect.fail(`expected the call to fail with ${code}, but it succeeded`)
}

/** The seeded generator the suite draws from (`seededRandom` of the toolbox), so failures reproduce. */
export const prng = seededRandom

/** The generator {@link prng} returns. */
export type Rng = SeededRandom

/** Characters of random keys: ASCII, separators, and code units on each side of the surrogate range. */
export const ALPHABET = [
  'a',
  'b',
  '/',
  '\u0000',
  '\u007f',
  '\u00e9',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uffff',
  '\u{1f600}',
  '\u{10000}',
  '\u{10ffff}',
]

/** A random key of 1 to `maxLength` characters of {@link ALPHABET}. */
export function randomKey(rng: Rng, maxLength: number): string {
  let key = ''
  const length = 1 + rng.int(maxLength)
  for (let i = 0; i < length; i++) key += ALPHABET[rng.int(ALPHABET.length)]!
  return key
}

/** A random batch of `size` sets and erasures under `prefix`, across both namespaces. */
export function randomBatch(rng: Rng, size: number, prefix: string): WriteBatch {
  const values: Mutation[] = []
  const meta: Mutation[] = []
  for (let i = 0; i < size; i++) {
    const key = prefix + randomKey(rng, 3)
    const mutation = rng.int(5) === 0 ? erase(key) : { key, value: rng.bytes(rng.int(6)) }
    ;(rng.int(3) === 0 ? meta : values).push(mutation)
  }
  return { values, meta }
}

/** What a correct storage holds after a sequence of batches. */
export class Model {
  private readonly data: Record<Namespace, Map<string, number[]>> = {
    values: new Map(),
    meta: new Map(),
  }

  apply(batch: WriteBatch): void {
    for (const namespace of NAMESPACES) {
      for (const { key, value } of batch[namespace] ?? []) {
        if (value === null) this.data[namespace].delete(key)
        else this.data[namespace].set(key, Array.from(value))
      }
    }
  }

  dump(namespace: Namespace): [string, number[]][] {
    return [...this.data[namespace].entries()].sort(([a], [b]) => compareUnits(a, b))
  }
}
