import { MemoryStorage } from '@mendsync/replica'
import {
  crc32,
  DEFAULT_SCAN_LIMIT,
  decodeKey,
  encodeKey,
  inScanRange,
  loneSurrogateIndex,
  prefixEnd,
  prepareBatch,
  prepareScan,
  recordChecksum,
  type ScanPage,
  type Storage,
  scanAll,
} from '@mendsync/replica/adapter'
import { describe, expect, it } from 'vitest'

const text = (s: string) => new TextEncoder().encode(s)

describe('crc32', () => {
  it('matches the standard check values and continues like zlib.crc32(data, previous)', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    expect(crc32(text('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339)
    const whole = text('hello, incremental world: more than eight bytes')
    for (const cut of [0, 1, 7, 8, 9, 20, whole.length]) {
      expect(crc32(whole.subarray(cut), crc32(whole.subarray(0, cut)))).toBe(crc32(whole))
    }
  })

  it('recordChecksum is the CRC-32 of the encoded key followed by the value', () => {
    const value = text('value bytes')
    for (const key of ['k', '\u{1f600}', 'a\u0000\uffff']) {
      expect(recordChecksum(key, value)).toBe(crc32(value, crc32(encodeKey(key))))
    }
    expect(recordChecksum('a', value)).not.toBe(recordChecksum('b', value))
  })
})

describe('key codec', () => {
  const keys = [
    'a',
    'ab',
    '\u0000',
    '\u007f',
    '\u0080',
    '\u07ff',
    '\u0800',
    '\ud7ff',
    '\ue000',
    '\uffff',
    '\u{10000}',
    '\u{1f600}',
    '\u{10ffff}',
    'x'.repeat(5000),
    `${'é'.repeat(4097)}z`,
  ]
  const compareBytes = (a: Uint8Array, b: Uint8Array) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
    return a.length - b.length
  }

  it('round-trips keys, lone surrogates included (scan bounds may have them)', () => {
    for (const key of [...keys, '\ud800', 'a\udfffb']) expect(decodeKey(encodeKey(key))).toBe(key)
  })

  it('is UTF-8 for ASCII and BMP text, and one 3-byte sequence per surrogate', () => {
    const utf8 = new TextEncoder()
    for (const key of ['plain/ascii', 'é', '\u0800\uffff'])
      expect(encodeKey(key)).toEqual(utf8.encode(key))
    expect(Array.from(encodeKey('\u{10000}'))).toEqual([0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80])
  })

  it('orders encoded keys byte by byte exactly as UTF-16 code units', () => {
    const byBytes = [...keys].sort((a, b) => compareBytes(encodeKey(a), encodeKey(b)))
    expect(byBytes).toEqual([...keys].sort())
    // Every pair of code units, including across the surrogate and U+E000 blocks.
    const units = [
      0, 0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff,
    ]
    for (const a of units) {
      for (const b of units) {
        const x = String.fromCharCode(a, 0x61)
        const y = String.fromCharCode(b)
        expect(Math.sign(compareBytes(encodeKey(x), encodeKey(y)))).toBe(x < y ? -1 : x > y ? 1 : 0)
      }
    }
  })

  it('rejects malformed bytes', () => {
    for (const bad of [
      [0x80],
      [0xc0, 0x80],
      [0xe0, 0x80, 0x80],
      [0xe1, 0x80],
      [0xf0, 0x90, 0x80, 0x80],
      [0xc3, 0x41],
    ]) {
      expect(() => decodeKey(new Uint8Array(bad))).toThrow(RangeError)
    }
  })
})

describe('validation', () => {
  it('finds lone surrogates', () => {
    expect(loneSurrogateIndex('abc\u{1f600}')).toBe(-1)
    expect(loneSurrogateIndex('ab\ud800')).toBe(2)
    expect(loneSurrogateIndex('\udc00')).toBe(0)
    expect(loneSurrogateIndex('\ud800\ud800\udc00')).toBe(0)
  })

  it('prepareBatch snapshots the batch and copies values unless told not to', () => {
    const value = new Uint8Array([1, 2])
    const prepared = prepareBatch({
      values: [{ key: 'a', value }],
      meta: [{ key: 'b', value: null }],
    })
    value[0] = 9
    expect(prepared.values[0]?.value).toEqual(new Uint8Array([1, 2]))
    expect(prepared.size).toBe(2)
    expect(prepared.bytes).toBe(2 + 2 + 2)
    expect(
      prepareBatch({ values: [{ key: 'a', value }] }, { copyValues: false }).values[0]?.value,
    ).toBe(value)
  })

  it('prefixEnd bounds exactly the strings that start with the prefix', () => {
    expect(prefixEnd('')).toBeUndefined()
    expect(prefixEnd('\uffff\uffff')).toBeUndefined()
    expect(prefixEnd('ab')).toBe('ac')
    expect(prefixEnd('a\uffff')).toBe('b')
  })

  it('prepareScan folds the bounds into one interval', () => {
    expect(prepareScan({ namespace: 'meta' })).toEqual({
      namespace: 'meta',
      lowerOpen: false,
      limit: DEFAULT_SCAN_LIMIT,
      empty: false,
    })
    const scan = prepareScan({
      namespace: 'values',
      prefix: 'a',
      gte: 'a/1',
      after: 'a/1',
      lt: 'z',
      limit: 5,
    })
    expect(scan).toMatchObject({
      lower: 'a/1',
      lowerOpen: true,
      upper: 'b',
      limit: 5,
      empty: false,
    })
    expect(inScanRange(scan, 'a/1')).toBe(false)
    expect(inScanRange(scan, 'a/10')).toBe(true)
    expect(inScanRange(scan, 'b')).toBe(false)
    expect(prepareScan({ namespace: 'values', gte: 'b', lt: 'a' }).empty).toBe(true)
    expect(prepareScan({ namespace: 'values', gte: 'b', lt: 'b' }).empty).toBe(true)
    expect(prepareScan({ namespace: 'values', lt: '' }).empty).toBe(true)
    expect(prepareScan({ namespace: 'values', gte: '' }).lower).toBeUndefined()
  })
})

describe('scanAll', () => {
  it('iterates every page from an optional start', async () => {
    const storage = new MemoryStorage()
    const keys = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`)
    await storage.write({ values: keys.map((key) => ({ key, value: new Uint8Array([1]) })) })
    const seen: string[] = []
    for await (const entry of scanAll(storage, { namespace: 'values', limit: 5 }))
      seen.push(entry.key)
    expect(seen).toEqual(keys)
    const rest: string[] = []
    for await (const entry of scanAll(storage, { namespace: 'values', limit: 4, after: 'k19' })) {
      rest.push(entry.key)
    }
    expect(rest).toEqual(['k20', 'k21', 'k22'])
  })

  it('fails with STORAGE_FAILURE on a cursor that does not advance', async () => {
    const stuck: Storage = {
      get: async () => [],
      write: async () => {},
      close: async () => {},
      scan: async (): Promise<ScanPage> => ({
        entries: [{ key: 'a', value: new Uint8Array() }],
        cursor: 'a',
      }),
    }
    const run = async () => {
      for await (const _ of scanAll(stuck, { namespace: 'values' })) {
        // drain
      }
    }
    await expect(run()).rejects.toMatchObject({ code: 'STORAGE_FAILURE' })
  })
})

describe('prepareBatch copies', () => {
  it('copies a Node Buffer (whose slice() is a view), so later changes by the caller are not stored', async () => {
    const storage = new MemoryStorage()
    const value = Buffer.from([1, 2, 3])
    await storage.write({ values: [{ key: 'k', value }] })
    value[0] = 9
    expect([...((await storage.get('values', ['k']))[0] ?? [])]).toEqual([1, 2, 3])
  })
})
