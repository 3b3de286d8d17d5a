import {
  decodeValue,
  deleteValue,
  encodeValue,
  hashBytes,
  ReconcileSession,
  ReconcileTree,
} from '@mendsync/core'
import {
  AccessVerifier,
  decodeInvite,
  encodeRevocation,
  peerIdOfPublicKey,
  publicKeyOfPeerId,
  signRevocation,
} from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import {
  createSpace,
  grantAccess,
  MemoryStorage,
  openReplica,
  RESERVED_KEY_PREFIX,
  REVOCATION_KEY_PREFIX,
  redeemInviteToken,
} from '@mendsync/replica'
import type { KeyState, SpaceChannel } from '@mendsync/replica/adapter'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Member,
  NO_HANDLERS,
  newDevice,
  registerState,
  revokedOn,
  SpaceFixture,
} from './spaces-support.js'

let fixture: SpaceFixture
afterEach(async () => {
  await fixture.close()
})

const revocationKeyOf = (peer: string) => REVOCATION_KEY_PREFIX + toHex(publicKeyOfPeerId(peer))

/**
 * Resolves once `member` revoked `peer` and stored the record (its verifier takes a record in
 * before the batch is written; the key count follows the write).
 */
async function storedRevocation(member: Member, peer: string): Promise<Uint8Array> {
  await revokedOn(member.replica, peer)
  // Grant records are keys of the space too: wait for the revocation key itself (bounded).
  const storage = new MemoryStorage({ store: member.store })
  for (let i = 0; i < 2_000; i++) {
    const [stored] = await storage.get('values', [revocationKeyOf(peer)])
    if (stored !== undefined) return stored
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`the revocation of ${peer} was never stored`)
}

/** The owner, and two read-write devices that know each other. */
async function threeMembers() {
  fixture = await SpaceFixture.create()
  const owner = await fixture.openOwner()
  const devices: Member[] = []
  for (let i = 0; i < 2; i++) {
    const device = await newDevice()
    const proof = await owner.replica.grant(device.peerId, { rights: ['read', 'write'] })
    devices.push(await fixture.openDevice(device, proof))
  }
  return { owner, b: devices[0] as Member, c: devices[1] as Member }
}

/**
 * A bare channel of the space for a fresh device holding `rights`: it pushes states by hand,
 * as a hostile or buggy peer could. Resolves once `target` counts it as a peer of the space.
 */
async function rawPeer(owner: Member, target: Member, rights: ('read' | 'write')[]) {
  const device = await newDevice()
  const proof = await owner.replica.grant(device.peerId, { rights })
  const network = fixture.hub.createNetwork({ peerId: device.peerId })
  const channel: SpaceChannel = await network.join(fixture.spaceId, NO_HANDLERS, {
    access: { verifier: new AccessVerifier(fixture.credentials.descriptor), proof },
  })
  await until(() => channel.peers().includes(target.device.peerId))
  return {
    device,
    channel,
    push: (states: KeyState[]) => channel.push(target.device.peerId, states),
    close: () => network.close(),
  }
}

/** Resolves once `member` holds `value` at `key` locally (bounded). */
async function untilValue(member: Member, key: string, value: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if ((await member.replica.get(key, { repair: 'none' })).value === value) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`${key} never became ${value}`)
}

/** Where `needle` first occurs in `haystack` (throws when it does not). */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((byte, j) => haystack[i + j] === byte)) return i
  }
  throw new Error('needle not found')
}

