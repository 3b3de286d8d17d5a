import {
  type AccessProof,
  AccessVerifier,
  generateSigningKey,
  publicKeyOfPeerId,
  READ,
  type SigningKey,
  type SpaceDescriptor,
  signGrant,
  signRevocation,
  spaceIdOf,
  WRITE,
} from '@mendsync/core/access'
import { describe, expect, it } from 'vitest'
import type { Network, PeerId, SpaceChannel } from '../../network/types.js'
import type { NetworkSuiteContext } from './context.js'
import { FakeSpaceStore, text } from './fake-space-store.js'
import { expectCode, gossip, record } from './helpers.js'

/** A private space of the suite: its owner, descriptor and id, and grants to peers. */
export interface SuiteSpace {
  readonly owner: SigningKey
  readonly descriptor: SpaceDescriptor
  readonly id: string
  /** A proof giving `peer` `rights`; `expiresAt` in Unix seconds (0: never). */
  proofFor(peer: PeerId, rights: number, expiresAt?: number): Promise<AccessProof>
}

/** Creates a private space owned by a fresh key. */
export async function createSuiteSpace(name = 'suite'): Promise<SuiteSpace> {
  const owner = await generateSigningKey()
  const descriptor = { owner: owner.publicKey.raw, name }
  const id = spaceIdOf(descriptor)
  return {
    owner,
    descriptor,
    id,
    async proofFor(peer, rights, expiresAt = 0) {
      const now = Math.floor(Date.now() / 1000)
      const grant = await signGrant(owner, {
        space: id,
        subject: publicKeyOfPeerId(peer),
        rights,
        notBefore: expiresAt === 0 ? now : Math.min(now, expiresAt - 1),
        expiresAt,
      })
      return { space: descriptor, chain: [grant] }
    },
  }
}

/**
 * Registers the network contract tests of private spaces (issue 13): peers of the space are
 * the trusted and those that proved `read`; pull and reconcile need `read`, push `write`;
 * what a reader sends is dropped; a revoked or expired proof is refused. The harness's
 * networks must have Ed25519 peer ids (a grant's subject is the key inside the peer id).
 */
