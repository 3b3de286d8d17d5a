import { isMendsyncError } from '@mendsync/core'
import { decodeProof, encodeProof } from '@mendsync/core/access'
import {
  createInviteToken,
  createSpace,
  grantAccess,
  MemoryStorage,
  openReplica,
  RESERVED_KEY_PREFIX,
  REVOCATION_KEY_PREFIX,
  redeemInviteToken,
  signingKeyOf,
} from '@mendsync/replica'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { newDevice, SpaceFixture, storedKeys } from './spaces-support.js'

let fixture: SpaceFixture | undefined
afterEach(async () => {
  await fixture?.close()
  fixture = undefined
})

/** The code of the error `work` rejects with (fails the test when it resolves). */
async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work
  } catch (error) {
    if (isMendsyncError(error)) return error.code
    throw error
  }
  throw new Error('expected a MendsyncError, the call succeeded')
}

/** Flips one byte of `bytes`, then cuts the copy after it or extends it, as `m` says. */
function mutate(
  bytes: Uint8Array,
  m: { at: number; xor: number; extra: Uint8Array | undefined; cut: boolean },
): Uint8Array {
  const out = new Uint8Array(bytes)
  const at = m.at % out.byteLength
  out[at] = (out[at] as number) ^ m.xor
  if (m.cut) return out.subarray(0, at + 1)
  if (m.extra === undefined) return out
  const longer = new Uint8Array(out.byteLength + m.extra.byteLength)
  longer.set(out)
  longer.set(m.extra, out.byteLength)
  return longer
}

