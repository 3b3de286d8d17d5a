// A revocation: "the key `subject` has no rights in `space` any more", signed by the owner or by
// an admin (who attaches the proof of being one). Revocations live in the space itself and
// replicate like data; revoking is final for that key (a device that should come back makes a
// new key and gets a new grant).
import { MendsyncError } from '../errors.js'
import { decodeCanonical, encodeCanonical, expectBytes, expectTuple, expectUint } from './cbor.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type SigningKey, signWithDomain } from './keys.js'
import { type AccessProof, MAX_PROOF_BYTES, proofFromWire, proofToWire } from './proof.js'
import { spaceIdBytes, spaceIdFromBytes } from './space-id.js'

/** Signature domain of revocations. */
export const REVOCATION_DOMAIN = new TextEncoder().encode('mendsync/revocation/v1\0')
const REVOCATION_VERSION = 1

/** A signed revocation of one key in one space. */
export interface Revocation {
  readonly space: string
  /** Raw public key of the signer: the owner, or an admin whose proof is `issuerProof`. */
  readonly issuer: Uint8Array
  /** Raw public key whose grants are void from now on. */
  readonly subject: Uint8Array
  /** Unix seconds when it was signed. */
  readonly revokedAt: number
  /** The canonical encoding of the fields above: what the signature covers. */
  readonly body: Uint8Array
  readonly signature: Uint8Array
  /** The issuer's proof of `admin` (absent when the issuer is the owner). */
  readonly issuerProof: AccessProof | undefined
}

/** Signs a revocation of `subject` in `space`. */
export async function signRevocation(
  issuer: SigningKey,
  fields: {
    readonly space: string
    readonly subject: Uint8Array
    readonly issuerProof?: AccessProof
    readonly revokedAt?: number
  },
): Promise<Revocation> {
  const revokedAt = fields.revokedAt ?? Math.floor(Date.now() / 1000)
  const body = revocationBody({ ...fields, issuer: issuer.publicKey.raw, revokedAt })
  return {
    space: fields.space,
    issuer: issuer.publicKey.raw,
    subject: fields.subject,
    revokedAt,
    body,
    signature: await signWithDomain(issuer, REVOCATION_DOMAIN, body),
    issuerProof: fields.issuerProof,
  }
}

/** The canonical body of a revocation's fields (validating them): what its signature covers. */
export function revocationBody(
  fields: Pick<Revocation, 'space' | 'issuer' | 'subject' | 'revokedAt'>,
): Uint8Array {
  return encodeCanonical([
    REVOCATION_VERSION,
    spaceIdBytes(fields.space),
    expectBytes(fields.issuer, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'revocation issuer'),
    expectBytes(fields.subject, PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'revoked key'),
    expectUint(fields.revokedAt, 'revokedAt'),
  ])
}

/** Encodes a revocation: `[body, signature, issuerProof | null]`. */
export function encodeRevocation(revocation: Revocation): Uint8Array {
  return encodeCanonical([
    revocation.body,
    revocation.signature,
    revocation.issuerProof === undefined ? null : proofToWire(revocation.issuerProof),
  ])
}

/** Decodes {@link encodeRevocation}'s bytes (not verified); `INVALID_ARGUMENT` when malformed. */
export function decodeRevocation(bytes: Uint8Array): Revocation {
  const [body, signature, proof] = expectTuple(
    decodeCanonical(bytes, 'revocation', MAX_PROOF_BYTES + 512),
    3,
    'revocation',
  )
  const bodyBytes = expectBytes(body, 1, 256, 'revocation body')
  const fields = expectTuple(
    decodeCanonical(bodyBytes, 'revocation body', 256),
    5,
    'revocation body',
  )
  if (fields[0] !== REVOCATION_VERSION) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `revocation version ${String(fields[0])} is not supported`,
    )
  }
  return {
    space: spaceIdFromBytes(expectBytes(fields[1], 32, 32, 'revocation space')),
    issuer: expectBytes(fields[2], PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'revocation issuer'),
    subject: expectBytes(fields[3], PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES, 'revoked key'),
    revokedAt: expectUint(fields[4], 'revokedAt'),
    body: bodyBytes,
    signature: expectBytes(signature, SIGNATURE_BYTES, SIGNATURE_BYTES, 'revocation signature'),
    issuerProof: proof === null ? undefined : proofFromWire(proof),
  }
}
