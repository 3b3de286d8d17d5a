// What `openReplica` takes and reports about a private space, and how it checks what it takes
// before anything is stored: the space id against the descriptor, the device's proof against
// the space, its revocations and the device's own key.
import { decodeValue, MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  AccessVerifier,
  decodeProof,
  encodeProof,
  isPrivateSpaceId,
  publicKeyOfPeerId,
  type SigningKey,
  type SpaceDescriptor,
  signingKeyOf,
  spaceIdOf,
} from '@mendsync/core/access'
import type { Logger } from '@mendsync/core/toolbox'
import type { Network, PeerId } from '../../network/types.js'
import { scanAll } from '../../storage/scan-all.js'
import type { Storage } from '../../storage/types.js'
import { grantProofsOfState } from './grant-records.js'
import { GRANT_KEY_PREFIX, REVOCATION_KEY_PREFIX } from './reserved-keys.js'
import { revocationsOfState } from './revocation-records.js'
import { SpaceGuard } from './space-guard.js'

/**
 * `openReplica`'s `access` option: how this replica takes part in a private space (its `space`
 * is then the `ms1…` id of `descriptor`). A device gives its `proof`; a relay, which serves the
 * space without a grant, gives only the `descriptor`.
 */
export interface ReplicaAccess {
  /**
   * This device's proof (an `AccessProof`, or its `encodeProof` bytes): a chain of grants from
   * the owner to the key of this replica's network peer id (to `signer` when offline). Verified
   * at open: `INVALID_ARGUMENT` when malformed, `ACCESS_DENIED` when it gives no right now.
   */
  readonly proof?: AccessProof | Uint8Array
  /** The space's descriptor; default the proof's. When both are given they must agree. */
  readonly descriptor?: SpaceDescriptor
  /**
   * The key that signs this replica's revocations, grants and invites: the owner's key, or a key
   * whose grant holds `admin` (this device's libp2p key: `signingKeyOf(node.privateKey)`).
   */
  readonly signer?: SigningKey
  /** Peers accepted without a proof, with read and write: the application's relays. */
  readonly trustedPeers?: readonly PeerId[]
}

/** What {@link openSpaceGuard} needs from `openReplica`'s options. */
export interface GuardOptions {
  readonly space: string
  readonly access: ReplicaAccess | undefined
  readonly storage: Storage
  readonly network: Network | undefined
  /** The clock, ms. */
  readonly now: () => number
  readonly logger: Logger
}

function invalid(message: string, cause?: unknown): MendsyncError {
  return new MendsyncError('INVALID_ARGUMENT', message, cause === undefined ? undefined : { cause })
}

/**
 * Checks `options.access` against `options.space` and returns the space's guard: for a private
 * space a verifier holding the revocations stored in `options.storage` (read, never written) and
 * the verified rights of this replica's proof. Fails before anything is stored:
 * `INVALID_ARGUMENT` for a malformed option, a private id without `access` or a descriptor of
 * another space; `ACCESS_DENIED` for a proof that gives this replica no right.
 */
