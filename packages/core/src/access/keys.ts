// Ed25519, the libp2p key type, through `@libp2p/crypto` (node:crypto in Node, WebCrypto or
// noble in browsers): the owner's key, admins' and devices' keys are libp2p peer keys, so a
// grant's subject is a peer id and the connection's authenticated peer is checked against it.
import { generateKeyPair, generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { concatBytes } from '@noble/hashes/utils.js'
import { MendsyncError } from '../errors.js'
import { BoundedMap } from '../toolbox/bounded-map.js'
import { toHex } from '../toolbox/random-id.js'

/** Bytes of a raw Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64

/**
 * What signs grants, revocations and invites: a libp2p Ed25519 private key (`generateKeyPair`
 * of `@libp2p/crypto/keys`, a node's `privateKey`), or anything shaped like one.
 */
export interface SigningKey {
  readonly type: 'Ed25519'
  readonly publicKey: { readonly raw: Uint8Array }
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

/**
 * The signing key of a libp2p private key (a node's `privateKey`, or one read back with
 * `privateKeyFromProtobuf`): the device's own peer key signs the grants and revocations it is
 * entitled to. `INVALID_ARGUMENT` unless it is an Ed25519 key, the only type grants name.
 */
export function signingKeyOf(privateKey: {
  readonly type: string
  readonly publicKey: { readonly raw: Uint8Array }
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}): SigningKey {
  if (privateKey?.type !== 'Ed25519' || typeof privateKey.sign !== 'function') {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `private spaces sign with Ed25519 keys, got ${String(privateKey?.type)}`,
    )
  }
  if (!(privateKey.publicKey?.raw instanceof Uint8Array)) {
    throw new MendsyncError('INVALID_ARGUMENT', 'the private key has no raw public key')
  }
  return privateKey as SigningKey
}

/** A fresh Ed25519 signing key. */
export async function generateSigningKey(): Promise<SigningKey> {
  return await generateKeyPair('Ed25519')
}

/** The Ed25519 key of a 32-byte seed (an invite's secret). */
export async function signingKeyFromSeed(seed: Uint8Array): Promise<SigningKey> {
  return await generateKeyPairFromSeed('Ed25519', seed)
}

/** Signs `domain || body`: the domain keeps a signature of one structure from passing as another. */
export async function signWithDomain(
  key: SigningKey,
  domain: Uint8Array,
  body: Uint8Array,
): Promise<Uint8Array> {
  if (key.type !== 'Ed25519') {
    throw new MendsyncError('INVALID_ARGUMENT', `signing keys must be Ed25519, got ${key.type}`)
  }
  // A plain Uint8Array (Node returns a Buffer), so equal signatures compare equal everywhere.
  return new Uint8Array(await key.sign(concatBytes(domain, body)))
}

/** Public keys kept imported into Web Crypto (one import per issuer, not per verification). */
const IMPORTED_KEYS = 1024
const imported = new BoundedMap<string, Promise<CryptoKey | null>>(IMPORTED_KEYS)

/**
 * The Web Crypto Ed25519 key of `publicKey`, or `null` where the platform's Web Crypto has no
 * Ed25519 (older browsers): verification then goes through `@libp2p/crypto`.
 */
function webCryptoKey(publicKey: Uint8Array): Promise<CryptoKey | null> {
  const id = toHex(publicKey)
  let key = imported.get(id)
  if (key === undefined) {
    const subtle = globalThis.crypto?.subtle
    key =
      subtle === undefined
        ? Promise.resolve(null)
        : subtle
            .importKey('raw', new Uint8Array(publicKey), { name: 'Ed25519' }, false, ['verify'])
            .catch(() => null)
    imported.set(id, key)
  }
  return key
}

/** Whether `signature` is `publicKey`'s signature of `domain || body`. Never throws. */
export async function verifyWithDomain(
  publicKey: Uint8Array,
  domain: Uint8Array,
  body: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) {
    return false
  }
  const message = concatBytes(domain, body)
  try {
    // Web Crypto (node:crypto in Node, BoringSSL in Chromium) on a key imported once is about
    // three times faster than `@libp2p/crypto`, which re-imports the key at every call.
    const key = await webCryptoKey(publicKey)
    if (key !== null) {
      return await globalThis.crypto.subtle.verify(
        'Ed25519',
        key,
        new Uint8Array(signature),
        message,
      )
    }
    return await publicKeyFromRaw(publicKey).verify(message, signature)
  } catch {
    // A public key that is not a curve point cannot have signed anything: that is the answer.
    return false
  }
}

/** The raw Ed25519 public key inside a libp2p peer id; `ACCESS_DENIED` for other key types. */
export function publicKeyOfPeerId(peerId: string): Uint8Array {
  let parsed: ReturnType<typeof peerIdFromString>
  try {
    parsed = peerIdFromString(peerId)
  } catch (cause) {
    throw new MendsyncError('INVALID_ARGUMENT', `'${peerId}' is not a libp2p peer id`, { cause })
  }
  if (parsed.type !== 'Ed25519' || parsed.publicKey === undefined) {
    throw new MendsyncError(
      'ACCESS_DENIED',
      `peer ${peerId} has a ${parsed.type} key; private spaces admit Ed25519 peers only`,
    )
  }
  return parsed.publicKey.raw
}

/** The libp2p peer id (string form) of a raw Ed25519 public key. */
export function peerIdOfPublicKey(publicKey: Uint8Array): string {
  // `@libp2p/crypto` and `@libp2p/peer-id` name the same key type through two releases of
  // `@libp2p/interface`; the key object is the same at run time.
  const key = publicKeyFromRaw(publicKey) as unknown as Parameters<typeof peerIdFromPublicKey>[0]
  return peerIdFromPublicKey(key).toString()
}

/** Whether two byte strings are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
