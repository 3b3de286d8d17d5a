import { sha256 } from '@noble/hashes/sha2.js'
import type { CausalValue } from './causal-value.js'
import { encodeValue } from './codec.js'

/** The SHA-256 digest (32 bytes) of `bytes`. */
export function hashBytes(bytes: Uint8Array): Uint8Array {
  return sha256(bytes)
}

/**
 * The 32-byte fingerprint of a key's state: SHA-256 of its canonical encoding. Equal states have
 * equal hashes on every replica, whatever order their history was applied in, so replicas
 * compare keys (read repair digests, range reconciliation) without shipping them.
 */
export function stateHash(value: CausalValue): Uint8Array {
  return sha256(encodeValue(value))
}
