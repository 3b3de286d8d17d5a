import {
  AccessVerifier,
  encodeProof,
  publicKeyOfPeerId,
  signGrant,
  spaceIdOf,
} from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import { GRANT_KEY_PREFIX, MemoryStorage, redeemInviteToken } from '@mendsync/replica'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Member,
  NO_HANDLERS,
  newDevice,
  registerState,
  revokedOn,
  SpaceFixture,
} from './spaces-support.js'
import { until } from './support.js'

let fixture: SpaceFixture
afterEach(async () => {
  await fixture.close()
})

const grantKeyOf = (peer: string) => GRANT_KEY_PREFIX + toHex(publicKeyOfPeerId(peer))
const listed = (member: Member) =>
  member.replica
    .devices()
    .map((d) => d.peer)
    .sort()

describe('devices()', () => {
  it('lists every granted device on every device of the space, with rights, issuer and revocation', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const [b, c] = [await newDevice(), await newDevice()]
    const proofB = await owner.replica.grant(b.peerId, { rights: ['read', 'write'] })
    const proofC = await owner.replica.grant(c.peerId, { rights: ['read'], ttlSeconds: 3600 })
    const memberB = await fixture.openDevice(b, proofB)
    const memberC = await fixture.openDevice(c, proofC)
    const both = [b.peerId, c.peerId].sort()
    expect(listed(owner)).toEqual(both)
    await until(memberB.replica, () => listed(memberB).length === 2)
    await until(memberC.replica, () => listed(memberC).length === 2)
    expect(memberC.replica.devices().find((d) => d.peer === c.peerId)).toEqual({
      peer: c.peerId,
      rights: ['read'],
      expiresAt: proofC.chain[0]?.grant.expiresAt,
      grantedBy: fixture.owner.peerId,
      revoked: false,
    })
    await owner.replica.revoke(c.peerId)
    await revokedOn(memberB.replica, c.peerId)
    expect(memberB.replica.devices().find((d) => d.peer === c.peerId)?.revoked).toBe(true)
    expect(memberB.replica.devices().find((d) => d.peer === b.peerId)?.revoked).toBe(false)
  })

  it('lists a device that joined through an invite on the inviter, granted by the inviter', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const token = await owner.replica.invite({ rights: ['read', 'write'] })
    const device = await newDevice()
    const { proof } = await redeemInviteToken(token, device.peerId)
    const joined = await fixture.openDevice(device, proof)
    // The device stores its own grant record at open; it replicates to the owner.
    expect(listed(joined)).toEqual([device.peerId])
    await until(owner.replica, () => listed(owner).length === 1)
    expect(owner.replica.devices()).toEqual([
      expect.objectContaining({ peer: device.peerId, grantedBy: fixture.owner.peerId }),
    ])
  })

  it('keeps the list across a reopen (grant records are data of the space)', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const device = await newDevice()
    await owner.replica.grant(device.peerId, { rights: ['read'] })
    await fixture.reopen(owner, { proof: fixture.credentials.proof, signer: fixture.owner.key })
    expect(listed(owner)).toEqual([device.peerId])
  })

  it('refuses a pushed forged grant record ACCESS_DENIED and stores nothing of it', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const writer = await newDevice()
    const proof = await owner.replica.grant(writer.peerId, { rights: ['read', 'write'] })
    const network = fixture.hub.createNetwork({ peerId: writer.peerId })
    const channel = await network.join(fixture.spaceId, NO_HANDLERS, {
      access: { verifier: new AccessVerifier(fixture.credentials.descriptor), proof },
    })
    try {
      for (let i = 0; i < 10_000 && !channel.peers().includes(fixture.owner.peerId); i++) {
        await new Promise((resolve) => setImmediate(resolve))
      }
      // A writer "grants" a stranger admin as if it were the owner: its chain starts at the
      // writer, not at the owner.
      const stranger = await newDevice()
      const forged = await signGrant(writer.key, {
        space: spaceIdOf(fixture.credentials.descriptor),
        subject: stranger.key.publicKey.raw,
        rights: 7,
        expiresAt: 0,
      })
      const key = grantKeyOf(stranger.peerId)
      const record = encodeProof({ space: fixture.credentials.descriptor, chain: [forged] })
      await expect(
        channel.push(fixture.owner.peerId, [registerState(key, record)]),
      ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
      // A record under another device's key than the one it grants is refused too.
      await expect(
        channel.push(fixture.owner.peerId, [registerState(key, encodeProof(proof))]),
      ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
      expect(listed(owner)).toEqual([writer.peerId])
      const [stored] = await new MemoryStorage({ store: owner.store }).get('values', [key])
      expect(stored).toBeUndefined()
    } finally {
      await network.close()
    }
  })
})
