import { decode as cborDecode, encode as cborEncode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CartLineStore,
  type CausalValue,
  cartAdd,
  cartSetMeta,
  contextFromDots,
  contextHasAll,
  type Data,
  dataEquals,
  decodeValue,
  emptyValue,
  encodeValue,
  FORMAT_VERSION,
  hashBytes,
  isCausalContext,
  isMendsyncError,
  joinValues,
  LIMITS,
  makeValue,
  readCart,
  readRegister,
  stateHash,
  toData,
  valueDots,
  valueEquals,
  valueKind,
  writeRegister,
} from '../../src/index.js'
import { historyArb, joinAll, runHistory } from './helpers.js'

const dataArb: fc.Arbitrary<unknown> = fc.letrec<{ data: unknown }>((tie) => ({
  data: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(2 ** 53, -(2 ** 60), 0.1, 1e300, -0),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }),
    fc.array(tie('data'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__proto__')), tie('data'), {
      maxKeys: 4,
    }),
  ),
})).data

/** A state from a random history, sometimes carrying arbitrary data in a register or cart meta. */
const valueArb: fc.Arbitrary<CausalValue> = fc
  .tuple(historyArb('mixed', 30), fc.nat(), fc.option(dataArb), fc.boolean())
  .map(([steps, pick, data, asMeta]) => {
    const { states } = runHistory(steps)
    let state = states[pick % states.length] as CausalValue
    if (data !== null) {
      state = asMeta
        ? cartSetMeta(
            cartAdd(state, { replica: 'dave' }, 'data', 1).state,
            { replica: 'dave' },
            'data',
            data,
          ).state
        : writeRegister(state, { replica: 'dave', time: { wall: 123, logical: 4 } }, data).state
    }
    return state
  })

function expectDecodeError(run: () => unknown): void {
  let caught: unknown
  let result: unknown
  try {
    result = run()
  } catch (error) {
    caught = error
  }
  expect(result).toBeUndefined()
  expect(isMendsyncError(caught, 'DECODE_ERROR')).toBe(true)
}

/** The checks a decoded value must pass: it is a value the model could have built. */
function expectWellFormed(value: CausalValue): void {
  expect(isCausalContext(value.context)).toBe(true)
  expect(contextHasAll(value.context, valueDots(value))).toBe(true)
  for (const line of readCart(value)) expect(line.qty).toBeGreaterThanOrEqual(1)
  expect(value.register.length).toBeLessThanOrEqual(LIMITS.maxSiblings)
  const again = decodeValue(encodeValue(value))
  expect(valueEquals(again, value)).toBe(true)
}

