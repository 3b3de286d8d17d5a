// Grant records as states of the space, so that every device can list the devices holding grants
// (`Replica.devices()`): each grant key holds a register whose siblings are encoded proofs ending
// at the key's subject. Like revocation records, a state is accepted only when every record is a
// proof of exactly that subject (the signatures are checked by the verifier before storing).
import { type CausalValue, isMendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  ADMIN,
  decodeProof,
  INVITE,
  peerIdOfPublicKey,
  type RightName,
  rightNames,
  type SignedGrant,
} from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'
import { GRANT_KEY_PREFIX } from './reserved-keys.js'
import { recordBytesOfState, refusedRecord } from './reserved-records.js'

/** A device that holds a grant in a private space, as `Replica.devices()` reports it. */
export interface DeviceGrant {
  /** The device (the libp2p peer id of the granted key). */
  readonly peer: PeerId
  /** The rights its grant gives. */
  readonly rights: readonly RightName[]
  /** When the grant expires, Unix seconds. */
  readonly expiresAt: number
  /** The peer that signed the grant (the owner or an admin). */
  readonly grantedBy: PeerId
  /** True once the device (or a key its chain passes through) was revoked. */
  readonly revoked: boolean
}

/** Whether `key` is a grant record's key. */
export function isGrantKey(key: string): boolean {
  return key.startsWith(GRANT_KEY_PREFIX)
}

/**
 * The proofs a state of the grant key `key` holds, decoded but not yet verified, with their
 * subject (the last grant's). `ACCESS_DENIED` when the state holds a cart, no record, a record
 * that is not an encoded proof, or a proof that ends at another key than the key names.
 */
export function grantProofsOfState(key: string, state: CausalValue): AccessProof[] {
  const subject = key.slice(GRANT_KEY_PREFIX.length)
  return recordBytesOfState(key, state, 'grant').map((bytes) => {
    let proof: AccessProof
    try {
      proof = decodeProof(bytes)
    } catch (error) {
      if (!isMendsyncError(error, 'INVALID_ARGUMENT')) throw error
      throw refusedRecord(key, error.message, error)
    }
    const last = proof.chain[proof.chain.length - 1]
    if (last === undefined || toHex(last.grant.subject) !== subject) {
      throw refusedRecord(key, 'a record grants another key than the one its key names')
    }
    return proof
  })
}

/** The subject of a grant record's proof: its last grant's (records hold at least one). */
export function lastGrant(proof: AccessProof): SignedGrant {
  return proof.chain[proof.chain.length - 1] as SignedGrant
}

/**
 * The device a grant record lists, `revoked` as `isRevoked` says for any key on its chain. Its
 * `grantedBy` is the admin or owner that signed: for a redeemed invite, the invite's issuer (the
 * invite's own key is single-purpose and names no one).
 */
export function deviceOfProof(
  proof: AccessProof,
  isRevoked: (key: Uint8Array) => boolean,
): DeviceGrant {
  const { grant } = lastGrant(proof)
  const inviteGrant = redeemedInvite(proof) ? proof.chain[proof.chain.length - 2]?.grant : undefined
  return {
    peer: peerIdOfPublicKey(grant.subject),
    rights: rightNames(grant.rights),
    expiresAt: grant.expiresAt,
    grantedBy: peerIdOfPublicKey((inviteGrant ?? grant).issuer),
    revoked: proof.chain.some((signed) => isRevoked(signed.grant.subject)),
  }
}

/** Whether `proof`'s last grant was signed by an invite's key (an `invite` holder, not an admin). */
export function redeemedInvite(proof: AccessProof): boolean {
  const rights = proof.chain[proof.chain.length - 2]?.grant.rights
  return rights !== undefined && (rights & ADMIN) === 0 && (rights & INVITE) !== 0
}

/** Of two proofs of the same device, the one listed: the later-expiring (0 never expires). */
export function laterExpiring(a: AccessProof, b: AccessProof): AccessProof {
  const ea = lastGrant(a).grant.expiresAt
  const eb = lastGrant(b).grant.expiresAt
  if (ea === 0) return a
  if (eb === 0) return b
  return eb > ea ? b : a
}
