// Private-space fixtures for the replica tests: keys that are also peer ids, a space with its
// owner, and replicas of it on an in-process hub, each on its own reopenable memory store.
import { emptyValue, encodeValue, writeRegister } from '@mendsync/core'
import {
  type AccessProof,
  generateSigningKey,
  peerIdOfPublicKey,
  type SigningKey,
} from '@mendsync/core/access'
import {
  createSpace,
  MemoryStorage,
  MemoryStore,
  openReplica,
  type Replica,
  type ReplicaAccess,
  type ReplicaOptions,
  type SpaceCredentials,
} from '@mendsync/replica'
import type { KeyState, Network, SpaceHandlers, Storage } from '@mendsync/replica/adapter'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'

/** A device: its Ed25519 key and the libp2p peer id of that key. */
export interface Device {
  readonly key: SigningKey
  readonly peerId: string
}

/** A fresh device key. */
export async function newDevice(): Promise<Device> {
  const key = await generateSigningKey()
  return { key, peerId: peerIdOfPublicKey(key.publicKey.raw) }
}

/** One replica of the space, with the store it can be reopened from. */
export interface Member {
  replica: Replica
  readonly device: Device
  readonly store: MemoryStore
  readonly network: Network
}

/** A private space on one in-process hub: the owner's device and helpers to open replicas. */
export class SpaceFixture {
  readonly hub: InProcessHub = createInProcessHub()
  readonly members: Member[] = []
  readonly owner: Device
  readonly credentials: SpaceCredentials

  private constructor(owner: Device, name: string) {
    this.owner = owner
    this.credentials = createSpace(owner.key, name)
  }

  static async create(name = 'cart'): Promise<SpaceFixture> {
    return new SpaceFixture(await newDevice(), name)
  }

  get spaceId(): string {
    return this.credentials.spaceId
  }

  /** Opens a replica of the space for `device` with `access`, on a network of its own peer id. */
  async open(
    device: Device,
    access: ReplicaAccess,
    options: Partial<ReplicaOptions> = {},
  ): Promise<Member> {
    const store = new MemoryStore()
    const network = this.hub.createNetwork({ peerId: device.peerId })
    const replica = await openReplica({
      space: this.spaceId,
      storage: new MemoryStorage({ store }),
      network,
      access,
      ...options,
    })
    const member = { replica, device, store, network }
    this.members.push(member)
    return member
  }

  /** The owner's replica (its peer key is the owner key; it signs with it). */
  async openOwner(options: Partial<ReplicaOptions> = {}): Promise<Member> {
    return await this.open(
      this.owner,
      { proof: this.credentials.proof, signer: this.owner.key },
      options,
    )
  }

  /** A replica for a new device holding `proof` (granted by the test). */
  async openDevice(
    device: Device,
    proof: AccessProof,
    extra: Omit<ReplicaAccess, 'proof'> = {},
  ): Promise<Member> {
    return await this.open(device, { proof, ...extra })
  }

  /** Closes `member`'s replica and opens its store again with the same access. */
  async reopen(member: Member, access: ReplicaAccess): Promise<void> {
    await member.replica.close()
    member.replica = await openReplica({
      space: this.spaceId,
      storage: new MemoryStorage({ store: member.store }),
      network: member.network,
      access,
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.replica.close()))
    await Promise.all(this.members.map((member) => member.network.close()))
  }
}

/** Every key stored in `storage`'s `namespace` (one page is plenty for these tests). */
export async function storedKeys(
  storage: Storage,
  namespace: 'values' | 'meta' = 'values',
): Promise<string[]> {
  return (await storage.scan({ namespace })).entries.map((entry) => entry.key)
}

/** The encoded state of a register holding `value` (one sibling by replica `writer`). */
export function registerState(key: string, value: unknown, writer = 'forger'): KeyState {
  const { state } = writeRegister(emptyValue(), { replica: writer }, value)
  return { key, state: encodeValue(state) }
}

/** Resolves when `replica` learns that `peer` is revoked (checks what it holds now first). */
export function revokedOn(replica: Replica, peer: string): Promise<void> {
  if (replica.revocations().some((r) => r.peer === peer)) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = replica.onRevoked((revoked) => {
      if (revoked.peer === peer) {
        stop()
        resolve()
      }
    })
  })
}

/** Handlers of a bare channel that serves nothing (the test drives its side by hand). */
export const NO_HANDLERS: SpaceHandlers = {
  pull: async () => ({ mode: 'state', states: [] }),
  push: async () => {},
  reconcile: async () => {
    throw new Error('this test channel does not reconcile')
  },
}
