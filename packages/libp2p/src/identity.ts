// Persistent peer identity: a libp2p private key the caller keeps (the peer id derives from it).
// These helpers work everywhere; saving to and loading from a file is in `@mendsync/libp2p/node`.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MendsyncError } from '@mendsync/core'

export type { PrivateKey }

// @libp2p/crypto 5.1.x is typed against @libp2p/interface 3 while libp2p 2.x takes interface 2
// keys; the objects are the same at run time, so the helpers convert between the two typings.
type CryptoPrivateKey = Parameters<typeof privateKeyToProtobuf>[0]

/** A new Ed25519 identity. */
export async function generateIdentity(): Promise<PrivateKey> {
  return (await generateKeyPair('Ed25519')) as unknown as PrivateKey
}

/** The identity's bytes (libp2p's protobuf key encoding), to keep wherever the app keeps secrets. */
export function identityToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key as unknown as CryptoPrivateKey)
}

/** Reads an identity written by {@link identityToBytes}; bad bytes fail with `DECODE_ERROR`. */
export function identityFromBytes(bytes: Uint8Array): PrivateKey {
  try {
    return privateKeyFromProtobuf(bytes) as unknown as PrivateKey
  } catch (cause) {
    throw new MendsyncError('DECODE_ERROR', 'the bytes are not a libp2p private key', { cause })
  }
}

/** The peer id string of an identity. */
export function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(
    key as unknown as Parameters<typeof peerIdFromPrivateKey>[0],
  ).toString()
}
