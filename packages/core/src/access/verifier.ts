// The one place that says yes or no to a peer in a private space: proofs, revocations and the
// clock. Signature checks are cached (bounded), time and revocation are re-checked every call,
// so a cached proof stops working the moment its grant expires or its subject is revoked.
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '@noble/hashes/utils.js'
import { MendsyncError } from '../errors.js'
import { BoundedMap } from '../toolbox/bounded-map.js'
import { Listeners } from '../toolbox/listeners.js'
import { defaultLogger, type Logger } from '../toolbox/logger.js'
import { toHex } from '../toolbox/random-id.js'
import { encodeGrantBody, GRANT_DOMAIN, type SignedGrant } from './grant.js'
import { bytesEqual, verifyWithDomain } from './keys.js'
import { type AccessProof, CLOCK_SKEW_SECONDS, checkChain, type VerifiedAccess } from './proof.js'
import { REVOCATION_DOMAIN, type Revocation, revocationBody } from './revocation.js'
import { ADMIN } from './rights.js'
import { type SpaceDescriptor, spaceIdOf } from './space-id.js'

/** Signatures remembered as valid by default. */
export const DEFAULT_SIGNATURE_CACHE = 4096
/** Revoked keys one space may hold by default (more is refused: a space is not a dumping ground). */
export const DEFAULT_MAX_REVOCATIONS = 10_000

/** Options of {@link AccessVerifier}. */
export interface AccessVerifierOptions {
  /** The clock, ms; default `Date.now`. */
  readonly now?: () => number
  /** Allowed clock difference, seconds; default {@link CLOCK_SKEW_SECONDS}. */
  readonly skewSeconds?: number
  /** Valid signatures remembered; default {@link DEFAULT_SIGNATURE_CACHE}. */
  readonly signatureCache?: number
  /** Revoked keys held; default {@link DEFAULT_MAX_REVOCATIONS}. */
  readonly maxRevocations?: number
  /** Where a throwing revocation listener is reported; default `mendsync:access`. */
  readonly logger?: Logger
}

/** Verifies proofs and holds the verified revocations of one space. */
export class AccessVerifier {
  readonly space: SpaceDescriptor
  readonly spaceId: string
  private readonly now: () => number
  private readonly skewSeconds: number
  private readonly valid: BoundedMap<string, true>
  private readonly revoked = new Map<string, Revocation>()
  private readonly maxRevocations: number
  private readonly revokedListeners: Listeners<Revocation>

  constructor(space: SpaceDescriptor, options: AccessVerifierOptions = {}) {
    this.space = space
    this.spaceId = spaceIdOf(space)
    this.now = options.now ?? Date.now
    this.skewSeconds = options.skewSeconds ?? CLOCK_SKEW_SECONDS
    this.valid = new BoundedMap(options.signatureCache ?? DEFAULT_SIGNATURE_CACHE)
    this.maxRevocations = options.maxRevocations ?? DEFAULT_MAX_REVOCATIONS
    this.revokedListeners = new Listeners(options.logger ?? defaultLogger('mendsync:access'))
  }

  /**
   * Calls `listener` once for every subject newly revoked by {@link addRevocation}, after the
   * revocation holds (so `isRevoked` is already true): the network drops the subject's cached
   * proofs and evicts it from the space's gossip. Returns the function that removes it.
   */
  onRevoked(listener: (revocation: Revocation) => void): () => void {
    return this.revokedListeners.add(listener)
  }