/** Resolves once `condition` holds, re-checked on the hub's next macrotasks (bounded). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('condition never held')
}

describe('revocation records', () => {
  it("replicate to every replica of the space and revoke the peer in each one's verifier", async () => {
    const { owner, b, c } = await threeMembers()
    await owner.replica.revoke(c.device.peerId)
    expect(owner.replica.revocations().map((r) => r.peer)).toEqual([c.device.peerId])
    // The record is data of the space on the receiver, stored under the reserved key.
    expect(await storedRevocation(b, c.device.peerId)).toBeInstanceOf(Uint8Array)
    expect(b.replica.revocations()).toEqual([
      expect.objectContaining({ peer: c.device.peerId, by: fixture.owner.peerId }),
    ])
    // Revoking again changes nothing: still one record, one sibling.
    await owner.replica.revoke(c.device.peerId)
    const [record] = await new MemoryStorage({ store: owner.store }).get('values', [
      revocationKeyOf(c.device.peerId),
    ])
    expect(decodeValue(record as Uint8Array).register).toHaveLength(1)
  })

  it('cut the revoked device off: its later writes reach no one, and its proof no longer opens a replica that holds the record', async () => {
    const { owner, b, c } = await threeMembers()
    await owner.replica.revoke(c.device.peerId)
    await revokedOn(b.replica, c.device.peerId)
    // The revoked device is not told (the others stop serving it at once, so the record cannot
    // reach it): it still writes locally, and those writes go nowhere.
    await c.replica.put('late', 'from the revoked device')
    await owner.replica.put('after', 'from the owner')
    await untilValue(b, 'after', 'from the owner')
    expect((await b.replica.get('late', { repair: 'none' })).value).toBeUndefined()
    expect((await owner.replica.get('late', { repair: 'none' })).value).toBeUndefined()
    // A replica that holds the record refuses to open with a proof through the revoked key.
    await b.replica.close()
    await expect(
      openReplica({
        space: fixture.spaceId,
        storage: new MemoryStorage({ store: b.store }),
        access: {
          proof: await grantAccess(fixture.owner.key, fixture.credentials.proof, c.device.peerId, {
            rights: ['read'],
          }),
          signer: c.device.key,
        },
      }),
    ).rejects.toMatchObject({ code: 'ACCESS_DENIED', message: expect.stringMatching(/revoked/) })
    // The owner's replica knows: it refuses to grant the revoked key anything new.
    await expect(owner.replica.grant(c.device.peerId, { rights: ['read'] })).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })
  })

  it('of an invite key cut off every device that joined through it', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const witnessDevice = await newDevice()
    const witness = await fixture.openDevice(
      witnessDevice,
      await owner.replica.grant(witnessDevice.peerId, { rights: ['read', 'write'] }),
    )
    const token = await owner.replica.invite({ rights: ['read', 'write'] })
    const device = await newDevice()
    const member = await fixture.openDevice(
      device,
      (await redeemInviteToken(token, device.peerId)).proof,
    )
    expect(member.replica.access().revoked).toBe(false)
    const inviteKey = decodeInvite(token).proof.chain.at(-1)?.grant.subject as Uint8Array
    await owner.replica.revoke(peerIdOfPublicKey(inviteKey))
    await revokedOn(witness.replica, peerIdOfPublicKey(inviteKey))
    await member.replica.put('late', 'through a revoked invite')
    await owner.replica.put('after', 'from the owner')
    await untilValue(witness, 'after', 'from the owner')
    expect((await witness.replica.get('late', { repair: 'none' })).value).toBeUndefined()
    expect((await owner.replica.get('late', { repair: 'none' })).value).toBeUndefined()
  })

  it('are loaded into the verifier again when a replica reopens', async () => {
    const { owner, b, c } = await threeMembers()
    await owner.replica.revoke(c.device.peerId)
    await revokedOn(b.replica, c.device.peerId)
    const access = { proof: await owner.replica.grant(b.device.peerId, { rights: ['read'] }) }
    await fixture.reopen(b, access)
    expect(b.replica.revocations().map((r) => r.peer)).toEqual([c.device.peerId])
    await fixture.reopen(owner, { proof: fixture.credentials.proof, signer: fixture.owner.key })
    expect(owner.replica.revocations().map((r) => r.peer)).toEqual([c.device.peerId])
  })

  it('signed by an admin device (its own peer key) replicate and revoke like the owner’s', async () => {
    fixture = await SpaceFixture.create()
    const owner = await fixture.openOwner()
    const adminDevice = await newDevice()
    const admin = await fixture.openDevice(
      adminDevice,
      await owner.replica.grant(adminDevice.peerId, { rights: ['read', 'write', 'admin'] }),
      { signer: adminDevice.key },
    )
    const victim = await newDevice()
    await admin.replica.revoke(victim.peerId)
    await revokedOn(owner.replica, victim.peerId)
    expect(owner.replica.revocations()).toEqual([
      expect.objectContaining({ peer: victim.peerId, by: adminDevice.peerId }),
    ])
  })

  it('reach a relay replica (descriptor only, trusted by the devices), which verifies them too', async () => {
    fixture = await SpaceFixture.create()
    const relayDevice = await newDevice()
    const relay = await fixture.open(relayDevice, { descriptor: fixture.credentials.descriptor })
    const owner = await fixture.open(fixture.owner, {
      proof: fixture.credentials.proof,
      signer: fixture.owner.key,
      trustedPeers: [relayDevice.peerId],
    })
    const victim = await newDevice()
    await owner.replica.revoke(victim.peerId)
    await revokedOn(relay.replica, victim.peerId)
    expect(relay.replica.revocations().map((r) => r.peer)).toEqual([victim.peerId])
  })

  it('pushed forged (a non-admin signer, an admin of another space, a bad signature) are refused ACCESS_DENIED and not stored', async () => {
    const { owner, b } = await threeMembers()
    const peer = await rawPeer(owner, b, ['read', 'write'])
    const victim = await newDevice()
    const victimKey = publicKeyOfPeerId(victim.peerId)
    const key = revocationKeyOf(victim.peerId)
    // A writer without admin signs a revocation with its own proof.
    const byWriter = await signRevocation(peer.device.key, {
      space: fixture.spaceId,
      subject: victimKey,
      issuerProof: await owner.replica.grant(peer.device.peerId, { rights: ['read', 'write'] }),
    })
    // Anyone owns a space of their own and is its admin: that proof must not count here.
    const ownSpace = createSpace(peer.device.key, 'mine')
    const byOtherSpaceAdmin = await signRevocation(peer.device.key, {
      space: fixture.spaceId,
      subject: victimKey,
      issuerProof: ownSpace.proof,
    })
    // The owner's real revocation of someone else, with the victim's key put in its body.
    const someoneElse = publicKeyOfPeerId(b.device.peerId)
    const swapped = encodeRevocation(
      await signRevocation(fixture.owner.key, { space: fixture.spaceId, subject: someoneElse }),
    )
    swapped.set(victimKey, indexOfBytes(swapped, someoneElse))
    for (const record of [
      encodeRevocation(byWriter),
      encodeRevocation(byOtherSpaceAdmin),
      swapped,
    ]) {
      await expect(peer.push([registerState(key, record)])).rejects.toMatchObject({
        code: 'ACCESS_DENIED',
      })
    }
    // Not a revocation at all, a cart, another reserved key: refused the same way.
    await expect(peer.push([registerState(key, 'not a revocation')])).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    })
    await expect(
      peer.push([registerState(`${RESERVED_KEY_PREFIX}other`, 1)]),
    ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
    // A batch with a good key and a forged record stores neither.
    await expect(
      peer.push([registerState('app-key', 'x'), registerState(key, encodeRevocation(byWriter))]),
    ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
    const storage = new MemoryStorage({ store: b.store })
    expect(await storage.get('values', [key, 'app-key'])).toEqual([undefined, undefined])
    expect(b.replica.revocations()).toEqual([])
    // The same channel's valid push goes through: the refusals were about the records.
    await peer.push([registerState('app-key', 'y')])
    expect((await b.replica.get('app-key', { repair: 'none' })).value).toBe('y')
    await peer.close()
  })

  it('received forged in a reconciliation are refused and not stored', async () => {
    const { owner, b } = await threeMembers()
    const peer = await rawPeer(owner, b, ['read', 'write'])
    const victim = await newDevice()
    const key = revocationKeyOf(victim.peerId)
    const forged = registerState(
      key,
      encodeRevocation(
        await signRevocation(peer.device.key, {
          space: fixture.spaceId,
          subject: publicKeyOfPeerId(victim.peerId),
          issuerProof: createSpace(peer.device.key, 'mine').proof,
        }),
      ),
    )
    const tree = ReconcileTree.fromEntries([[key, hashBytes(forged.state)]])
    // Whether the initiator hears of the refusal is the transport's business; the responder's
    // join has run once the call settles.
    await peer.channel
      .reconcile(b.device.peerId, {
        session: new ReconcileSession(tree),
        statesFor: async (keys) => (keys.includes(key) ? [forged] : []),
      })
      .catch(() => undefined)
    expect(await new MemoryStorage({ store: b.store }).get('values', [key])).toEqual([undefined])
    expect(b.replica.revocations()).toEqual([])
    await peer.close()
  })

  it('cannot be erased by a pushed tombstone: the delete is refused and the peer stays revoked after a reopen', async () => {
    const { owner, b, c } = await threeMembers()
    await owner.replica.revoke(c.device.peerId)
    const stored = await storedRevocation(b, c.device.peerId)
    const key = revocationKeyOf(c.device.peerId)
    const storage = new MemoryStorage({ store: b.store })
    const tombstone = deleteValue(decodeValue(stored)).state
    const peer = await rawPeer(owner, b, ['read', 'write'])
    await expect(peer.push([{ key, state: encodeValue(tombstone) }])).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
      message: expect.stringMatching(/cannot be deleted/),
    })
    expect(await storage.get('values', [key])).toEqual([stored])
    await peer.close()
    await fixture.reopen(b, {
      proof: await owner.replica.grant(b.device.peerId, { rights: ['read'] }),
    })
    expect(b.replica.revocations().map((r) => r.peer)).toEqual([c.device.peerId])
  })

  it('pushed into a named open space are refused: reserved keys exist only in private spaces', async () => {
    fixture = await SpaceFixture.create()
    const network = fixture.hub.createNetwork()
    const replica = await openReplica({ space: 'demo', storage: new MemoryStorage(), network })
    const other = fixture.hub.createNetwork()
    const channel = await other.join('demo', NO_HANDLERS)
    await until(() => channel.peers().includes(network.peerId))
    const victim = await newDevice()
    const record = encodeRevocation(
      await signRevocation(fixture.owner.key, {
        space: fixture.spaceId,
        subject: publicKeyOfPeerId(victim.peerId),
      }),
    )
    await expect(
      channel.push(network.peerId, [registerState(revocationKeyOf(victim.peerId), record)]),
    ).rejects.toMatchObject({ code: 'ACCESS_DENIED' })
    expect(replica.status().keys).toBe(0)
    await replica.close()
    await network.close()
    await other.close()
  })
})
