// The access rules of one open replica: what it may write locally, which states of the engine's
// reserved keys it admits from peers (valid revocation records only, each handed to the
// verifier), and the revocations, grants and invites its signer issues.
import { type CausalValue, MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  type AccessVerifier,
  bytesEqual,
  encodeProof,
  encodeRevocation,
  hasRights,
  peerIdOfPublicKey,
  publicKeyOfPeerId,
  type Revocation,
  type RightName,
  rightNames,
  type SigningKey,
  signRevocation,
  type VerifiedAccess,
  WRITE,
} from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import type { JoinOptions, PeerId } from '../../network/types.js'
import type { DecodedState } from '../repair/repair-types.js'
import {
  type DeviceGrant,
  deviceOfProof,
  grantProofsOfState,
  isGrantKey,
  lastGrant,
  laterExpiring,
  redeemedInvite,
} from './grant-records.js'
import { grantKey, isReservedKey, revocationKey } from './reserved-keys.js'
import { refusedRecord } from './reserved-records.js'
import { revocationsOfState } from './revocation-records.js'
import { type GrantOptions, type InviteTokenOptions, issueGrant, issueInvite } from './spaces.js'

/** What `Replica.access()` reports: what this replica may do now. */
export interface ReplicaAccessStatus {
  /** The space id. */
  readonly space: string
  /** False for a named open space (every right, no expiry). */
  readonly private: boolean
  /** The rights this replica holds now (none once revoked or expired, none on a relay). */
  readonly rights: readonly RightName[]
  /** True when a local write would fail `ACCESS_DENIED` (no `write` right now). */
  readonly readOnly: boolean
  /** When this replica's proof expires, Unix seconds (its earliest-expiring grant); 0: never. */
  readonly expiresAt: number
  /** True when this replica's key, or a key its chain passes through, was revoked. */
  readonly revoked: boolean
}

export type { DeviceGrant } from './grant-records.js'

/** A revoked key as `Replica.revocations()` reports it. */
export interface RevokedPeer {
  /** The revoked peer (the libp2p peer id of the revoked key). */
  readonly peer: PeerId
  /** The peer that signed the revocation (the owner or an admin). */
  readonly by: PeerId
  /** When it was signed, Unix seconds. */
  readonly revokedAt: number
}

/** What a private space's guard is built from (see `openSpaceGuard`). */
export interface PrivateSpace {
  readonly verifier: AccessVerifier
  readonly proof: AccessProof | undefined
  /** What `proof` gave this replica at open; absent on a relay. */
  readonly verified: VerifiedAccess | undefined
  /** The key this replica's proof must end at (its network peer id's, or the signer's). */
  readonly ownKey: Uint8Array | undefined
  readonly signer: SigningKey | undefined
  readonly trustedPeers: readonly PeerId[]
  /** The clock, ms. */
  readonly now: () => number
}

/** A signed revocation ready to be written as a record of the space. */
export interface RevocationRecord {
  readonly key: string
  /** The encoded revocation (`encodeRevocation`), the register value stored under `key`. */
  readonly record: Uint8Array
}

/**
 * Stores `record` as the register of the reserved key `key` through the replica's writer, so it
 * replicates like any write (see `SpaceGuard.attachRecordWriter`).
 */
export type ReservedRecordWriter = (key: string, record: Uint8Array) => Promise<void>

function denied(message: string): MendsyncError {
  return new MendsyncError('ACCESS_DENIED', message)
}

/** The access rules of one replica: open (everything allowed) or private. */
export class SpaceGuard {
  private readonly space: string
  private readonly privateSpace: PrivateSpace | undefined
  /** The listed grant record of each granted key (hex), as stored in the space. */
  private readonly grants = new Map<string, AccessProof>()
  private writeRecord: ReservedRecordWriter | undefined
  /** This replica's proof and what it gives, replaced by {@link renew}. */
  private proof: AccessProof | undefined
  private verified: VerifiedAccess | undefined

