// A grant: "issuer lets subject do `rights` in `space` from `notBefore` until `expiresAt`",
// signed by the issuer. Compact (about 180 bytes), canonical, verified offline.
import { MendsyncError } from '../errors.js'
import { randomBytes } from '../toolbox/random-id.js'
import { decodeCanonical, encodeCanonical, expectBytes, expectTuple, expectUint } from './cbor.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type SigningKey, signWithDomain } from './keys.js'
import { isValidRights } from './rights.js'
import { spaceIdBytes, spaceIdFromBytes } from './space-id.js'

/** Version of the grant encoding, its first element. */
export const GRANT_VERSION = 1
/** Largest encoded signed grant accepted, bytes. */
export const MAX_GRANT_BYTES = 512
/** Bytes of a grant's nonce (makes two grants of the same fields distinct). */
export const GRANT_NONCE_BYTES = 12

/** Signature domain of grants. */
export const GRANT_DOMAIN = new TextEncoder().encode('mendsync/grant/v1\0')

/** The fields of a grant. Times are Unix seconds; `expiresAt` 0 means "never expires". */
export interface Grant {
  /** The private space id. */
  readonly space: string
  /** Raw Ed25519 public key of the signer. */
  readonly issuer: Uint8Array
  /** Raw Ed25519 public key of the peer the grant is for (its libp2p peer id's key). */
  readonly subject: Uint8Array
  /** Bits of `READ`, `WRITE`, `ADMIN`, `INVITE`. */
  readonly rights: number
  readonly notBefore: number
  readonly expiresAt: number
  readonly nonce: Uint8Array
}

/** A grant with its canonical body bytes and the issuer's signature of them. */
export interface SignedGrant {
  readonly grant: Grant
  /** The canonical encoding of the fields: what the signature covers. */
  readonly body: Uint8Array
  readonly signature: Uint8Array
}

/** What {@link signGrant} needs; `notBefore` defaults to now, `nonce` to random bytes. */
export interface GrantFields {
  readonly space: string
  readonly subject: Uint8Array
  readonly rights: number
  /** Unix seconds; 0 for a grant that never expires. */
  readonly expiresAt: number
  readonly notBefore?: number
  readonly nonce?: Uint8Array
}

/** Signs a grant of `fields` with `issuer`. Throws `INVALID_ARGUMENT` on bad fields. */
export async function signGrant(issuer: SigningKey, fields: GrantFields): Promise<SignedGrant> {
  const grant: Grant = {
    space: fields.space,
    issuer: issuer.publicKey.raw,
    subject: fields.subject,
    rights: fields.rights,
    notBefore: fields.notBefore ?? Math.floor(Date.now() / 1000),
    expiresAt: fields.expiresAt,
    nonce: fields.nonce ?? randomBytes(GRANT_NONCE_BYTES),
  }
  const body = encodeGrantBody(grant)
  return { grant, body, signature: await signWithDomain(issuer, GRANT_DOMAIN, body) }
}

/** The canonical body of `grant` (validating every field). */
export function encodeGrantBody(grant: Grant): Uint8Array {
  expectBytes(grant.issuer, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'grant issuer')
  expectBytes(grant.subject, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'grant subject')
  expectBytes(grant.nonce, 0, 32, 'grant nonce')
  if (!isValidRights(grant.rights)) {
    throw new MendsyncError('INVALID_ARGUMENT', `grant rights must be a non-empty set of rights`)
  }
  expectUint(grant.notBefore, 'grant notBefore')
  expectUint(grant.expiresAt, 'grant expiresAt')
  if (grant.expiresAt !== 0 && grant.expiresAt <= grant.notBefore) {
    throw new MendsyncError('INVALID_ARGUMENT', 'a grant must expire after it starts')
  }
  return encodeCanonical([
    GRANT_VERSION,
    spaceIdBytes(grant.space),
    grant.issuer,
    grant.subject,
    grant.rights,
    grant.notBefore,
    grant.expiresAt,
    grant.nonce,
  ])
}

/** The wire form of a signed grant: `[body, signature]`. */
export function signedGrantToWire(signed: SignedGrant): [Uint8Array, Uint8Array] {
  return [signed.body, signed.signature]
}

/** Decodes the wire form of a signed grant (the signature is NOT checked here). */
export function signedGrantFromWire(value: unknown): SignedGrant {
  const [body, signature] = expectTuple(value, 2, 'signed grant')
  const bodyBytes = expectBytes(body, 1, MAX_GRANT_BYTES, 'grant body')
  const sig = expectBytes(signature, SIGNATURE_BYTES, SIGNATURE_BYTES, 'grant signature')
  return { grant: decodeGrantBody(bodyBytes), body: bodyBytes, signature: sig }
}

/** Encodes a signed grant on its own (for storing it in the space or sending it). */
export function encodeSignedGrant(signed: SignedGrant): Uint8Array {
  return encodeCanonical(signedGrantToWire(signed))
}

/** Decodes {@link encodeSignedGrant}'s bytes; `INVALID_ARGUMENT` on anything malformed. */
export function decodeSignedGrant(bytes: Uint8Array): SignedGrant {
  return signedGrantFromWire(decodeCanonical(bytes, 'signed grant', MAX_GRANT_BYTES))
}

function decodeGrantBody(body: Uint8Array): Grant {
  const fields = expectTuple(decodeCanonical(body, 'grant body', MAX_GRANT_BYTES), 8, 'grant body')
  if (fields[0] !== GRANT_VERSION) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `grant version ${String(fields[0])} is not supported`,
    )
  }
  const grant: Grant = {
    space: spaceIdFromBytes(expectBytes(fields[1], 32, 32, 'grant space')),
    issuer: expectBytes(fields[2], PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'grant issuer'),
    subject: expectBytes(fields[3], PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'grant subject'),
    rights: expectUint(fields[4], 'grant rights'),
    notBefore: expectUint(fields[5], 'grant notBefore'),
    expiresAt: expectUint(fields[6], 'grant expiresAt'),
    nonce: expectBytes(fields[7], 0, 32, 'grant nonce'),
  }
  // Re-validate through the encoder: the same rules on both sides, one place.
  encodeGrantBody(grant)
  return grant
}
