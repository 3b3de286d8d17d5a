// The rights remote peers proved in one private space, as every Network implementation keeps
// them: verified once per connection (`record`), dropped on disconnect, on revocation of the
// subject (or of any key its chain passes through) and at expiry, and re-checked against the
// verifier's clock and revocations on every use (`require`). Transport-agnostic: the libp2p
// network and the in-process network share it, so both enforce the same rules.
import { MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  bytesEqual,
  CLOCK_SKEW_SECONDS,
  isPrivateSpaceId,
  publicKeyOfPeerId,
  READ,
  type Revocation,
  rightNames,
  WRITE,
} from '@mendsync/core/access'
import { describeError, Listeners, type Logger } from '@mendsync/core/toolbox'
import type { PeerId, SpaceAccess } from './types.js'

/**
 * Checks the options of a private space joined as `space`: `access` holds the space's verifier
 * and excludes `allow`. Throws `INVALID_ARGUMENT`; a private space id joined without `access`
 * is refused too (it would be served to anyone).
 */
export function checkSpaceAccess(
  space: string,
  access: SpaceAccess | undefined,
  allow: readonly PeerId[] | undefined,
): void {
  if (access === undefined) {
    if (isPrivateSpaceId(space)) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `${space} is a private space id: join it with \`access\` (its verifier and proof)`,
      )
    }
    return
  }
  if (allow !== undefined) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'a private space takes `access` or `allow`, not both (trusted peers go in access.trustedPeers)',
    )
  }
  if (typeof access?.verifier?.verify !== 'function' || access.verifier.spaceId !== space) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `access.verifier must be the AccessVerifier of space ${space}`,
    )
  }
  const trusted = access.trustedPeers
  if (
    trusted !== undefined &&
    (!Array.isArray(trusted) || !trusted.every((peer) => typeof peer === 'string'))
  ) {
    throw new MendsyncError('INVALID_ARGUMENT', 'access.trustedPeers must be a list of peer ids')
  }
}

/** Longest timer a platform accepts, ms; a later expiry is caught by the check on use. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface ProvenEntry {
  readonly rights: number
  /** Unix seconds; 0 when the proof never expires. */
  readonly expiresAt: number
  readonly proof: AccessProof
  readonly subject: Uint8Array
  readonly timer: ReturnType<typeof setTimeout> | undefined
}

/** The rights peers proved in one private space (see the file's header). */
export class SpaceAccessCache {
  readonly access: SpaceAccess
  readonly spaceId: string
  private readonly trusted: ReadonlySet<PeerId>
  private readonly logger: Logger
  /** Verified proofs by peer, then by connection (a peer may hold several connections). */
  private readonly proven = new Map<PeerId, Map<string, ProvenEntry>>()
  /** Exchanges in flight with a peer: requests from it wait for them before being judged. */
  private readonly pending = new Map<PeerId, Set<Promise<unknown>>>()
  private readonly changes: Listeners<PeerId>
  private readonly stopRevoked: () => void
  private closed = false

  constructor(access: SpaceAccess, logger: Logger) {
    this.access = access
    this.spaceId = access.verifier.spaceId
    this.trusted = new Set(access.trustedPeers ?? [])
    this.logger = logger
    this.changes = new Listeners(logger)
    this.stopRevoked = access.verifier.onRevoked((revocation) => this.revoked(revocation))
  }

  /** This node's own proof, presented to the peers of the space (absent on a relay). */
  get proof(): AccessProof | undefined {
    return this.access.proof
  }

  /** Whether `peer` is one of the application's trusted peers (read and write, no proof). */
  isTrusted(peer: PeerId): boolean {
    return this.trusted.has(peer)
  }

  /**
   * The rights `peer` holds now: read and write when trusted, else those of its verified,
   * unexpired proof on any of its connections, else 0. Synchronous, for the gossip paths; the
   * calls use {@link require}, which also re-checks with the verifier.
   */
  rights(peer: PeerId): number {
    if (this.trusted.has(peer)) return READ | WRITE
    const entries = this.proven.get(peer)
    if (!entries) return 0
    const nowSeconds = Math.floor(Date.now() / 1000)
    let rights = 0
    for (const entry of entries.values()) {
      if (entry.expiresAt === 0 || nowSeconds < entry.expiresAt + CLOCK_SKEW_SECONDS) {
        rights |= entry.rights
      }
    }
    return rights
  }

  /** Whether `peer` holds every bit of `right` now (see {@link rights}). */
  can(peer: PeerId, right: number): boolean {
    return (this.rights(peer) & right) === right
  }

  /** Whether the key of `peer` was revoked in the space (false for a peer id without one). */
  isRevokedPeer(peer: PeerId): boolean {
    try {
      return this.access.verifier.isRevoked(publicKeyOfPeerId(peer))
    } catch (error) {
      // Not an Ed25519 peer id: it can hold no grant, so no revocation either.
      this.logger.debug('a peer id without an Ed25519 key', { peer, error: describeError(error) })
      return false
    }
  }

  /**
   * Whether gossip signed by `origin` and forwarded by `forwarder` is accepted: it needs the
   * origin's `write` (trusted, or proved to this node), or, for an origin this node never
   * exchanged proofs with (it reached us through another peer), a forwarder that is trusted or
   * holds `write` itself and so judged the origin with its own verifier. A revoked origin is
   * refused whoever forwards it.
   */
  acceptsGossip(origin: PeerId, forwarder: PeerId): boolean {
    if (this.trusted.has(origin) || this.proven.has(origin)) return this.can(origin, WRITE)
    if (this.isRevokedPeer(origin)) return false
    return this.can(forwarder, WRITE)
  }

