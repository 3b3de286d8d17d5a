import { describe, expect, it } from 'vitest'
import {
  AccessVerifier,
  ADMIN,
  CLOCK_SKEW_SECONDS,
  createInvite,
  decodeInvite,
  decodeProof,
  decodeRevocation,
  decodeSignedGrant,
  encodeInvite,
  encodeProof,
  encodeRevocation,
  encodeSignedGrant,
  INVITE,
  isPrivateSpaceId,
  MAX_DELEGATION_DEPTH,
  peerIdOfPublicKey,
  publicKeyOfPeerId,
  READ,
  redeemInvite,
  rightNames,
  rightsOf,
  signGrant,
  signRevocation,
  spaceIdOf,
  WRITE,
} from '../../src/access/index.js'
import { isMendsyncError } from '../../src/errors.js'
import { EVERYTHING_BUT_INVITE, keys, makeSpace, NOW, READ_WRITE } from './fixtures.js'

async function denial(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isMendsyncError(error, 'ACCESS_DENIED'))
    throw new Error(`expected ACCESS_DENIED, got ${String(error)}`)
  return error.message
}

describe('space ids', () => {
  it('derive the same id from the same owner and name, and a different one otherwise', async () => {
    const [a, b] = await keys(2)
    const id = spaceIdOf({ owner: a!.publicKey.raw, name: 'cart' })
    expect(isPrivateSpaceId(id)).toBe(true)
    expect(spaceIdOf({ owner: a!.publicKey.raw, name: 'cart' })).toBe(id)
    expect(spaceIdOf({ owner: a!.publicKey.raw, name: 'cart2' })).not.toBe(id)
    expect(spaceIdOf({ owner: b!.publicKey.raw, name: 'cart' })).not.toBe(id)
    expect(isPrivateSpaceId('demo')).toBe(false)
  })

  it('refuse empty, oversize and ill-formed names with INVALID_ARGUMENT', async () => {
    const [a] = await keys(1)
    for (const name of ['', 'x'.repeat(129), '\ud800']) {
      expect(() => spaceIdOf({ owner: a!.publicKey.raw, name })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
  })

  it('map peer ids to their Ed25519 keys and back', async () => {
    const [a] = await keys(1)
    const peerId = peerIdOfPublicKey(a!.publicKey.raw)
    expect(publicKeyOfPeerId(peerId)).toEqual(a!.publicKey.raw)
    expect(() => publicKeyOfPeerId('not-a-peer')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})

describe('rights', () => {
  it('convert between names and bits', () => {
    expect(rightNames(rightsOf(['read', 'admin']))).toEqual(['read', 'admin'])
    expect(() => rightsOf(['root' as 'read'])).toThrow(RangeError)
  })
})

describe('grants and chains', () => {
  it('give the owner every right without a chain', async () => {
    const s = await makeSpace()
    const access = await s.verifier.verify({ space: s.space, chain: [] }, s.owner.publicKey.raw)
    expect(access.rights & (READ | WRITE | ADMIN)).toBe(READ | WRITE | ADMIN)
  })

  it('give a device the rights of its grant through an admin, expiring with the chain', async () => {
    const s = await makeSpace()
    const [admin, device] = await keys(2)
    const proof = await s.chain([admin!, device!], [EVERYTHING_BUT_INVITE, READ])
    const decoded = decodeProof(encodeProof(proof))
    const access = await s.verifier.verify(decoded, device!.publicKey.raw)
    expect(access).toEqual({ spaceId: s.spaceId, rights: READ, expiresAt: NOW + 3600 })
    expect(await s.verifier.allows(decoded, device!.publicKey.raw, WRITE)).toBe(false)
  })

  it('round-trip a signed grant through its canonical encoding', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    const proof = await s.chain([device!], [READ_WRITE])
    const bytes = encodeSignedGrant(proof.chain[0]!)
    expect(bytes.byteLength).toBeLessThan(200)
    expect(decodeSignedGrant(bytes)).toEqual(proof.chain[0])
  })

  it('refuse a chain that ends at another peer than the one asking', async () => {
    const s = await makeSpace()
    const [device, other] = await keys(2)
    const proof = await s.chain([device!], [READ])
    expect(await denial(s.verifier.verify(proof, other!.publicKey.raw))).toMatch(/another peer/)
  })

  it('refuse a peer that is not the owner and shows no grant', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    expect(
      await denial(s.verifier.verify({ space: s.space, chain: [] }, device!.publicKey.raw)),
    ).toMatch(/not the owner/)
  })

  it('refuse a grant signed by someone other than the owner (a forged root)', async () => {
    const s = await makeSpace()
    const [forger, device] = await keys(2)
    const grant = await signGrant(forger!, {
      space: s.spaceId,
      subject: device!.publicKey.raw,
      rights: READ,
      expiresAt: NOW + 60,
      notBefore: NOW - 60,
    })
    expect(
      await denial(s.verifier.verify({ space: s.space, chain: [grant] }, device!.publicKey.raw)),
    ).toMatch(/not signed by/)
  })

  it('refuse a grant whose issuer field names the owner but whose signature is someone else’s', async () => {
    const s = await makeSpace()
    const [forger, device] = await keys(2)
    const real = (await s.chain([device!], [READ])).chain[0]!
    const forged = await signGrant(forger!, { ...real.grant, rights: READ_WRITE })
    const spoofed = {
      grant: { ...forged.grant, issuer: s.owner.publicKey.raw },
      body: real.body,
      signature: forged.signature,
    }
    expect(
      await denial(s.verifier.verify({ space: s.space, chain: [spoofed] }, device!.publicKey.raw)),
    ).toMatch(/bad signature/)
  })

  it('refuse a grant for another space', async () => {
    const s = await makeSpace('a')
    const t = await makeSpace('b')
    const [device] = await keys(1)
    const proof = await t.chain([device!], [READ])
    expect(await denial(s.verifier.verify(proof, device!.publicKey.raw))).toMatch(/another space/)
    const mixed = { space: s.space, chain: proof.chain }
    expect(await denial(s.verifier.verify(mixed, device!.publicKey.raw))).toMatch(/another space/)
  })

  it('enforce expiry and start with the documented clock-skew allowance', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    const proof = await s.chain([device!], [READ])
    s.setNow(NOW + 3600 + CLOCK_SKEW_SECONDS - 1)
    await expect(s.verifier.verify(proof, device!.publicKey.raw)).resolves.toMatchObject({
      rights: READ,
    })
    s.setNow(NOW + 3600 + CLOCK_SKEW_SECONDS)
    expect(await denial(s.verifier.verify(proof, device!.publicKey.raw))).toMatch(/expired/)
    s.setNow(NOW - 3600 - CLOCK_SKEW_SECONDS - 1)
    expect(await denial(s.verifier.verify(proof, device!.publicKey.raw))).toMatch(/not valid yet/)
  })

  it('refuse rights beyond the issuer’s, delegation without admin, and chains over the depth', async () => {
    const s = await makeSpace()
    const chainKeys = await keys(MAX_DELEGATION_DEPTH + 1)
    const [a, b] = chainKeys
    const escalated = await s.chain([a!, b!], [READ | ADMIN, READ_WRITE])
    expect(await denial(s.verifier.verify(escalated, b!.publicKey.raw))).toMatch(
      /exceeds its issuer/,
    )
    const noAdmin = await s.chain([a!, b!], [READ_WRITE, READ])
    expect(await denial(s.verifier.verify(noAdmin, b!.publicKey.raw))).toMatch(
      /does not allow delegation/,
    )
    const deep = await s.chain(
      chainKeys,
      chainKeys.map(() => EVERYTHING_BUT_INVITE),
    )
    expect(await denial(s.verifier.verify(deep, chainKeys.at(-1)!.publicKey.raw))).toMatch(
      /exceeds the 4/,
    )
  })

  it('let an invite key issue only one last read/write grant', async () => {
    const s = await makeSpace()
    const [inviteKey, device, next] = await keys(3)
    const tooMuch = await s.chain([inviteKey!, device!], [INVITE | READ, READ | ADMIN])
    expect(await denial(s.verifier.verify(tooMuch, device!.publicKey.raw))).toMatch(
      /exceeds what an invite/,
    )
    const longer = await s.chain([inviteKey!, device!, next!], [INVITE | READ_WRITE, READ, READ])
    expect(await denial(s.verifier.verify(longer, next!.publicKey.raw))).toMatch(
      /only the last grant/,
    )
  })
})

describe('revocations', () => {
  it('void a device’s grants and every chain through a revoked admin', async () => {
    const s = await makeSpace()
    const [admin, device, other] = await keys(3)
    const viaAdmin = await s.chain([admin!, device!], [EVERYTHING_BUT_INVITE, READ])
    const direct = await s.chain([other!], [READ])
    await s.verifier.addRevocation(
      decodeRevocation(
        encodeRevocation(
          await signRevocation(s.owner, {
            space: s.spaceId,
            subject: admin!.publicKey.raw,
            revokedAt: NOW,
          }),
        ),
      ),
    )
    expect(await denial(s.verifier.verify(viaAdmin, device!.publicKey.raw))).toMatch(/revoked/)
    await expect(s.verifier.verify(direct, other!.publicKey.raw)).resolves.toMatchObject({
      rights: READ,
    })
  })

  it('tell revocation listeners once per newly revoked subject, after it holds', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    const seen: boolean[] = []
    s.verifier.onRevoked((revocation) => seen.push(s.verifier.isRevoked(revocation.subject)))
    const revocation = await signRevocation(s.owner, {
      space: s.spaceId,
      subject: device!.publicKey.raw,
      revokedAt: NOW,
    })
    await s.verifier.addRevocation(revocation)
    await s.verifier.addRevocation(revocation)
    expect(seen).toEqual([true])
  })

  it('refuse a revocation whose admin proof is of another space (anyone owns a space of their own)', async () => {
    const s = await makeSpace()
    const elsewhere = await makeSpace('mine')
    const [victim] = await keys(1)
    const ownAdmin = await elsewhere.chain([], [])
    const revocation = await signRevocation(elsewhere.owner, {
      space: s.spaceId,
      subject: victim!.publicKey.raw,
      issuerProof: ownAdmin,
      revokedAt: NOW,
    })
    expect(await denial(s.verifier.addRevocation(revocation))).toMatch(/another space/)
    expect(s.verifier.isRevoked(victim!.publicKey.raw)).toBe(false)
  })

  it('accept a revocation by an admin and refuse one by a non-admin or a forger', async () => {
    const s = await makeSpace()
    const [admin, reader, victim] = await keys(3)
    const adminProof = await s.chain([admin!], [EVERYTHING_BUT_INVITE])
    const readerProof = await s.chain([reader!], [READ])
    const byReader = await signRevocation(reader!, {
      space: s.spaceId,
      subject: victim!.publicKey.raw,
      issuerProof: readerProof,
      revokedAt: NOW,
    })
    expect(await denial(s.verifier.addRevocation(byReader))).toMatch(/without admin/)
    const noProof = await signRevocation(admin!, {
      space: s.spaceId,
      subject: victim!.publicKey.raw,
      revokedAt: NOW,
    })
    expect(await denial(s.verifier.addRevocation(noProof))).toMatch(/shows no admin grant/)
    const tampered = { ...noProof, subject: reader!.publicKey.raw, issuerProof: adminProof }
    expect(await denial(s.verifier.addRevocation(tampered))).toMatch(/bad signature/)
    await s.verifier.addRevocation(
      await signRevocation(admin!, {
        space: s.spaceId,
        subject: victim!.publicKey.raw,
        issuerProof: adminProof,
        revokedAt: NOW,
      }),
    )
    expect(s.verifier.isRevoked(victim!.publicKey.raw)).toBe(true)
  })

  it('never revoke the owner', async () => {
    const s = await makeSpace()
    const [admin] = await keys(1)
    const adminProof = await s.chain([admin!], [EVERYTHING_BUT_INVITE])
    await s.verifier.addRevocation(
      await signRevocation(admin!, {
        space: s.spaceId,
        subject: s.owner.publicKey.raw,
        issuerProof: adminProof,
        revokedAt: NOW,
      }),
    )
    await expect(
      s.verifier.verify({ space: s.space, chain: [] }, s.owner.publicKey.raw),
    ).resolves.toBeDefined()
  })
})

describe('invites', () => {
  it('let a new device join from a link-sized token, until the invite expires', async () => {
    const s = await makeSpace()
    const invite = await createInvite(s.owner, {
      space: s.space,
      rights: READ_WRITE,
      ttlSeconds: 600,
      now: NOW,
    })
    const text = encodeInvite(invite)
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(text.length).toBeLessThan(500)
    const [device] = await keys(1)
    const proof = await redeemInvite(decodeInvite(text), device!.publicKey.raw, { now: NOW })
    await expect(s.verifier.verify(proof, device!.publicKey.raw)).resolves.toEqual({
      spaceId: s.spaceId,
      rights: READ_WRITE,
      expiresAt: NOW + 600,
    })
    s.setNow(NOW + 600 + CLOCK_SKEW_SECONDS)
    expect(await denial(s.verifier.verify(proof, device!.publicKey.raw))).toMatch(/expired/)
  })

  it('refuse invites that give admin, live too long, or are not base64url', async () => {
    const s = await makeSpace()
    await expect(createInvite(s.owner, { space: s.space, rights: ADMIN })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(
      createInvite(s.owner, { space: s.space, rights: READ, ttlSeconds: 365 * 86_400 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(() => decodeInvite('not an invite!')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('can be issued by an admin, not by a reader', async () => {
    const s = await makeSpace()
    const [admin, reader, device] = await keys(3)
    const adminChain = (await s.chain([admin!], [EVERYTHING_BUT_INVITE | INVITE])).chain
    const invite = await createInvite(admin!, {
      space: s.space,
      rights: READ,
      inviterChain: adminChain,
      now: NOW,
    })
    const proof = await redeemInvite(invite, device!.publicKey.raw, { now: NOW })
    await expect(s.verifier.verify(proof, device!.publicKey.raw)).resolves.toMatchObject({
      rights: READ,
    })
    const readerChain = (await s.chain([reader!], [READ])).chain
    const bad = await createInvite(reader!, {
      space: s.space,
      rights: READ,
      inviterChain: readerChain,
      now: NOW,
    })
    const badProof = await redeemInvite(bad, device!.publicKey.raw, { now: NOW })
    expect(await denial(s.verifier.verify(badProof, device!.publicKey.raw))).toMatch(
      /does not allow delegation/,
    )
  })
})

describe('a verifier built for one space', () => {
  it('refuses proofs naming another descriptor even with a valid chain', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    const proof = await s.chain([device!], [READ])
    const other = new AccessVerifier({ owner: s.owner.publicKey.raw, name: 'other' })
    expect(await denial(other.verify(proof, device!.publicKey.raw))).toMatch(/another space/)
  })
})
