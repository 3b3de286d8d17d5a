// An invite: a bearer token that lets one new device into a space without the inviter being
// online. The inviter signs a short-lived grant to a fresh "invite key" holding `invite` (plus
// the rights to pass on); the token carries that chain and the invite key's secret. The new
// device signs its own leaf grant with the secret, so its proof is verified offline like any
// other. Because the leaf expires with the invite, an admin device that sees the new device
// renews it with a direct grant (see the access docs); a leaked token is only good until it
// expires, and can mint no admins.
import { MendsyncError } from '../errors.js'
import { randomBytes } from '../toolbox/random-id.js'
import { decodeCanonical, encodeCanonical, expectBytes, expectTuple } from './cbor.js'
import { fromBase64Url, toBase64Url } from './encoding.js'
import { type SignedGrant, signGrant } from './grant.js'
import { type SigningKey, signingKeyFromSeed } from './keys.js'
import {
  type AccessProof,
  MAX_DELEGATION_DEPTH,
  MAX_PROOF_BYTES,
  proofFromWire,
  proofToWire,
} from './proof.js'
import { INVITE, READ, WRITE } from './rights.js'
import { type SpaceDescriptor, spaceIdOf } from './space-id.js'

/** How long an invite is valid by default, seconds (one day). */
export const DEFAULT_INVITE_TTL_SECONDS = 86_400
/** Longest invite validity accepted, seconds (30 days): invites are meant to be short-lived. */
export const MAX_INVITE_TTL_SECONDS = 30 * 86_400
const SEED_BYTES = 32
const INVITE_VERSION = 1

/** A decoded invite: the chain to the invite key, and the invite key's secret seed. */
export interface Invite {
  /** Proof of the invite key's `invite` right (its last grant's subject is the invite key). */
  readonly proof: AccessProof
  /** The invite key's 32-byte Ed25519 seed: whoever holds it can join once the chain verifies. */
  readonly secret: Uint8Array
}

/** What {@link createInvite} needs. */
export interface InviteOptions {
  readonly space: SpaceDescriptor
  /** `read` and/or `write` (as bits) for the device that joins. */
  readonly rights: number
  /** Validity, seconds; default {@link DEFAULT_INVITE_TTL_SECONDS}. */
  readonly ttlSeconds?: number
  /** The inviter's own chain when the inviter is an admin, not the owner. */
  readonly inviterChain?: readonly SignedGrant[]
  /** Now, Unix seconds (tests). */
  readonly now?: number
}

/** Creates an invite signed by `inviter` (the owner, or an admin with `inviterChain`). */
export async function createInvite(inviter: SigningKey, options: InviteOptions): Promise<Invite> {
  if (options.rights === 0 || (options.rights & ~(READ | WRITE)) !== 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      "an invite gives 'read' and/or 'write', nothing else",
    )
  }
  const ttl = options.ttlSeconds ?? DEFAULT_INVITE_TTL_SECONDS
  if (!(Number.isInteger(ttl) && ttl > 0 && ttl <= MAX_INVITE_TTL_SECONDS)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `an invite's ttl must be 1 to ${MAX_INVITE_TTL_SECONDS} seconds`,
    )
  }
  const chain = options.inviterChain ?? []
  if (chain.length >= MAX_DELEGATION_DEPTH) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'the inviter sits too deep in its delegation chain to invite',
    )
  }
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const secret = randomBytes(SEED_BYTES)
  const inviteKey = await signingKeyFromSeed(secret)
  const grant = await signGrant(inviter, {
    space: spaceIdOf(options.space),
    subject: inviteKey.publicKey.raw,
    rights: INVITE | options.rights,
    notBefore: now,
    expiresAt: now + ttl,
  })
  return { proof: { space: options.space, chain: [...chain, grant] }, secret }
}

/** The invite as text for a link or a QR code (base64url, about 350 characters). */
export function encodeInvite(invite: Invite): string {
  return toBase64Url(encodeCanonical([INVITE_VERSION, proofToWire(invite.proof), invite.secret]))
}

/** Decodes {@link encodeInvite}'s text; `INVALID_ARGUMENT` on anything malformed. */
export function decodeInvite(text: string): Invite {
  const bytes = fromBase64Url(text, 'invite')
  const [version, proof, secret] = expectTuple(
    decodeCanonical(bytes, 'invite', MAX_PROOF_BYTES),
    3,
    'invite',
  )
  if (version !== INVITE_VERSION) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `invite version ${String(version)} is not supported`,
    )
  }
  const decoded = proofFromWire(proof)
  if (decoded.chain.length === 0)
    throw new MendsyncError('INVALID_ARGUMENT', 'an invite must hold a grant')
  return { proof: decoded, secret: expectBytes(secret, SEED_BYTES, SEED_BYTES, 'invite secret') }
}

/**
 * The new device's proof from an invite: a leaf grant to `device` (its raw public key) signed
 * with the invite key, with the invite's `read`/`write` and its expiry. Verify the result with an
 * `AccessVerifier` before relying on it: this only builds it.
 */
export async function redeemInvite(
  invite: Invite,
  device: Uint8Array,
  options: { readonly now?: number } = {},
): Promise<AccessProof> {
  const inviteGrant = invite.proof.chain[invite.proof.chain.length - 1] as SignedGrant
  const inviteKey = await signingKeyFromSeed(invite.secret)
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const leaf = await signGrant(inviteKey, {
    space: inviteGrant.grant.space,
    subject: device,
    rights: inviteGrant.grant.rights & (READ | WRITE),
    notBefore: Math.min(now, inviteGrant.grant.expiresAt - 1),
    expiresAt: inviteGrant.grant.expiresAt,
  })
  return { space: invite.proof.space, chain: [...invite.proof.chain, leaf] }
}
