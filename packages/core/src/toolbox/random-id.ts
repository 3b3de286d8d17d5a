/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}

/**
 * A random id of `bytes` bytes as lowercase hex, from the platform's cryptographic random source
 * (Web Crypto, present in every supported browser and in Node >= 20).
 */
export function randomHexId(bytes = 8): string {
  return toHex(randomBytes(bytes))
}

/** `length` bytes from the platform's cryptographic random source. */
export function randomBytes(length: number): Uint8Array {
  const buffer = new Uint8Array(length)
  globalThis.crypto.getRandomValues(buffer)
  return buffer
}

/** A random unsigned 32-bit integer from the platform's cryptographic random source. */
export function randomUint32(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0] as number
}
