// The rights cache every Network keeps for a private space: expiry is re-checked with the
// verifier's clock on use, a revocation voids the subject and every chain through the revoked
// key at once, a closed connection forgets what was proved on it.
import {
  AccessVerifier,
  ADMIN,
  generateSigningKey,
  peerIdOfPublicKey,
  READ,
  signGrant,
  signRevocation,
  spaceIdOf,
  WRITE,
} from '@mendsync/core/access'
import { silentLogger } from '@mendsync/core/toolbox'
import { SpaceAccessCache } from '@mendsync/replica/adapter'
import { describe, expect, it } from 'vitest'

async function setup(now: () => number) {
  const owner = await generateSigningKey()
  const descriptor = { owner: owner.publicKey.raw, name: 'cache' }
  const space = spaceIdOf(descriptor)
  const verifier = new AccessVerifier(descriptor, { now })
  const cache = new SpaceAccessCache({ verifier }, silentLogger())
  return { owner, descriptor, space, verifier, cache }
}

describe('SpaceAccessCache', () => {
  it('refuses a proof once it expires by the verifier clock, though it was verified before', async () => {
    let clock = Date.now()
    const { owner, descriptor, space, cache } = await setup(() => clock)
    const device = await generateSigningKey()
    const peer = peerIdOfPublicKey(device.publicKey.raw)
    const start = Math.floor(clock / 1000)
    const grant = await signGrant(owner, {
      space,
      subject: device.publicKey.raw,
      rights: READ | WRITE,
      notBefore: start,
      expiresAt: start + 60,
    })
    expect(await cache.record(peer, 'c1', { space: descriptor, chain: [grant] })).toBe(READ | WRITE)
    await cache.require(peer, WRITE)
    clock += (60 + 301) * 1000
    await expect(cache.require(peer, READ)).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
      message: expect.stringContaining("'read'"),
    })
    expect(cache.hasProven(peer)).toBe(false)
  })

  it('drops a device whose admin issuer is revoked, names the missing right, and forgets a closed connection', async () => {
    const { owner, descriptor, space, verifier, cache } = await setup(Date.now)
    const admin = await generateSigningKey()
    const device = await generateSigningKey()
    const reader = await generateSigningKey()
    const adminGrant = await signGrant(owner, {
      space,
      subject: admin.publicKey.raw,
      rights: READ | WRITE | ADMIN,
      expiresAt: 0,
    })
    const deviceGrant = await signGrant(admin, {
      space,
      subject: device.publicKey.raw,
      rights: READ | WRITE,
      expiresAt: 0,
    })
    const readerGrant = await signGrant(owner, {
      space,
      subject: reader.publicKey.raw,
      rights: READ,
      expiresAt: 0,
    })
    const devicePeer = peerIdOfPublicKey(device.publicKey.raw)
    const readerPeer = peerIdOfPublicKey(reader.publicKey.raw)
    const changed: string[] = []
    cache.onChange((peer) => changed.push(peer))
    await cache.record(devicePeer, 'c1', { space: descriptor, chain: [adminGrant, deviceGrant] })
    await cache.record(readerPeer, 'c2', { space: descriptor, chain: [readerGrant] })
    await expect(cache.require(readerPeer, WRITE)).rejects.toMatchObject({
      message: expect.stringContaining("has not proved 'write'"),
    })

    await verifier.addRevocation(
      await signRevocation(owner, { space, subject: admin.publicKey.raw }),
    )
    expect(cache.rights(devicePeer)).toBe(0)
    expect(changed).toEqual([devicePeer, readerPeer, devicePeer])
    expect(cache.acceptsGossip(devicePeer, readerPeer)).toBe(false)

    cache.forget(readerPeer, 'c2')
    expect(cache.rights(readerPeer)).toBe(0)
  })
})