  /** The guard of a named open space. */
  static open(space: string): SpaceGuard {
    return new SpaceGuard(space, undefined)
  }

  /** The guard of the private space of `privateSpace.verifier`. */
  static private(privateSpace: PrivateSpace): SpaceGuard {
    return new SpaceGuard(privateSpace.verifier.spaceId, privateSpace)
  }

  private constructor(space: string, privateSpace: PrivateSpace | undefined) {
    this.space = space
    this.privateSpace = privateSpace
    this.proof = privateSpace?.proof
    this.verified = privateSpace?.verified
  }

  /**
   * Installs `proof` (decoded) as this replica's proof, without reopening: e.g. a later-expiring
   * grant before the current one expires. Verified first against this replica's own key:
   * `ACCESS_DENIED` when it gives no right now (the current proof stays), `INVALID_ARGUMENT` in
   * an open space or on a relay (it holds no proof of its own). Connections made from now on
   * present it.
   */
  async renew(proof: AccessProof): Promise<void> {
    const p = this.requirePrivate('renewAccess')
    if (p.ownKey === undefined) {
      throw new MendsyncError('INVALID_ARGUMENT', 'renewAccess: a relay holds no proof to renew')
    }
    const verified = await p.verifier.verify(proof, p.ownKey)
    this.proof = proof
    this.verified = verified
    await this.recordOwnGrant()
  }

  /** The space's verifier; `undefined` for an open space. */
  get verifier(): AccessVerifier | undefined {
    return this.privateSpace?.verifier
  }

  /** The `access` part of `Network.join`'s options (none for an open space). */
  joinOptions(): Pick<JoinOptions, 'access'> {
    const p = this.privateSpace
    if (p === undefined) return {}
    if (this.proof === undefined) {
      return { access: { verifier: p.verifier, trustedPeers: p.trustedPeers } }
    }
    // A getter: the network reads the proof when it presents it, so a renewed one is presented.
    const guard = this
    return {
      access: {
        verifier: p.verifier,
        get proof() {
          return guard.proof
        },
        trustedPeers: p.trustedPeers,
      },
    }
  }

  /** What this replica may do now (re-derived at every call: revocations and expiry count). */
  status(): ReplicaAccessStatus {
    const p = this.privateSpace
    if (p === undefined) {
      return {
        space: this.space,
        private: false,
        rights: ['read', 'write'],
        readOnly: false,
        expiresAt: 0,
        revoked: false,
      }
    }
    const verified = this.verified
    const chain = this.proof?.chain ?? []
    const revoked = chain.some(({ grant }) => p.verifier.isRevoked(grant.subject))
    const expiresAt = verified?.expiresAt ?? 0
    const expired = expiresAt !== 0 && p.now() >= expiresAt * 1000
    const rights = verified === undefined || revoked || expired ? 0 : verified.rights
    return {
      space: this.space,
      private: true,
      rights: rightNames(rights),
      readOnly: !hasRights(rights, WRITE),
      expiresAt,
      revoked,
    }
  }

  /** Throws `ACCESS_DENIED` (saying why) unless this replica may write locally now. */
  assertWritable(): void {
    const status = this.status()
    if (!status.readOnly) return
    const why = status.revoked
      ? 'its key (or a key its grant passes through) was revoked'
      : this.verified === undefined
        ? 'it holds no grant (it serves the space as a relay)'
        : status.expiresAt !== 0 && status.rights.length === 0
          ? `its grant expired at ${new Date(status.expiresAt * 1000).toISOString()}`
          : `its grant gives only ${status.rights.join(', ')}`
    throw denied(`this replica may not write in space ${this.space}: ${why}`)
  }