export async function openSpaceGuard(options: GuardOptions): Promise<SpaceGuard> {
  const { space, access } = options
  if (access === undefined) {
    if (isPrivateSpaceId(space)) {
      throw invalid(
        `space ${space} is private: openReplica needs access { proof } (a device) or { descriptor } (a relay)`,
      )
    }
    return SpaceGuard.open(space)
  }
  if (typeof access !== 'object' || access === null) {
    throw invalid('openReplica: access must be { proof?, descriptor?, signer?, trustedPeers? }')
  }
  const proof = access.proof === undefined ? undefined : normalizeProof(access.proof)
  const descriptor = access.descriptor ?? proof?.space
  if (descriptor === undefined) {
    throw invalid('openReplica: access needs a proof or the space descriptor')
  }
  const descriptorId = spaceIdOf(descriptor)
  if (descriptorId !== space) {
    throw invalid(`openReplica: the access descriptor is of space ${descriptorId}, not ${space}`)
  }
  const signer = access.signer === undefined ? undefined : signingKeyOf(access.signer)
  const trustedPeers = access.trustedPeers ?? []
  if (!Array.isArray(trustedPeers) || trustedPeers.some((p) => typeof p !== 'string' || p === '')) {
    throw invalid('openReplica: access.trustedPeers must be an array of peer ids')
  }
  const logger = options.logger.child('access')
  const verifier = new AccessVerifier(
    { owner: descriptor.owner, name: descriptor.name },
    { now: options.now, logger },
  )
  await loadRevocations(options.storage, verifier, logger)
  const key = proof === undefined ? undefined : ownKey(options.network, signer, proof)
  const verified =
    proof === undefined || key === undefined ? undefined : await verifier.verify(proof, key)
  const guard = SpaceGuard.private({
    verifier,
    proof,
    verified,
    ownKey: key,
    signer,
    trustedPeers,
    now: options.now,
  })
  await loadGrants(options.storage, guard, logger)
  return guard
}

/** Lists the grant records stored in the space in `guard` (each verified before it was stored). */
async function loadGrants(storage: Storage, guard: SpaceGuard, logger: Logger): Promise<void> {
  for await (const { key, value } of scanAll(storage, {
    namespace: 'values',
    prefix: GRANT_KEY_PREFIX,
  })) {
    try {
      for (const proof of grantProofsOfState(key, decodeValue(value))) guard.listGrant(proof)
    } catch (error) {
      logger.warn('a stored grant record does not decode; it is skipped', { error, key })
    }
  }
}

/**
 * `Replica.renewAccess`: installs `proof` (an `AccessProof` or its `encodeProof` bytes) as the
 * replica's proof without reopening. `INVALID_ARGUMENT` when malformed, in an open space or on a
 * relay; `ACCESS_DENIED` when it gives this replica no right now (the current proof stays).
 */
export async function renewAccess(
  guard: SpaceGuard,
  proof: AccessProof | Uint8Array,
): Promise<void> {
  await guard.renew(normalizeProof(proof))
}

/** The proof as the decoder sees it (a hand-built object is re-read from its signed bytes). */
function normalizeProof(proof: AccessProof | Uint8Array): AccessProof {
  if (proof instanceof Uint8Array) return decodeProof(proof)
  let bytes: Uint8Array
  try {
    bytes = encodeProof(proof)
  } catch (cause) {
    if (cause instanceof MendsyncError) throw cause
    throw invalid('openReplica: access.proof is not an AccessProof', cause)
  }
  return decodeProof(bytes)
}

/**
 * The key this replica's proof must end at: its network peer id's (the key peers authenticate),
 * or offline the signer's, or else the proof's own last subject (offline, nothing to compare).
 */
function ownKey(
  network: Network | undefined,
  signer: SigningKey | undefined,
  proof: AccessProof,
): Uint8Array {
  if (network !== undefined) return publicKeyOfPeerId(network.peerId)
  if (signer !== undefined) return signer.publicKey.raw
  const last = proof.chain[proof.chain.length - 1]
  return last === undefined ? proof.space.owner : last.grant.subject
}

/**
 * Puts the revocations stored in the space into `verifier`. A stored record was verified before
 * it was stored; one that no longer verifies (another clock) is logged and skipped.
 */
async function loadRevocations(
  storage: Storage,
  verifier: AccessVerifier,
  logger: Logger,
): Promise<void> {
  for await (const { key, value } of scanAll(storage, {
    namespace: 'values',
    prefix: REVOCATION_KEY_PREFIX,
  })) {
    try {
      for (const revocation of revocationsOfState(key, decodeValue(value))) {
        await verifier.addRevocation(revocation)
      }
    } catch (error) {
      logger.warn('a stored revocation record does not verify; it is skipped', {
        error,
        key,
        space: verifier.spaceId,
      })
    }
  }
}
