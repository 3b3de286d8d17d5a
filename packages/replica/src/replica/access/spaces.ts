// Creating a private space and handing out access to it: thin wrappers over
// `@mendsync/core/access` that take and return peer ids and right names (what an application
// holds), and check what they produce with a verifier, so a grant or invite the issuer may not
// give fails here, at once, rather than at the peer that receives it.
import { MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  AccessVerifier,
  bytesEqual,
  createInvite,
  decodeInvite,
  encodeInvite,
  publicKeyOfPeerId,
  type RightName,
  redeemInvite,
  rightsOf,
  type SigningKey,
  type SpaceDescriptor,
  signGrant,
  signingKeyFromSeed,
  signingKeyOf,
  spaceIdOf,
} from '@mendsync/core/access'
import type { PeerId } from '../../network/types.js'

/** What a device needs to open a private space: its id, its descriptor and the device's proof. */
export interface SpaceCredentials {
  /** The space id (`ms1…`), the `space` to give `openReplica`. */
  readonly spaceId: string
  readonly descriptor: SpaceDescriptor
  /** The device's proof, `access.proof` of `openReplica` (encode it with `encodeProof` to keep it). */
  readonly proof: AccessProof
}

/**
 * Creates the private space `name` owned by `owner`: its id, descriptor, and the owner's proof
 * (an empty chain, valid on a device whose peer key is `owner`; a device with another key gets a
 * grant from the owner, see {@link grantAccess}). Nothing is stored or sent.
 */
export function createSpace(owner: SigningKey, name: string): SpaceCredentials {
  const key = signingKeyOf(owner)
  const descriptor: SpaceDescriptor = { owner: key.publicKey.raw, name }
  return { spaceId: spaceIdOf(descriptor), descriptor, proof: { space: descriptor, chain: [] } }
}

/** What {@link grantAccess} gives. */
export interface GrantOptions {
  /** Rights of the grant: a non-empty subset of the issuer's (`admin` lets the subject grant too). */
  readonly rights: readonly RightName[]
  /** When the grant expires, Unix seconds; 0: never. Default: never, or `ttlSeconds` from now. */
  readonly expiresAt?: number
  /** Validity from now, seconds (instead of `expiresAt`). */
  readonly ttlSeconds?: number
  /** Now, Unix seconds. Default: the system clock. */
  readonly now?: number
}

/** What {@link createInviteToken} gives. */
export interface InviteTokenOptions {
  /** `read` and/or `write` for the devices that join with it. */
  readonly rights: readonly RightName[]
  /** Validity, seconds; default one day, at most 30 days (`DEFAULT_INVITE_TTL_SECONDS`). */
  readonly ttlSeconds?: number
  /** Now, Unix seconds. Default: the system clock. */
  readonly now?: number
}

/**
 * Signs a grant of `options.rights` in the space of `issuerProof` to the peer `subject`, and
 * returns the subject's proof (the issuer's chain plus the new grant: send it to the subject,
 * e.g. `encodeProof`). `issuerProof` is the issuer's own proof (the owner's is
 * `createSpace(...).proof`). `INVALID_ARGUMENT` on bad options or when `issuer` is not the key
 * `issuerProof` is for; `ACCESS_DENIED` when the issuer may not give these rights.
 */
export async function grantAccess(
  issuer: SigningKey,
  issuerProof: AccessProof,
  subject: PeerId,
  options: GrantOptions,
): Promise<AccessProof> {
  return await issueGrant(
    issuer,
    issuerProof,
    subject,
    options,
    new AccessVerifier(issuerProof.space),
  )
}