  /**
   * Checks the states of reserved keys among `states` received from a peer, before any is
   * stored: only valid revocation records of a private space pass, and each revocation is put
   * into the verifier at once (a valid revocation holds even if the batch fails later).
   * `ACCESS_DENIED` (the whole batch is refused) otherwise.
   */
  async admit(states: readonly DecodedState[]): Promise<void> {
    for (const { key, value } of states) {
      if (!isReservedKey(key)) continue
      const verifier = this.privateSpace?.verifier
      if (verifier === undefined) {
        throw denied(`space ${this.space} is open: it has no reserved key ${JSON.stringify(key)}`)
      }
      if (isGrantKey(key)) {
        await admitGrantRecords(verifier, key, value)
        continue
      }
      const revocations = revocationsOfState(key, value)
      for (const revocation of revocations) {
        try {
          await verifier.verifyRevocation(revocation)
        } catch (error) {
          throw new MendsyncError(
            'ACCESS_DENIED',
            `refused the revocation record ${JSON.stringify(key)}: ${(error as Error).message}`,
            { cause: error },
          )
        }
      }
      for (const revocation of revocations) await verifier.addRevocation(revocation)
    }
  }

  /**
   * Checks the state a join produced for a reserved key: it must still hold a record (joining
   * admitted states cannot add a bad one, but a crafted context could remove every record).
   */
  checkJoined(key: string, state: CausalValue): void {
    if (!isReservedKey(key)) return
    if (!isGrantKey(key)) {
      revocationsOfState(key, state)
      return
    }
    for (const proof of grantProofsOfState(key, state)) this.listGrant(proof)
  }

  /**
   * Lists `proof` (a grant record stored in the space, verified before it was stored) in
   * {@link devices}; of two records of one device, the later-expiring is listed.
   */
  listGrant(proof: AccessProof): void {
    const subject = toHex(lastGrant(proof).grant.subject)
    const listed = this.grants.get(subject)
    this.grants.set(subject, listed === undefined ? proof : laterExpiring(listed, proof))
  }

  /**
   * Gives the guard the replica's writer for its grant records: from then on a grant it signs is
   * stored in the space (and listed by every device). Call {@link recordOwnGrant} once the
   * replica is started.
   */
  attachRecordWriter(write: ReservedRecordWriter): void {
    this.writeRecord = write
  }

  /**
   * Stores this replica's own proof as a grant record when it redeemed an invite (the invite's
   * key signed its grant, and that key has no replica to record it) and the space has no record
   * of it yet, so every device lists it. A grant signed by a replica was recorded by that replica;
   * a read-only device's writes are refused by its peers, so it records nothing either.
   */
  async recordOwnGrant(): Promise<void> {
    const proof = this.proof
    if (proof === undefined || !redeemedInvite(proof) || this.status().readOnly) return
    if (this.grants.has(toHex(lastGrant(proof).grant.subject))) return
    await this.storeGrant(proof)
  }

  private async storeGrant(proof: AccessProof): Promise<void> {
    this.listGrant(proof)
    await this.writeRecord?.(grantKey(lastGrant(proof).grant.subject), encodeProof(proof))
  }

