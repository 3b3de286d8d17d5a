// Ed25519 signature checks without rebuilding the key each time (Node only). @libp2p/crypto's
// Node `Ed25519PublicKey.verify` turns the raw 32-byte key into a `KeyObject` (a JWK import) on
// every call, and gossipsub (StrictSign) decodes a fresh public key from every message's
// `from`: a relay profile at 100 writers x 5/s spent about 1.46 s of a run there, and one check
// took 3.2 ms against 0.94 ms with the `KeyObject` reused (same loaded machine). This keeps the
// `KeyObject`s of the most recently seen keys in a bounded LRU and verifies with them; the check
// itself is node:crypto's, as before. Patches the class's prototype once per process (every
// libp2p node of the process shares @libp2p/crypto); odd inputs go to the original method.
import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { BoundedMap } from '@mendsync/core/toolbox'

/**
 * Public keys whose `KeyObject` is kept: a relay's writers and its cluster peers (each about
 * 100 B of native memory); a key seen again after being evicted is imported again.
 */
export const VERIFY_KEY_CACHE_SIZE = 4096

const PUBLIC_KEY_BYTES = 32
const SIGNATURE_BYTES = 64

/** What the patched method sees: @libp2p/crypto's Ed25519PublicKey. */
interface Ed25519PublicKeyLike {
  readonly raw: Uint8Array
  verify(
    data: Uint8Array | { subarray(): Uint8Array },
    sig: Uint8Array,
    options?: { signal?: AbortSignal },
  ): boolean | Promise<boolean>
}

let installed = false

/**
 * Makes every Ed25519 signature check of this process (gossip messages, noise handshakes)
 * reuse the key's `KeyObject`, kept in an LRU of `capacity` keys. Idempotent: the first call's
 * capacity holds.
 */
export function cacheEd25519VerifyKeys(capacity: number = VERIFY_KEY_CACHE_SIZE): void {
  if (installed) return
  installed = true
  const prototype = Object.getPrototypeOf(
    publicKeyFromRaw(new Uint8Array(PUBLIC_KEY_BYTES)),
  ) as Ed25519PublicKeyLike
  const original = prototype.verify
  const keys = new BoundedMap<string, KeyObject>(capacity)
  prototype.verify = function (this: Ed25519PublicKeyLike, data, sig, options) {
    if (this.raw.byteLength !== PUBLIC_KEY_BYTES || sig.byteLength !== SIGNATURE_BYTES) {
      return original.call(this, data, sig, options)
    }
    options?.signal?.throwIfAborted()
    const x = Buffer.from(this.raw.buffer, this.raw.byteOffset, this.raw.byteLength).toString(
      'base64url',
    )
    let key = keys.get(x)
    if (key === undefined) {
      key = createPublicKey({ format: 'jwk', key: { crv: 'Ed25519', x, kty: 'OKP' } })
      keys.set(x, key)
    }
    return verify(null, data instanceof Uint8Array ? data : data.subarray(), key, sig)
  }
}