describe('openReplica of a private space', () => {
  it("opens the owner's replica with every right, and a granted device's with its grant's", async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    expect(owner.replica.access()).toEqual({
      space: fixture.spaceId,
      private: true,
      rights: ['read', 'write', 'admin', 'invite'],
      readOnly: false,
      expiresAt: 0,
      revoked: false,
    })
    const device = await newDevice()
    const proof = await owner.replica.grant(device.peerId, {
      rights: ['read', 'write'],
      ttlSeconds: 3600,
    })
    const member = await fixture.openDevice(device, proof)
    expect(member.replica.access()).toMatchObject({
      rights: ['read', 'write'],
      readOnly: false,
      expiresAt: proof.chain[0]?.grant.expiresAt,
    })
    await member.replica.put('k', 'v')
    expect((await member.replica.get('k')).value).toBe('v')
  })

  it('keeps named open spaces as they were: every right, no expiry, not private', async () => {
    const replica = await openReplica({ space: 'demo', storage: new MemoryStorage() })
    expect(replica.access()).toEqual({
      space: 'demo',
      private: false,
      rights: ['read', 'write'],
      readOnly: false,
      expiresAt: 0,
      revoked: false,
    })
    await expect(replica.revoke((await newDevice()).peerId)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await replica.close()
  })

  it('refuses a mismatched space id, a missing access, a proof of another device or another space, and stores nothing', async () => {
    const owner = await newDevice()
    const other = await newDevice()
    const space = createSpace(owner.key, 'cart')
    const elsewhere = createSpace(other.key, 'cart')
    const storage = new MemoryStorage()
    const open = (options: Record<string, unknown>) =>
      codeOf(openReplica({ space: space.spaceId, storage, ...options }))
    // A private id without access, an id that is not the descriptor's, a descriptor of another space.
    expect(await open({})).toBe('INVALID_ARGUMENT')
    expect(
      await codeOf(
        openReplica({ space: 'demo', storage, access: { descriptor: space.descriptor } }),
      ),
    ).toBe('INVALID_ARGUMENT')
    expect(await open({ access: { descriptor: elsewhere.descriptor } })).toBe('INVALID_ARGUMENT')
    expect(await open({ access: {} })).toBe('INVALID_ARGUMENT')
    expect(await open({ access: { proof: new Uint8Array([1, 2, 3]) } })).toBe('INVALID_ARGUMENT')
    expect(await open({ access: { proof: { space: space.descriptor, chain: 7 } } })).toBe(
      'INVALID_ARGUMENT',
    )
    expect(await open({ access: { proof: space.proof, trustedPeers: [''] } })).toBe(
      'INVALID_ARGUMENT',
    )
    expect(await open({ access: { proof: space.proof, signer: { type: 'RSA' } } })).toBe(
      'INVALID_ARGUMENT',
    )
    // The owner's proof on another device's key; another space's proof with this descriptor.
    expect(await open({ access: { proof: space.proof, signer: other.key } })).toBe('ACCESS_DENIED')
    expect(await open({ access: { descriptor: space.descriptor, proof: elsewhere.proof } })).toBe(
      'ACCESS_DENIED',
    )
    expect(await storedKeys(storage, 'meta')).toEqual([])
    expect(await storedKeys(storage, 'values')).toEqual([])
    // The same storage opens once the access is right.
    const replica = await openReplica({
      space: space.spaceId,
      storage,
      access: { proof: encodeProof(space.proof), signer: owner.key },
    })
    expect(replica.access().rights).toContain('admin')
    await replica.close()
  })

  it('accepts no mutated proof: every byte flip, truncation or extension is refused with a typed error, nothing stored', async () => {
    const owner = await newDevice()
    const device = await newDevice()
    const space = createSpace(owner.key, 'cart')
    const bytes = encodeProof(
      await grantAccess(owner.key, space.proof, device.peerId, {
        rights: ['read', 'write', 'admin'],
      }),
    )
    const storage = new MemoryStorage()
    const open = (proof: Uint8Array) =>
      openReplica({ space: space.spaceId, storage, access: { proof, signer: device.key } })
    let accepted = 0
    const codes = new Set<string>()
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          at: fc.nat(),
          xor: fc.integer({ min: 1, max: 255 }),
          extra: fc.option(fc.uint8Array({ minLength: 1, maxLength: 4 }), { nil: undefined }),
          cut: fc.boolean(),
        }),
        async (m) => {
          try {
            const replica = await open(mutate(bytes, m))
            accepted += 1
            await replica.close()
          } catch (error) {
            if (!isMendsyncError(error)) throw error
            codes.add(error.code)
          }
        },
      ),
      { numRuns: 400 },
    )
    expect(accepted).toBe(0)
    expect([...codes].sort()).toEqual(['ACCESS_DENIED', 'INVALID_ARGUMENT'])
    expect(await storedKeys(storage, 'meta')).toEqual([])
    // The unmutated proof opens on the same storage.
    const replica = await open(bytes)
    expect(replica.access().rights).toEqual(['read', 'write', 'admin'])
    await replica.close()
  })

  it('opens a device from an invite token, and refuses a tampered token with a typed error', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const token = await owner.replica.invite({ rights: ['read', 'write'], ttlSeconds: 600 })
    const device = await newDevice()
    const credentials = await redeemInviteToken(token, device.peerId)
    expect(credentials.spaceId).toBe(fixture.spaceId)
    const member = await fixture.openDevice(device, credentials.proof)
    expect(member.replica.access()).toMatchObject({ rights: ['read', 'write'], readOnly: false })
    expect(member.replica.access().expiresAt).toBe(credentials.proof.chain[0]?.grant.expiresAt)
    const flipped = `${token.slice(0, 100)}${token[100] === 'A' ? 'B' : 'A'}${token.slice(101)}`
    expect(['ACCESS_DENIED', 'INVALID_ARGUMENT']).toContain(
      await codeOf(redeemInviteToken(flipped, device.peerId)),
    )
    expect(await codeOf(redeemInviteToken('not an invite!', device.peerId))).toBe(
      'INVALID_ARGUMENT',
    )
  })

  it('lets an app server holding an admin grant issue invites and direct grants, as the access docs show', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const server = await newDevice()
    const serverProof = decodeProof(
      encodeProof(
        await owner.replica.grant(server.peerId, {
          rights: ['read', 'write', 'admin', 'invite'],
        }),
      ),
    )
    const token = await createInviteToken(server.key, serverProof, {
      rights: ['read', 'write'],
      ttlSeconds: 600,
    })
    const phone = await newDevice()
    const { spaceId, proof } = await redeemInviteToken(token, phone.peerId)
    expect(spaceId).toBe(fixture.spaceId)
    const member = await fixture.openDevice(phone, proof)
    expect(member.replica.access().rights).toEqual(['read', 'write'])
    const laptop = await newDevice()
    const direct = await grantAccess(server.key, serverProof, laptop.peerId, {
      rights: ['read', 'write'],
      ttlSeconds: 30 * 86_400,
    })
    expect((await fixture.openDevice(laptop, direct)).replica.access().rights).toEqual([
      'read',
      'write',
    ])
    // The server's key with someone else's proof is refused before anything is signed.
    expect(await codeOf(createInviteToken(server.key, proof, { rights: ['read'] }))).toBe(
      'INVALID_ARGUMENT',
    )
  })

  it('lets only the owner or an admin grant and invite: a read-write device is refused ACCESS_DENIED', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const writer = await newDevice()
    const proof = await owner.replica.grant(writer.peerId, { rights: ['read', 'write'] })
    const member = await fixture.openDevice(writer, proof, { signer: writer.key })
    const stranger = await newDevice()
    expect(await codeOf(member.replica.grant(stranger.peerId, { rights: ['read'] }))).toBe(
      'ACCESS_DENIED',
    )
    expect(await codeOf(member.replica.invite({ rights: ['read'] }))).toBe('ACCESS_DENIED')
    expect(await codeOf(member.replica.revoke(stranger.peerId))).toBe('ACCESS_DENIED')
    // Asking for a right the issuer lacks, or none, is refused before anything is signed.
    expect(await codeOf(owner.replica.grant(stranger.peerId, { rights: [] }))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(
      await codeOf(owner.replica.grant(stranger.peerId, { rights: ['read'], ttlSeconds: -1 })),
    ).toBe('INVALID_ARGUMENT')
    expect(await codeOf(owner.replica.revoke(fixture.owner.peerId))).toBe('INVALID_ARGUMENT')
  })

  it('takes a libp2p Ed25519 private key as a signer and refuses other key types', async () => {
    const device = await newDevice()
    expect(signingKeyOf(device.key)).toBe(device.key)
    expect(() =>
      signingKeyOf({ type: 'secp256k1', publicKey: { raw: new Uint8Array(33) }, sign: (d) => d }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('the local API of a private space', () => {
  it('tells a read-only device it is read-only and refuses its writes before anything is written', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const reader = await newDevice()
    const member = await fixture.openDevice(
      reader,
      await owner.replica.grant(reader.peerId, { rights: ['read'] }),
    )
    expect(member.replica.access()).toMatchObject({ rights: ['read'], readOnly: true })
    const before = await storedKeys(new MemoryStorage({ store: member.store }), 'meta')
    for (const write of [
      member.replica.put('k', 'v'),
      member.replica.delete('k'),
      member.replica.cart('cart').add('apple'),
      member.replica.cart('cart').setQty('apple', 2),
    ]) {
      await expect(write).rejects.toMatchObject({
        code: 'ACCESS_DENIED',
        message: expect.stringMatching(/gives only read/),
      })
    }
    const storage = new MemoryStorage({ store: member.store })
    expect(await storedKeys(storage, 'values')).toEqual([])
    expect(await storedKeys(storage, 'meta')).toEqual(before)
  })

  it('turns read-only when the grant expires, on the replica’s clock', async () => {
    fixture = await SpaceFixture.create()
    let clock = Date.now()
    const owner = await fixture.openOwner()
    const device = await newDevice()
    const proof = await owner.replica.grant(device.peerId, {
      rights: ['read', 'write'],
      ttlSeconds: 60,
    })
    const member = await fixture.open(device, { proof }, { now: () => clock })
    await member.replica.put('k', 'before expiry')
    clock += 61_000
    expect(member.replica.access()).toMatchObject({ rights: [], readOnly: true })
    await expect(member.replica.put('k', 'after expiry')).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
      message: expect.stringMatching(/expired/),
    })
    expect((await member.replica.get('k', { repair: 'none' })).value).toBe('before expiry')
  })

  it('opens a relay replica from the descriptor alone: it holds no right and writes nothing locally', async () => {
    fixture = await SpaceFixture.create()
    const relay = await newDevice()
    const member = await fixture.open(relay, { descriptor: fixture.credentials.descriptor })
    expect(member.replica.access()).toMatchObject({ private: true, rights: [], readOnly: true })
    await expect(member.replica.put('k', 'v')).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
      message: expect.stringMatching(/relay/),
    })
  })

  it('keeps the reserved keys away from the application: no write, no read, no subscription', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const key = `${REVOCATION_KEY_PREFIX}00`
    expect(key.startsWith(RESERVED_KEY_PREFIX)).toBe(true)
    for (const attempt of [
      (): Promise<unknown> => owner.replica.put(key, 'x'),
      () => owner.replica.delete(key),
      () => owner.replica.get(key),
      () => owner.replica.cart(key).add('apple'),
    ]) {
      expect(await codeOf(Promise.resolve().then(attempt))).toBe('INVALID_ARGUMENT')
    }
    expect(() => owner.replica.subscribe(key, () => {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    // A subscription to every key sees the write after a revocation, and not the revocation.
    const seen: string[] = []
    owner.replica.subscribe({ prefix: '' }, (change) => seen.push(change.key))
    await owner.replica.revoke((await newDevice()).peerId)
    await owner.replica.put('after', 1)
    expect(seen).toEqual(['after'])
    expect(owner.replica.status().keys).toBe(2)
  })
})