/** {@link grantAccess} checked against `verifier` (which knows the space's revocations). */
export async function issueGrant(
  issuer: SigningKey,
  issuerProof: AccessProof,
  subject: PeerId,
  options: GrantOptions,
  verifier: AccessVerifier,
): Promise<AccessProof> {
  assertHolder(issuer, issuerProof)
  const subjectKey = publicKeyOfPeerId(subject)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const grant = await signGrant(issuer, {
    space: spaceIdOf(issuerProof.space),
    subject: subjectKey,
    rights: rightBits(options.rights),
    notBefore: now,
    expiresAt: expiryOf(options, now),
  })
  const proof: AccessProof = { space: issuerProof.space, chain: [...issuerProof.chain, grant] }
  await verifier.verify(proof, subjectKey)
  return proof
}

/**
 * Creates an invite: a token (about 350 characters of base64url, for a link's fragment or a QR
 * code) that lets any device holding it join with `options.rights` until it expires, with
 * {@link redeemInviteToken}. `inviterProof` is the inviter's own proof; the inviter must be the
 * owner or hold `admin` and `invite`. Errors as {@link grantAccess}.
 */
export async function createInviteToken(
  inviter: SigningKey,
  inviterProof: AccessProof,
  options: InviteTokenOptions,
): Promise<string> {
  return await issueInvite(inviter, inviterProof, options, new AccessVerifier(inviterProof.space))
}

/** {@link createInviteToken} checked against `verifier`. */
export async function issueInvite(
  inviter: SigningKey,
  inviterProof: AccessProof,
  options: InviteTokenOptions,
  verifier: AccessVerifier,
): Promise<string> {
  assertHolder(inviter, inviterProof)
  const invite = await createInvite(inviter, {
    space: inviterProof.space,
    rights: rightBits(options.rights),
    inviterChain: inviterProof.chain,
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  await verifier.verify(invite.proof, (await signingKeyFromSeed(invite.secret)).publicKey.raw)
  return encodeInvite(invite)
}

/**
 * Redeems an invite token for the device `peer` (its libp2p peer id): signs the device's own
 * grant with the invite's key and checks the result, offline. `INVALID_ARGUMENT` for a token that
 * is not an invite, `ACCESS_DENIED` for one that is forged or expired.
 */
export async function redeemInviteToken(
  token: string,
  peer: PeerId,
  options: { readonly now?: number } = {},
): Promise<SpaceCredentials> {
  const invite = decodeInvite(token)
  const device = publicKeyOfPeerId(peer)
  const proof = await redeemInvite(invite, device, options)
  const verifier = new AccessVerifier(
    proof.space,
    options.now === undefined ? {} : { now: () => (options.now as number) * 1000 },
  )
  await verifier.verify(proof, device)
  return { spaceId: verifier.spaceId, descriptor: proof.space, proof }
}

/** Throws `INVALID_ARGUMENT` unless `proof` is `key`'s own proof (its chain ends at `key`). */
function assertHolder(key: SigningKey, proof: AccessProof): void {
  const signer = signingKeyOf(key)
  const last = proof?.chain?.[proof.chain.length - 1]
  const holder = last === undefined ? proof?.space?.owner : last.grant.subject
  if (!(holder instanceof Uint8Array) || !bytesEqual(holder, signer.publicKey.raw)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'the signing key is not the key this proof is for: pass the issuer’s own proof',
    )
  }
}

function rightBits(names: readonly RightName[]): number {
  if (!Array.isArray(names) || names.length === 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      "rights must name at least one of 'read', 'write', 'admin', 'invite'",
    )
  }
  try {
    return rightsOf(names)
  } catch (cause) {
    throw new MendsyncError('INVALID_ARGUMENT', (cause as Error).message, { cause })
  }
}

function expiryOf(options: GrantOptions, now: number): number {
  const { expiresAt, ttlSeconds } = options
  if (expiresAt !== undefined && ttlSeconds !== undefined) {
    throw new MendsyncError('INVALID_ARGUMENT', 'give a grant expiresAt or ttlSeconds, not both')
  }
  if (ttlSeconds !== undefined) {
    if (!(Number.isSafeInteger(ttlSeconds) && ttlSeconds > 0)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'a grant’s ttlSeconds must be a positive integer')
    }
    return now + ttlSeconds
  }
  return expiresAt ?? 0
}