  /**
   * The rights `proof` gives the peer whose raw public key is `subject`; `ACCESS_DENIED` with
   * the reason when it gives none (wrong space, bad signature, expired, revoked, over-delegated).
   */
  async verify(proof: AccessProof, subject: Uint8Array): Promise<VerifiedAccess> {
    if (!this.isThisSpace(proof.space)) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        `the proof is for another space than ${this.spaceId}`,
      )
    }
    return await checkChain(proof, subject, {
      now: Math.floor(this.now() / 1000),
      skewSeconds: this.skewSeconds,
      isRevoked: (key) => this.isRevoked(key),
      signatureValid: (signed) => this.grantSignatureValid(signed),
    })
  }

  /** Whether `proof` gives `subject` every bit of `rights` now (never throws). */
  async allows(proof: AccessProof, subject: Uint8Array, rights: number): Promise<boolean> {
    try {
      const access = await this.verify(proof, subject)
      return (access.rights & rights) === rights
    } catch {
      // A refused proof is exactly the answer "no".
      return false
    }
  }

  /** Whether `publicKey` was revoked in this space. The owner never is. */
  isRevoked(publicKey: Uint8Array): boolean {
    return !bytesEqual(publicKey, this.space.owner) && this.revoked.has(toHex(publicKey))
  }

  /** The verified revocations held. */
  revocations(): Revocation[] {
    return [...this.revoked.values()]
  }

  /**
   * Verifies `revocation` and, when valid, revokes its subject (idempotent). `ACCESS_DENIED` when
   * its signer is neither the owner nor an admin, or its signature is bad; `OVERLOADED` when the
   * space holds {@link DEFAULT_MAX_REVOCATIONS} already.
   */
  async addRevocation(revocation: Revocation): Promise<void> {
    this.checkRevocationFields(revocation)
    const key = toHex(revocation.subject)
    if (this.revoked.has(key)) return
    await this.checkRevocationAuthority(revocation)
    if (this.revoked.size >= this.maxRevocations) {
      throw new MendsyncError(
        'OVERLOADED',
        `space ${this.spaceId} holds ${this.maxRevocations} revocations already`,
      )
    }
    this.revoked.set(key, revocation)
    this.revokedListeners.emit(revocation)
  }

  /**
   * Checks `revocation` completely (space, fields, signature, date, the issuer's authority)
   * without revoking anything, even when its subject is revoked already: what a replica runs on
   * every revocation record before storing it, so that a forged record never sits beside a
   * valid one. `ACCESS_DENIED` with the reason when it is not valid.
   */
  async verifyRevocation(revocation: Revocation): Promise<void> {
    this.checkRevocationFields(revocation)
    await this.checkRevocationAuthority(revocation)
  }

  /**
   * Checks a grant record (a proof stored in the space to list the devices holding grants): its
   * chain is of this space, well delegated, signed, and valid at its last grant's own start, which
   * is not in the future. Revocations and later expiry do not count (a record of a revoked or
   * expired device stays listed as such). Returns what the chain gave `subject` when issued;
   * `ACCESS_DENIED` with the reason otherwise.
   */
  async verifyGrantRecord(proof: AccessProof, subject: Uint8Array): Promise<VerifiedAccess> {
    if (!this.isThisSpace(proof.space)) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        `the grant record is for another space than ${this.spaceId}`,
      )
    }
    const last = proof.chain[proof.chain.length - 1]
    if (last === undefined) {
      throw new MendsyncError('ACCESS_DENIED', 'a grant record holds at least one grant')
    }
    const issuedAt = last.grant.notBefore
    if (issuedAt > Math.floor(this.now() / 1000) + this.skewSeconds) {
      throw new MendsyncError('ACCESS_DENIED', 'the grant record is dated in the future')
    }
    return await checkChain(proof, subject, {
      now: issuedAt,
      skewSeconds: this.skewSeconds,
      isRevoked: () => false,
      signatureValid: (signed) => this.grantSignatureValid(signed),
    })
  }

  private checkRevocationFields(revocation: Revocation): void {
    if (revocation.space !== this.spaceId) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        `the revocation is for another space than ${this.spaceId}`,
      )
    }
    // The fields judged must be the fields signed (see grantSignatureValid).
    if (!bytesEqual(revocationBody(revocation), revocation.body)) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        'the revocation has a bad signature: its fields were changed',
      )
    }
  }

  private async checkRevocationAuthority(revocation: Revocation): Promise<void> {
    if (
      !(await verifyWithDomain(
        revocation.issuer,
        REVOCATION_DOMAIN,
        revocation.body,
        revocation.signature,
      ))
    ) {
      throw new MendsyncError('ACCESS_DENIED', 'the revocation has a bad signature')
    }
    if (revocation.revokedAt > Math.floor(this.now() / 1000) + this.skewSeconds) {
      throw new MendsyncError('ACCESS_DENIED', 'the revocation is dated in the future')
    }
    if (bytesEqual(revocation.issuer, this.space.owner)) return
    if (revocation.issuerProof === undefined) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        'the revocation is not by the owner and shows no admin grant',
      )
    }
    // The proof must be of this space: anyone owns some other space, and would "prove" admin there.
    if (!this.isThisSpace(revocation.issuerProof.space)) {
      throw new MendsyncError(
        'ACCESS_DENIED',
        `the revocation's admin proof is for another space than ${this.spaceId}`,
      )
    }
    // The issuer's admin rights are judged at the revocation's own date and without the
    // space's other revocations: two admins revoking each other both stay revoked (deny wins).
    const access = await checkChain(revocation.issuerProof, revocation.issuer, {
      now: revocation.revokedAt,
      skewSeconds: this.skewSeconds,
      isRevoked: () => false,
      signatureValid: (signed) => this.grantSignatureValid(signed),
    })
    if ((access.rights & ADMIN) === 0) {
      throw new MendsyncError('ACCESS_DENIED', 'the revocation is by a peer without admin rights')
    }
  }

  private isThisSpace(space: SpaceDescriptor): boolean {
    return bytesEqual(space.owner, this.space.owner) && space.name === this.space.name
  }

  private async grantSignatureValid(signed: SignedGrant): Promise<boolean> {
    // The fields judged must be the fields signed: a grant object whose fields were edited after
    // decoding (or built by hand) is refused even though its body and signature match.
    if (!bytesEqual(encodeGrantBody(signed.grant), signed.body)) return false
    const id = toHex(sha256(concatBytes(signed.grant.issuer, signed.body, signed.signature)))
    if (this.valid.get(id)) return true
    const ok = await verifyWithDomain(
      signed.grant.issuer,
      GRANT_DOMAIN,
      signed.body,
      signed.signature,
    )
    if (ok) this.valid.set(id, true)
    return ok
  }
}