  /**
   * Signs a revocation of `peer` with the signer and revokes it in the verifier; returns the
   * record to store, or `undefined` when `peer` is revoked already (its record is in the space).
   * `INVALID_ARGUMENT` in an open space, without a signer, for the owner; `ACCESS_DENIED` when
   * the signer holds no `admin`.
   */
  async revoke(peer: PeerId): Promise<RevocationRecord | undefined> {
    const p = this.requirePrivate('revoke')
    const signer = this.requireSigner(p, 'revoke')
    const subject = publicKeyOfPeerId(peer)
    if (bytesEqual(subject, p.verifier.space.owner)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'the owner of a space cannot be revoked')
    }
    const issuerProof = this.signerProof(p, signer)
    const revocation = await signRevocation(signer, {
      space: this.space,
      subject,
      ...(issuerProof.chain.length === 0 ? {} : { issuerProof }),
      revokedAt: Math.floor(p.now() / 1000),
    })
    // Checked first, so that a signer without admin hears so even for a revoked peer.
    await p.verifier.verifyRevocation(revocation)
    if (p.verifier.isRevoked(subject)) return undefined
    await p.verifier.addRevocation(revocation)
    return { key: revocationKey(subject), record: encodeRevocation(revocation) }
  }

  /** The devices whose grant records this replica holds, `revoked` as its verifier says now. */
  devices(): DeviceGrant[] {
    const verifier = this.privateSpace?.verifier
    if (verifier === undefined) return []
    return [...this.grants.values()].map((proof) =>
      deviceOfProof(proof, (key) => verifier.isRevoked(key)),
    )
  }

  /** Every revocation this replica holds. */
  revocations(): RevokedPeer[] {
    return (this.privateSpace?.verifier.revocations() ?? []).map(revokedPeer)
  }

  /** Calls `listener` for every newly revoked peer; returns the function that unsubscribes. */
  onRevoked(listener: (revoked: RevokedPeer) => void): () => void {
    const verifier = this.privateSpace?.verifier
    if (verifier === undefined) return () => {}
    return verifier.onRevoked((revocation) => listener(revokedPeer(revocation)))
  }

  /** A grant to `peer` signed by the signer; returns the peer's proof (see `grantAccess`). */
  async grant(peer: PeerId, options: GrantOptions): Promise<AccessProof> {
    const p = this.requirePrivate('grant')
    const signer = this.requireSigner(p, 'grant')
    const proof = await issueGrant(
      signer,
      this.signerProof(p, signer),
      peer,
      this.clocked(p, options),
      p.verifier,
    )
    await this.storeGrant(proof)
    return proof
  }

  /** An invite token signed by the signer (see `createInviteToken`). */
  async invite(options: InviteTokenOptions): Promise<string> {
    const p = this.requirePrivate('invite')
    const signer = this.requireSigner(p, 'invite')
    return await issueInvite(
      signer,
      this.signerProof(p, signer),
      this.clocked(p, options),
      p.verifier,
    )
  }

  private clocked<T extends { readonly now?: number }>(p: PrivateSpace, options: T): T {
    return { ...options, now: options.now ?? Math.floor(p.now() / 1000) }
  }

  private requirePrivate(operation: string): PrivateSpace {
    if (this.privateSpace === undefined) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `${operation}: space ${this.space} is open; only private spaces have grants and revocations`,
      )
    }
    return this.privateSpace
  }

  private requireSigner(p: PrivateSpace, operation: string): SigningKey {
    if (p.signer === undefined) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `${operation}: openReplica was given no access.signer to sign with`,
      )
    }
    return p.signer
  }

  /** The signer's own proof: the owner's empty chain, or this replica's proof when it ends there. */
  private signerProof(p: PrivateSpace, signer: SigningKey): AccessProof {
    const key = signer.publicKey.raw
    if (bytesEqual(key, p.verifier.space.owner)) return { space: p.verifier.space, chain: [] }
    const last = this.proof?.chain[this.proof.chain.length - 1]
    if (this.proof !== undefined && last !== undefined && bytesEqual(last.grant.subject, key)) {
      return this.proof
    }
    throw denied(
      `access.signer is neither the owner of space ${this.space} nor the key this replica's proof is for`,
    )
  }
}

/**
 * Verifies every grant record in a state received for `key` before it is stored: a forged,
 * over-delegated or wrong-space record refuses the batch (`ACCESS_DENIED`).
 */
async function admitGrantRecords(
  verifier: AccessVerifier,
  key: string,
  state: CausalValue,
): Promise<void> {
  for (const proof of grantProofsOfState(key, state)) {
    try {
      await verifier.verifyGrantRecord(proof, lastGrant(proof).grant.subject)
    } catch (error) {
      throw refusedRecord(key, (error as Error).message, error)
    }
  }
}

function revokedPeer(revocation: Revocation): RevokedPeer {
  return {
    peer: peerIdOfPublicKey(revocation.subject),
    by: peerIdOfPublicKey(revocation.issuer),
    revokedAt: revocation.revokedAt,
  }
}
