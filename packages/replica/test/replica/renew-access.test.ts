import { encodeProof } from '@mendsync/core/access'
import { silentLogger } from '@mendsync/core/toolbox'
import { createSpace, grantAccess, MemoryStorage } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'
import { openSpaceGuard, renewAccess } from '../../src/replica/access/replica-access.js'
import { newDevice } from './spaces-support.js'

// Grants are checked at issue against the system clock, so the test's times start from it.
const T0 = Math.floor(Date.now() / 1000)

/** A device's guard holding a grant that expires an hour after T0, on a settable clock. */
async function expiringDevice() {
  const owner = await newDevice()
  const credentials = createSpace(owner.key, 'cart')
  const device = await newDevice()
  const grant = (ttlSeconds: number, subject = device.peerId) =>
    grantAccess(owner.key, credentials.proof, subject, {
      rights: ['read', 'write'],
      ttlSeconds,
      now: T0,
    })
  const clock = { ms: T0 * 1000 }
  const guard = await openSpaceGuard({
    space: credentials.spaceId,
    access: { proof: await grant(3600), signer: device.key },
    storage: new MemoryStorage(),
    network: undefined,
    now: () => clock.ms,
    logger: silentLogger(),
  })
  return { guard, grant, clock }
}

describe('renewAccess', () => {
  it('installs a later-expiring proof on an open guard: the replica stays writable past the first expiry and presents the new proof', async () => {
    const { guard, grant, clock } = await expiringDevice()
    expect(guard.status().expiresAt).toBe(T0 + 3600)
    const renewed = await grant(7200)
    await renewAccess(guard, encodeProof(renewed))
    clock.ms = (T0 + 3600 + 600) * 1000
    expect(guard.status()).toMatchObject({ expiresAt: T0 + 7200, readOnly: false })
    expect(() => guard.assertWritable()).not.toThrow()
    expect(guard.joinOptions().access?.proof).toEqual(renewed)
  })

  it("refuses another device's proof ACCESS_DENIED and keeps the current one", async () => {
    const { guard, grant } = await expiringDevice()
    const other = await newDevice()
    await expect(renewAccess(guard, await grant(7200, other.peerId))).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })
    await expect(renewAccess(guard, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(guard.status()).toMatchObject({ expiresAt: T0 + 3600, readOnly: false })
  })
})
