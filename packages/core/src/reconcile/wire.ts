// Byte-level reading and writing: unsigned LEB128 varints (canonical, at most 2^53 - 1) and
// little-endian 32-bit words. A reader throws a MendsyncError of the code it was created with on
// any out-of-bounds read or non-canonical varint.

import { MendsyncError, type MendsyncErrorCode } from '../errors.js'

export class Writer {
  bytes: Uint8Array
  length = 0

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity)
  }

  ensure(extra: number): void {
    const need = this.length + extra
    if (need <= this.bytes.length) return
    let cap = this.bytes.length * 2
    while (cap < need) cap *= 2
    const b = new Uint8Array(cap)
    b.set(this.bytes.subarray(0, this.length))
    this.bytes = b
  }

  u8(v: number): void {
    this.ensure(1)
    this.bytes[this.length++] = v
  }

  varint(value: number): void {
    this.ensure(8)
    let v = value
    const b = this.bytes
    while (v >= 0x80) {
      b[this.length++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    b[this.length++] = v
  }

  u32(v: number): void {
    this.ensure(4)
    const b = this.bytes
    const p = this.length
    b[p] = v
    b[p + 1] = v >>> 8
    b[p + 2] = v >>> 16
    b[p + 3] = v >>> 24
    this.length = p + 4
  }

  raw(src: Uint8Array): void {
    this.ensure(src.length)
    this.bytes.set(src, this.length)
    this.length += src.length
  }

  /** A copy of the written bytes. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length)
  }
}

/** The number of bytes of `value` as a varint. */
export function varintSize(value: number): number {
  let n = 1
  let v = value
  while (v >= 0x80) {
    n++
    v = Math.floor(v / 0x80)
  }
  return n
}

export class Reader {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number
  readonly #code: MendsyncErrorCode
  readonly #what: string

  constructor(
    bytes: Uint8Array,
    code: MendsyncErrorCode,
    what: string,
    start = 0,
    end = bytes.length,
  ) {
    this.bytes = bytes
    this.pos = start
    this.end = end
    this.#code = code
    this.#what = what
  }

  fail(reason: string): never {
    throw new MendsyncError(this.#code, `${this.#what}: ${reason}`)
  }

  get remaining(): number {
    return this.end - this.pos
  }

  need(n: number, field: string): void {
    if (n > this.end - this.pos) this.fail(`truncated ${field}`)
  }

  u8(field: string): number {
    if (this.pos >= this.end) this.fail(`truncated ${field}`)
    return this.bytes[this.pos++]!
  }

  /** A canonical unsigned varint no larger than `max`. */
  varint(field: string, max = Number.MAX_SAFE_INTEGER): number {
    let value = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${field}`)
      if (i >= 8) this.fail(`${field} is too long`)
      const b = this.bytes[this.pos++]!
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`${field} is not minimally encoded`)
        break
      }
      scale *= 0x80
    }
    if (value > max) this.fail(`${field} out of range (${value} > ${max})`)
    return value
  }

  /** A little-endian 32-bit word, as an int32. */
  i32(field: string): number {
    this.need(4, field)
    const b = this.bytes
    const p = this.pos
    this.pos = p + 4
    return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
  }

  raw(n: number, field: string): Uint8Array {
    this.need(n, field)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  done(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes`)
  }
}
