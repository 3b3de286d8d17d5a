// An access proof: the space's descriptor and a chain of grants from its owner to one peer.
// Verifying it needs nothing but the proof, the peer's authenticated key, the clock and the
// space's revocations, so every peer and relay checks it offline.
import { MendsyncError } from '../errors.js'
import { decodeCanonical, encodeCanonical, expectBytes, expectTuple } from './cbor.js'
import { type SignedGrant, signedGrantFromWire, signedGrantToWire } from './grant.js'
import { bytesEqual, PUBLIC_KEY_BYTES } from './keys.js'
import { ADMIN, ALL_RIGHTS, INVITE, READ, WRITE } from './rights.js'
import { type SpaceDescriptor, spaceIdOf } from './space-id.js'

/** Most grants in one chain (owner -> admin -> ... -> device). */
export const MAX_DELEGATION_DEPTH = 4
/** Largest encoded proof accepted, bytes (a full chain with a long name fits). */
export const MAX_PROOF_BYTES = 4096
/**
 * How far apart two peers' clocks may be, seconds: a grant counts as started this long before
 * its `notBefore` and as expired this long after its `expiresAt`.
 */
export const CLOCK_SKEW_SECONDS = 300

const PROOF_VERSION = 1

/** A space's descriptor and the chain of grants that gives a peer its rights. */
export interface AccessProof {
  readonly space: SpaceDescriptor
  /** From the owner's grant to the peer's own; empty when the peer is the owner. */
  readonly chain: readonly SignedGrant[]
}

/** What a verified proof gives its subject. */
export interface VerifiedAccess {
  readonly spaceId: string
  readonly rights: number
  /** Unix seconds when the chain's first grant expires; 0 when none does. */
  readonly expiresAt: number
}

/** The wire form of a proof: `[1, owner, name, [[body, signature], ...]]`. */
export function proofToWire(proof: AccessProof): unknown[] {
  return [PROOF_VERSION, proof.space.owner, proof.space.name, proof.chain.map(signedGrantToWire)]
}

/** Decodes the wire form of a proof (signatures are checked by {@link checkChain}). */
export function proofFromWire(value: unknown): AccessProof {
  const [version, owner, name, chain] = expectTuple(value, 4, 'access proof')
  if (version !== PROOF_VERSION) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `access proof version ${String(version)} is not supported`,
    )
  }
  if (typeof name !== 'string')
    throw new MendsyncError('INVALID_ARGUMENT', 'access proof: bad space name')
  if (!Array.isArray(chain) || chain.length > MAX_DELEGATION_DEPTH) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `access proof: a chain of at most ${MAX_DELEGATION_DEPTH} grants expected`,
    )
  }
  const space = {
    owner: expectBytes(owner, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'space owner'),
    name,
  }
  spaceIdOf(space) // validates the name
  return { space, chain: chain.map(signedGrantFromWire) }
}

/** Encodes a proof canonically. */
export function encodeProof(proof: AccessProof): Uint8Array {
  return encodeCanonical(proofToWire(proof))
}

/** Decodes {@link encodeProof}'s bytes; `INVALID_ARGUMENT` on anything malformed. */
export function decodeProof(bytes: Uint8Array): AccessProof {
  return proofFromWire(decodeCanonical(bytes, 'access proof', MAX_PROOF_BYTES))
}

/** What {@link checkChain} consults besides the proof. */
export interface ChainContext {
  /** Now, Unix seconds. */
  readonly now: number
  /** Allowed clock difference, seconds. */
  readonly skewSeconds: number
  /** Whether a key was revoked in the space (its grants, and chains through it, are void). */
  isRevoked(publicKey: Uint8Array): boolean
  /** Whether `signed`'s signature by its issuer is valid (the verifier caches this). */
  signatureValid(signed: SignedGrant): Promise<boolean>
}

/**
 * Checks that `proof` gives `subject` (a raw Ed25519 public key) rights in the space, and which.
 * Throws `ACCESS_DENIED` with the reason when it does not. The rules:
 * - the owner holds every right without a chain, and can never be revoked;
 * - the first grant is signed by the owner; each next grant by the previous grant's subject;
 * - a grant issued by an `admin` holds a subset of its issuer's rights; one issued by an
 *   `invite` holder is the last of the chain and holds only `read`/`write` of its issuer's;
 * - every grant is for this space, started and not expired (with the clock-skew allowance),
 *   its subject not revoked, its signature valid; the chain ends at `subject`.
 */
export async function checkChain(
  proof: AccessProof,
  subject: Uint8Array,
  context: ChainContext,
): Promise<VerifiedAccess> {
  const spaceId = spaceIdOf(proof.space)
  const deny = (reason: string): never => {
    throw new MendsyncError('ACCESS_DENIED', `no access to space ${spaceId}: ${reason}`)
  }
  if (proof.chain.length === 0) {
    if (!bytesEqual(subject, proof.space.owner))
      deny('the peer is not the owner and shows no grant')
    return { spaceId, rights: ALL_RIGHTS, expiresAt: 0 }
  }
  if (proof.chain.length > MAX_DELEGATION_DEPTH) {
    deny(`a chain of ${proof.chain.length} grants exceeds the ${MAX_DELEGATION_DEPTH} allowed`)
  }
  let issuer = proof.space.owner
  let issuerRights = ALL_RIGHTS
  let expiresAt = 0
  for (let i = 0; i < proof.chain.length; i++) {
    const { grant } = proof.chain[i] as SignedGrant
    const last = i === proof.chain.length - 1
    if (grant.space !== spaceId) deny(`grant ${i} is for another space`)
    if (!bytesEqual(grant.issuer, issuer))
      deny(`grant ${i} is not signed by the holder of grant ${i - 1}`)
    if (i > 0) {
      if ((issuerRights & ADMIN) !== 0) {
        if ((grant.rights & ~issuerRights) !== 0) deny(`grant ${i} exceeds its issuer's rights`)
      } else if ((issuerRights & INVITE) !== 0) {
        if (!last) deny(`an invite can issue only the last grant of a chain`)
        if ((grant.rights & ~(issuerRights & (READ | WRITE))) !== 0) {
          deny(`grant ${i} exceeds what an invite may give`)
        }
      } else {
        deny(`grant ${i - 1} does not allow delegation`)
      }
    }
    if (grant.notBefore > context.now + context.skewSeconds) deny(`grant ${i} is not valid yet`)
    if (grant.expiresAt !== 0) {
      if (context.now >= grant.expiresAt + context.skewSeconds) deny(`grant ${i} expired`)
      expiresAt = expiresAt === 0 ? grant.expiresAt : Math.min(expiresAt, grant.expiresAt)
    }
    if (context.isRevoked(grant.subject)) deny(`the subject of grant ${i} was revoked`)
    issuer = grant.subject
    issuerRights = grant.rights
  }
  if (!bytesEqual(issuer, subject)) deny('the chain ends at another peer')
  // Signatures last: the checks above are cheap and refuse most bad proofs before any curve math.
  for (let i = 0; i < proof.chain.length; i++) {
    if (!(await context.signatureValid(proof.chain[i] as SignedGrant)))
      deny(`grant ${i} has a bad signature`)
  }
  return { spaceId, rights: issuerRights, expiresAt }
}