export function describePrivateSpaces(suite: NetworkSuiteContext): void {
  describe('private spaces', () => {
    async function member(
      space: SuiteSpace,
      store: FakeSpaceStore,
      rights: number | null,
      options: { verifier?: AccessVerifier; trustedPeers?: PeerId[]; expiresAt?: number } = {},
    ): Promise<{ network: Network; channel: SpaceChannel; verifier: AccessVerifier }> {
      const network = await suite.harness.createNetwork()
      const verifier = options.verifier ?? new AccessVerifier(space.descriptor)
      const proof =
        rights === null
          ? undefined
          : await space.proofFor(network.peerId, rights, options.expiresAt ?? 0)
      const channel = await network.join(space.id, store, {
        access: {
          verifier,
          ...(proof ? { proof } : {}),
          ...(options.trustedPeers ? { trustedPeers: options.trustedPeers } : {}),
        },
      })
      return { network, channel, verifier }
    }

    it('lets granted peers pull, push and reconcile, and refuses a peer that proves nothing on every protocol', async () => {
      const space = await createSuiteSpace()
      const storeA = new FakeSpaceStore({ secret: 'x' })
      const a = await member(space, storeA, READ | WRITE)
      const b = await member(space, new FakeSpaceStore({ other: 'y' }), READ | WRITE)
      const outsider = await member(space, new FakeSpaceStore({ secret: 'forged' }), null)
      const connectsA = record(a.channel, 'peer:connect')
      await suite.harness.connect(a.network, b.network)
      await suite.harness.connect(a.network, outsider.network)
      await suite.sees(a.channel, b.network.peerId)
      await suite.sees(b.channel, a.network.peerId)

      const pulled = await b.channel.pull(a.network.peerId, ['secret'], 'state')
      expect(pulled).toEqual({ mode: 'state', states: [text('x')] })
      await b.channel.push(a.network.peerId, [{ key: 'from-b', state: text('b') }])
      expect(storeA.pushed.map((entry) => entry.peer)).toEqual([b.network.peerId])

      const refusedPull = outsider.channel.pull(a.network.peerId, ['secret'], 'state')
      await expectCode(refusedPull, 'ACCESS_DENIED')
      await expectCode(
        outsider.channel.push(a.network.peerId, [{ key: 'secret', state: text('forged') }]),
        'ACCESS_DENIED',
      )
      await expectCode(
        outsider.channel.reconcile(a.network.peerId, new FakeSpaceStore({ z: 'z' }).driver()),
        'ACCESS_DENIED',
      )
      expect(storeA.pulls.map((entry) => entry.peer)).toEqual([b.network.peerId])
      expect(storeA.pushed.map((entry) => entry.peer)).toEqual([b.network.peerId])
      expect(storeA.accepted).toEqual([])
      expect(storeA.states.get('secret')).toEqual(text('x'))
      expect(a.channel.peers()).toEqual([b.network.peerId])
      expect(connectsA.map((event) => event.peer)).toEqual([b.network.peerId])
    })

    it("refuses a read-only peer's push, drops the states it reconciles, rejects its gossip and serves its pulls", async () => {
      const space = await createSuiteSpace()
      const storeA = new FakeSpaceStore({ k1: 'a1' })
      const a = await member(space, storeA, READ | WRITE)
      const reader = await member(space, new FakeSpaceStore({ k2: 'r2' }), READ)
      const writer = await member(space, new FakeSpaceStore(), READ | WRITE)
      await suite.harness.connect(a.network, reader.network)
      await suite.harness.connect(a.network, writer.network)
      await suite.sees(a.channel, reader.network.peerId, writer.network.peerId)
      await suite.sees(reader.channel, a.network.peerId)
      await suite.sees(writer.channel, a.network.peerId)

      expect(await reader.channel.pull(a.network.peerId, ['k1'], 'state')).toEqual({
        mode: 'state',
        states: [text('a1')],
      })
      await expectCode(
        reader.channel.push(a.network.peerId, [{ key: 'k1', state: text('overwritten') }]),
        'ACCESS_DENIED',
      )
      const outcome = await reader.channel.reconcile(
        a.network.peerId,
        new FakeSpaceStore({ k2: 'r2' }).driver(),
      )
      expect(outcome.received).toEqual([{ key: 'k1', state: text('a1') }])
      expect(storeA.accepted).toEqual([])
      expect(storeA.pushed).toEqual([])
      // The writer's later gossip arrives; the reader's earlier one never does.
      const atA = record(a.channel, 'gossip')
      await reader.channel.publish(gossip('replica-reader', [['replica-reader', 1]]))
      await writer.channel.publish(gossip('replica-writer', [['replica-writer', 1]]))
      await suite.waitFor("the writer's gossip", () => atA.length >= 1)
      expect(atA.map((event) => event.peer)).toEqual([writer.network.peerId])
      // A peer never pulls from a peer that cannot write (what it sends would not be joined).
      await expectCode(a.channel.pull(reader.network.peerId, ['k2'], 'state'), 'ACCESS_DENIED')
    })

    it('refuses and evicts a peer once its revocation is added, and refuses an expired proof', async () => {
      const space = await createSuiteSpace()
      const a = await member(space, new FakeSpaceStore({ k: 'v' }), READ | WRITE)
      const device = await member(space, new FakeSpaceStore(), READ | WRITE)
      const expired = await member(space, new FakeSpaceStore(), READ | WRITE, {
        expiresAt: Math.floor(Date.now() / 1000) - 3600,
      })
      const disconnects = record(a.channel, 'peer:disconnect')
      await suite.harness.connect(a.network, device.network)
      await suite.harness.connect(a.network, expired.network)
      await suite.sees(a.channel, device.network.peerId)
      await suite.sees(device.channel, a.network.peerId)
      expect(await device.channel.pull(a.network.peerId, ['k'], 'digest')).toMatchObject({
        mode: 'digest',
      })
      await expectCode(expired.channel.pull(a.network.peerId, ['k'], 'state'), 'ACCESS_DENIED')

      await a.verifier.addRevocation(
        await signRevocation(space.owner, {
          space: space.id,
          subject: publicKeyOfPeerId(device.network.peerId),
        }),
      )
      await suite.waitFor('the revoked peer leaves the space', () =>
        disconnects.some((event) => event.peer === device.network.peerId),
      )
      expect(a.channel.peers()).toEqual([])
      await expectCode(device.channel.pull(a.network.peerId, ['k'], 'state'), 'ACCESS_DENIED')
      await expectCode(
        device.channel.push(a.network.peerId, [{ key: 'k', state: text('late') }]),
        'ACCESS_DENIED',
      )
    })

    it('accepts a trusted peer without a proof with read and write', async () => {
      const space = await createSuiteSpace()
      const relayStore = new FakeSpaceStore({ held: 'by-relay' })
      const relay = await member(space, relayStore, null)
      const client = await member(space, new FakeSpaceStore(), READ | WRITE, {
        trustedPeers: [relay.network.peerId],
      })
      await suite.harness.connect(client.network, relay.network)
      await suite.sees(client.channel, relay.network.peerId)
      await suite.sees(relay.channel, client.network.peerId)
      expect(await client.channel.pull(relay.network.peerId, ['held'], 'state')).toEqual({
        mode: 'state',
        states: [text('by-relay')],
      })
      await client.channel.push(relay.network.peerId, [{ key: 'k', state: text('v') }])
      expect(relayStore.pushed.map((entry) => entry.peer)).toEqual([client.network.peerId])
    })

    it('refuses to join a private space id without access, or with access and an allowlist', async () => {
      const space = await createSuiteSpace()
      const network = await suite.harness.createNetwork()
      await expectCode(network.join(space.id, new FakeSpaceStore()), 'INVALID_ARGUMENT')
      await expectCode(
        network.join(space.id, new FakeSpaceStore(), {
          allow: [],
          access: { verifier: new AccessVerifier(space.descriptor) },
        }),
        'INVALID_ARGUMENT',
      )
      const other = await createSuiteSpace('other')
      await expectCode(
        network.join(space.id, new FakeSpaceStore(), {
          access: { verifier: new AccessVerifier(other.descriptor) },
        }),
        'INVALID_ARGUMENT',
      )
    })
  })
}