describe('canonical encoding', () => {
  it('decode(encode(x)) equals x, byte for byte', () => {
    fc.assert(
      fc.property(valueArb, (value) => {
        const bytes = encodeValue(value)
        const decoded = decodeValue(bytes)
        expect(valueEquals(decoded, value)).toBe(true)
        expect(encodeValue(decoded)).toEqual(bytes)
        expect(stateHash(decoded)).toEqual(stateHash(value))
      }),
      { numRuns: 300 },
    )
  })

  it('keeps arbitrary data exactly (numbers, strings, bytes, nested objects, `__proto__` keys)', () => {
    fc.assert(
      fc.property(dataArb, (data) => {
        const state = writeRegister(emptyValue(), { replica: 'a' }, data).state
        const decoded = readRegister(decodeValue(encodeValue(state))).value as Data
        expect(dataEquals(decoded, toData(data))).toBe(true)
        expect(Object.is(readRegister(state).value, -0)).toBe(false)
      }),
      { numRuns: 300 },
    )
    const tricky = JSON.parse('{"__proto__": {"polluted": true}, "n": 1}') as unknown
    const decoded = readRegister(
      decodeValue(encodeValue(writeRegister(emptyValue(), { replica: 'a' }, tricky).state)),
    ).value as Record<string, unknown>
    expect(Object.keys(decoded).sort()).toEqual(['__proto__', 'n'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
  })

  it('equal states built in different orders encode to the same bytes', () => {
    fc.assert(
      fc.property(historyArb('mixed', 40), fc.integer({ min: 0, max: 5 }), (steps, permutation) => {
        const { replicas } = runHistory(steps)
        const orders = [
          [0, 1, 2],
          [0, 2, 1],
          [1, 0, 2],
          [1, 2, 0],
          [2, 0, 1],
          [2, 1, 0],
        ]
        const order = orders[permutation] as number[]
        const a = joinAll(replicas)
        const b = joinAll(order.map((i) => replicas[i] as CausalValue))
        expect(encodeValue(a)).toEqual(encodeValue(b))
        expect(stateHash(a)).toEqual(stateHash(b))
      }),
      { numRuns: 200 },
    )
    // Maps and objects built with different insertion orders.
    const context1 = contextFromDots([
      { replica: 'b', counter: 1 },
      { replica: 'a', counter: 1 },
      { replica: 'a', counter: 5 },
      { replica: 'c', counter: 3 },
    ])
    const context2 = contextFromDots([
      { replica: 'c', counter: 3 },
      { replica: 'a', counter: 5 },
      { replica: 'a', counter: 1 },
      { replica: 'b', counter: 1 },
    ])
    const line = (meta: Data): CartLineStore => ({
      sets: [],
      adds: [{ replica: 'a', counter: 1, value: 2 }],
      meta: [{ replica: 'b', counter: 1, value: meta }],
    })
    const x = makeValue(
      context1,
      [],
      new Map<string, CartLineStore>([
        ['pear', line(toData({ z: 1, a: [1, { y: 2, b: 3 }] }))],
        ['apple', { sets: [{ replica: 'c', counter: 3, value: 4 }], adds: [], meta: [] }],
      ]),
    )
    const y = makeValue(
      context2,
      [],
      new Map<string, CartLineStore>([
        ['apple', { sets: [{ replica: 'c', counter: 3, value: 4 }], adds: [], meta: [] }],
        ['pear', line(toData({ a: [1, { b: 3, y: 2 }], z: 1 }))],
      ]),
    )
    expect(encodeValue(x)).toEqual(encodeValue(y))
  })

  it('encodes large values (beyond the reusable encode buffer) identically to cborg.encode', () => {
    for (const size of [1, 70_000, 300_000, 2_000_000]) {
      const bytes = new Uint8Array(size).map((_, i) => i % 251)
      const state = writeRegister(emptyValue(), { replica: 'a' }, { bytes, size }).state
      const encoded = encodeValue(state)
      const layout = cborDecode(encoded) as unknown[]
      expect(encoded).toEqual(cborEncode(layout))
      expect(readRegister(decodeValue(encoded)).value).toEqual({ bytes, size })
    }
    // Data exactly at the depth limit round-trips.
    let deep: Data = 'leaf'
    for (let i = 0; i < LIMITS.maxDepth; i++) deep = [deep]
    const state = writeRegister(emptyValue(), { replica: 'a' }, deep).state
    expect(dataEquals(readRegister(decodeValue(encodeValue(state))).value as Data, deep)).toBe(true)
  })

  it('uses integers, not floats, for integral numbers, and starts with the format version', () => {
    const state = cartAdd(emptyValue(), { replica: 'a' }, 'apple', 3).state
    const raw = cborDecode(encodeValue(state)) as unknown[]
    expect(raw[0]).toBe(FORMAT_VERSION)
    const bytes = encodeValue(writeRegister(emptyValue(), { replica: 'a' }, 2.0).state)
    // 2.0 is the single byte 0x02 at the end, never a float (0xf9 / 0xfa / 0xfb).
    expect(bytes[bytes.length - 1]).toBe(0x02)
  })
})

describe('decoding hostile input', () => {
  it('random bytes only ever throw DECODE_ERROR', () => {
    const prefixed = fc
      .uint8Array({ maxLength: 80 })
      .map((tail) => Uint8Array.from([0x85, 0x01, ...tail]))
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), prefixed), (bytes) => {
        try {
          expectWellFormed(decodeValue(bytes))
        } catch (error) {
          expect(isMendsyncError(error, 'DECODE_ERROR')).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('mutated valid encodings throw DECODE_ERROR or decode to a well-formed value', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('flip', 'set', 'truncate', 'insert', 'delete'),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    })
    fc.assert(
      fc.property(
        valueArb,
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (value, mutations) => {
          let bytes = Array.from(encodeValue(value))
          for (const m of mutations) {
            const at = m.at % Math.max(1, bytes.length)
            if (m.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << (m.byte % 8))
            else if (m.kind === 'set') bytes[at] = m.byte
            else if (m.kind === 'truncate') bytes = bytes.slice(0, at)
            else if (m.kind === 'insert') bytes.splice(at, 0, m.byte)
            else bytes.splice(at, 1)
          }
          try {
            expectWellFormed(decodeValue(Uint8Array.from(bytes)))
          } catch (error) {
            expect(isMendsyncError(error, 'DECODE_ERROR')).toBe(true)
          }
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('structurally wrong encodings are each refused with DECODE_ERROR', () => {
    const reg = (entries: unknown[], extra: Partial<Record<number, unknown>> = {}) => {
      const top: unknown[] = [1, ['a', 'b'], [0, 3, 1, 1], [], [1, entries]]
      for (const [k, v] of Object.entries(extra)) top[Number(k)] = v
      return cborEncode(top)
    }
    const ok = [0, 1, 0, 0, 'x', 1, 1, 0, 0, 'y']
    // A valid register whose data is the placeholder 'ZZ', the last 3 bytes: swap in raw CBOR.
    const withData = (...raw: number[]) =>
      Uint8Array.from([...reg([0, 1, 0, 0, 'ZZ']).slice(0, -3), ...raw])
    expect(readRegister(decodeValue(withData(0x62, 0x5a, 0x5a))).value).toBe('ZZ')
    // Sanity: the baseline decodes.
    expect(readRegister(decodeValue(reg(ok))).siblings).toHaveLength(2)
    const cart = (lines: unknown[]) => cborEncode([1, ['a'], [0, 9], [], [2, lines]])
    expect(readCart(decodeValue(cart(['apple', 0, 1, 0, 0, 1, 2]))).map((l) => l.qty)).toEqual([2])
    // The same stores in the right order decode (so the case below fails only for its order).
    const bothStores = [1, ok, 2, ['apple', 0, 1, 0, 0, 1, 1]]
    expect(valueKind(decodeValue(cborEncode([1, ['a', 'b'], [0, 3, 1, 1], [], bothStores])))).toBe(
      'mixed',
    )
    const deep: unknown[] = []
    let cursor = deep
    for (let i = 0; i < LIMITS.maxDepth + 2; i++) {
      const next: unknown[] = []
      cursor.push(next)
      cursor = next
    }
    const cases: Record<string, Uint8Array> = {
      'format version 2': reg(ok, { 0: 2 }),
      'extra top-level field': cborEncode([1, ['a', 'b'], [0, 3, 1, 1], [], [1, ok], 0]),
      'top level is a map': cborEncode({ version: 1 }),
      'unsorted replica table': reg(ok, { 1: ['b', 'a'] }),
      'duplicate replica': reg(ok, { 1: ['a', 'a'] }),
      'unused replica': reg(ok, { 1: ['a', 'b', 'c'] }),
      'empty replica id': reg(ok, { 1: ['', 'b'] }),
      'version vector odd length': reg(ok, { 2: [0, 3, 1] }),
      'version vector counter 0': reg(ok, { 2: [0, 3, 1, 0] }),
      'replica index out of range': reg(ok, { 2: [0, 3, 5, 1] }),
      'unsorted version vector': reg(ok, { 2: [1, 1, 0, 3] }),
      'non-compact cloud': reg(ok, { 3: [0, [4]] }),
      'empty cloud list': reg(ok, { 3: [0, []] }),
      'register dot missing from context': reg([0, 4, 0, 0, 'x']),
      'register not sorted by dot': reg([1, 1, 0, 0, 'y', 0, 1, 0, 0, 'x']),
      'duplicate register dot': reg([0, 1, 0, 0, 'x', 0, 1, 0, 0, 'x']),
      'register tuple too short': reg([0, 1, 0, 0]),
      'negative wall time': reg([0, 1, -1, 0, 'x']),
      'logical time too large': reg([0, 1, 0, LIMITS.maxLogical + 1, 'x']),
      'float counter': reg([0, 1.5, 0, 0, 'x']),
      'empty register store': reg([]),
      'unknown store tag': reg(ok, { 4: [3, ok] }),
      'unsorted store tags': cborEncode([
        1,
        ['a', 'b'],
        [0, 3, 1, 1],
        [],
        [2, ['apple', 0, 1, 0, 0, 1, 1], 1, ok],
      ]),
      'data nested too deep': reg([0, 1, 0, 0, deep]),
      'unsorted skus': cart(['pear', 0, 1, 0, 0, 1, 1, 'apple', 0, 1, 0, 0, 2, 1]),
      'duplicate sku': cart(['apple', 0, 1, 0, 0, 1, 1, 'apple', 0, 1, 0, 0, 2, 1]),
      'empty sku': cart(['', 0, 1, 0, 0, 1, 1]),
      'line without quantity': cart(['apple', 0, 0, 1, 0, 1, 'meta']),
      'quantity 0': cart(['apple', 1, 0, 0, 0, 1, 0]),
      'quantity too large': cart(['apple', 0, 1, 0, 0, 1, LIMITS.maxQuantity + 1]),
      'cart line entries truncated': cart(['apple', 0, 1, 0, 0, 1]),
      'cart line header truncated': cart(['apple', 0, 1]),
      'cart entry count is negative': cart(['apple', 0, -1, 0, 0, 1, 1]),
      'cart entries not sorted by dot': cart(['apple', 0, 2, 0, 0, 2, 1, 0, 1, 1]),
      'cart entry count is not a number': cart(['apple', 'x', 1, 0, 0, 1, 1]),
      'empty cart store': cart([]),
      'trailing bytes': Uint8Array.from([...reg(ok), 0x00]),
      'minus zero in data': withData(0xf9, 0x80, 0x00),
      'NaN in data': withData(0xf9, 0x7e, 0x00),
      'infinity in data': withData(0xf9, 0x7c, 0x00),
      'undefined in data': withData(0xf7),
      'bigint in data': withData(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      'map with a non-string key in data': withData(0xa1, 0x01, 0x02),
      'duplicate map key in data': withData(0xa2, 0x61, 0x6b, 0x01, 0x61, 0x6b, 0x02),
      'invalid UTF-8 lone surrogate in data': withData(0x63, 0xed, 0xa0, 0x80),
      'nesting bomb': Uint8Array.from([...new Array(100_000).fill(0x81), 0x00]),
      'huge declared length': Uint8Array.from([
        0x85, 0x01, 0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      ]),
      'indefinite length array': Uint8Array.from([0x9f, 0x01, 0xff]),
      'tagged value': Uint8Array.from([0xd8, 0x2a, 0x01]),
      'non-minimal integer': Uint8Array.from([0x85, 0x18, 0x01, 0x80, 0x80, 0x80, 0x80]),
      'empty input': new Uint8Array(0),
    }
    for (const [name, bytes] of Object.entries(cases)) {
      let caught: unknown
      try {
        decodeValue(bytes)
      } catch (error) {
        caught = error
      }
      expect(isMendsyncError(caught, 'DECODE_ERROR'), name).toBe(true)
      if (process.env.SHOW_DECODE_ERRORS) console.log(name, '->', (caught as Error).message)
    }
    expectDecodeError(() => decodeValue('not bytes' as unknown as Uint8Array))
    // Too many siblings.
    const many: unknown[] = []
    for (let c = 1; c <= LIMITS.maxSiblings + 1; c++) many.push(0, c, 0, 0, c)
    expectDecodeError(() =>
      decodeValue(cborEncode([1, ['a'], [0, LIMITS.maxSiblings + 1], [], [1, many]])),
    )
  })
})

describe('hashing', () => {
  it('hashBytes is SHA-256 and stateHash is the 32-byte hash of the canonical encoding', () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
    expect(hex(hashBytes(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    const a = cartAdd(emptyValue(), { replica: 'a' }, 'apple', 1).state
    const b = cartAdd(emptyValue(), { replica: 'b' }, 'apple', 1).state
    expect(stateHash(a)).toHaveLength(32)
    expect(stateHash(a)).toEqual(hashBytes(encodeValue(a)))
    expect(stateHash(joinValues(a, b))).toEqual(stateHash(joinValues(b, a)))
    expect(hex(stateHash(a))).not.toBe(hex(stateHash(b)))
    expect(hex(stateHash(a))).not.toBe(hex(stateHash(joinValues(a, b))))
  })
})