  /** Whether `peer` proved anything on some connection (trusted peers excluded). */
  hasProven(peer: PeerId): boolean {
    return this.proven.has(peer)
  }

  /**
   * Verifies the proof `peer` presented on `connection` and remembers its rights; throws
   * `ACCESS_DENIED` (the reason) when it gives none, `INVALID_ARGUMENT` for a peer id that holds
   * no Ed25519 key. Listeners of {@link onChange} hear of the peer either way.
   */
  async record(peer: PeerId, connection: string, proof: AccessProof): Promise<number> {
    const subject = publicKeyOfPeerId(peer)
    let verified: Awaited<ReturnType<typeof this.access.verifier.verify>>
    try {
      verified = await this.access.verifier.verify(proof, subject)
    } catch (error) {
      this.forget(peer, connection)
      throw error
    }
    if (this.closed) return verified.rights
    this.clearEntry(this.proven.get(peer)?.get(connection))
    let entries = this.proven.get(peer)
    if (!entries) {
      entries = new Map()
      this.proven.set(peer, entries)
    }
    entries.set(connection, {
      rights: verified.rights,
      expiresAt: verified.expiresAt,
      proof,
      subject,
      timer: this.expiryTimer(peer, connection, verified.expiresAt),
    })
    this.changes.emit(peer)
    return verified.rights
  }

  /**
   * Resolves when `peer` holds `right` now, checked again with the verifier (its clock and its
   * revocations); otherwise `ACCESS_DENIED` saying which right is missing. Waits first for any
   * exchange in flight with the peer (a request may overtake the reply that proves it).
   */
  async require(peer: PeerId, right: number): Promise<void> {
    const inFlight = this.pending.get(peer)
    if (inFlight && inFlight.size > 0) await Promise.allSettled([...inFlight])
    if (this.trusted.has(peer)) return
    const entries = this.proven.get(peer)
    let held = 0
    for (const [connection, entry] of [...(entries ?? [])]) {
      try {
        const verified = await this.access.verifier.verify(entry.proof, entry.subject)
        held |= verified.rights
      } catch (error) {
        this.logger.debug('a cached proof no longer holds', {
          peer,
          space: this.spaceId,
          error: describeError(error),
        })
        this.forget(peer, connection)
      }
    }
    if ((held & right) !== right) {
      const missing = rightNames(right & ~held).map((name) => `'${name}'`)
      throw new MendsyncError(
        'ACCESS_DENIED',
        `peer ${peer} has not proved ${missing.join(' and ')} in space ${this.spaceId}`,
      )
    }
  }

  /** Tracks an exchange in flight with `peer` until `exchange` settles. */
  track(peer: PeerId, exchange: Promise<unknown>): void {
    let set = this.pending.get(peer)
    if (!set) {
      set = new Set()
      this.pending.set(peer, set)
    }
    set.add(exchange)
    const done = (): void => {
      set.delete(exchange)
      if (set.size === 0 && this.pending.get(peer) === set) this.pending.delete(peer)
    }
    exchange.then(done, done)
  }

  /** Forgets what `peer` proved on `connection` (it closed), or on every connection. */
  forget(peer: PeerId, connection?: string): void {
    const entries = this.proven.get(peer)
    if (!entries) return
    if (connection === undefined) {
      for (const entry of entries.values()) this.clearEntry(entry)
      this.proven.delete(peer)
    } else {
      const entry = entries.get(connection)
      if (!entry) return
      this.clearEntry(entry)
      entries.delete(connection)
      if (entries.size === 0) this.proven.delete(peer)
    }
    this.changes.emit(peer)
  }

  /** Calls `listener` with a peer whenever its rights may have changed. */
  onChange(listener: (peer: PeerId) => void): () => void {
    return this.changes.add(listener)
  }

  /** Peers holding a verified proof now. */
  provenPeers(): PeerId[] {
    return [...this.proven.keys()]
  }

  /** Stops following revocations and drops every cached proof (the space was left). */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.stopRevoked()
    for (const entries of this.proven.values())
      for (const entry of entries.values()) this.clearEntry(entry)
    this.proven.clear()
    this.pending.clear()
  }

  /** A revocation holds: every proof of that key, or whose chain passes through it, is void. */
  private revoked(revocation: Revocation): void {
    for (const [peer, entries] of [...this.proven]) {
      for (const [connection, entry] of [...entries]) {
        const voided =
          bytesEqual(entry.subject, revocation.subject) ||
          entry.proof.chain.some(
            ({ grant }) =>
              bytesEqual(grant.subject, revocation.subject) ||
              bytesEqual(grant.issuer, revocation.subject),
          )
        if (voided) this.forget(peer, connection)
      }
    }
  }

  private expiryTimer(
    peer: PeerId,
    connection: string,
    expiresAt: number,
  ): ReturnType<typeof setTimeout> | undefined {
    if (expiresAt === 0) return undefined
    const delay = (expiresAt + CLOCK_SKEW_SECONDS) * 1000 - Date.now()
    if (delay > MAX_TIMER_MS) return undefined
    const timer = setTimeout(() => this.forget(peer, connection), Math.max(0, delay))
    ;(timer as { unref?: () => void }).unref?.()
    return timer
  }

  private clearEntry(entry: ProvenEntry | undefined): void {
    if (entry?.timer !== undefined) clearTimeout(entry.timer)
  }
}
