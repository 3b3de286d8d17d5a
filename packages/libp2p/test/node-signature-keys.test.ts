// Ed25519 checks with cached KeyObjects give exactly the answers of @libp2p/crypto's own check:
// a good signature verifies (again and again, from fresh key objects as gossipsub makes them), a
// signature of other bytes or by another key does not, and a malformed one throws as before.
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { cacheEd25519VerifyKeys } from '../src/node-signature-keys.js'

describe('Ed25519 verification with cached key objects', () => {
  it('accepts good signatures and refuses wrong bytes, wrong keys and malformed signatures', async () => {
    const alice = await generateKeyPair('Ed25519')
    const bob = await generateKeyPair('Ed25519')
    const message = new TextEncoder().encode('gossip payload')
    const signature = await alice.sign(message)
    const before = await publicKeyFromRaw(alice.publicKey.raw).verify(message, signature)
    const ownVerify = Object.getPrototypeOf(alice.publicKey).verify
    cacheEd25519VerifyKeys()
    expect(Object.getPrototypeOf(alice.publicKey).verify).not.toBe(ownVerify)
    // Fresh key objects each time, as gossipsub decodes one per message.
    for (let round = 0; round < 3; round++) {
      expect(await publicKeyFromRaw(alice.publicKey.raw).verify(message, signature)).toBe(true)
      expect(
        await publicKeyFromRaw(alice.publicKey.raw).verify(
          new TextEncoder().encode('other payload'),
          signature,
        ),
      ).toBe(false)
      expect(await publicKeyFromRaw(bob.publicKey.raw).verify(message, signature)).toBe(false)
    }
    expect(before).toBe(true)
    expect(() =>
      publicKeyFromRaw(alice.publicKey.raw).verify(message, signature.subarray(1)),
    ).toThrow(/64 bytes/)
  })
})
