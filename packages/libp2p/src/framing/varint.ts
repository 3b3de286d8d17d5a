// Unsigned LEB128 varints, the length prefix of every mendsync frame (the encoding
// `it-length-prefixed` writes). The reader decodes them byte by byte itself (see frame-reader.ts).

/** Bytes the varint encoding of `value` takes. */
export function varintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    length += 1
  }
  return length
}

/** The minimal varint encoding of the non-negative safe integer `value`. */
export function encodeVarint(value: number): Uint8Array {
  const bytes = new Uint8Array(varintLength(value))
  for (let i = 0; i < bytes.length; i++) {
    const low = value % 0x80
    value = Math.floor(value / 0x80)
    bytes[i] = value > 0 ? low | 0x80 : low
  }
  return bytes
}
