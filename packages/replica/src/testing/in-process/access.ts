// Access enforcement of one in-process channel: the allowlist of an open space, or, in a private
// space, the proofs linked peers presented (verified once per link with the rights cache the
// libp2p network uses). The same rules as the libp2p network for calls and gossip.
import { MendsyncError } from '@mendsync/core'
import { READ } from '@mendsync/core/access'
import { describeError, type Logger } from '@mendsync/core/toolbox'
import { SpaceAccessCache } from '../../network/space-access.js'
import type { JoinOptions, PeerId } from '../../network/types.js'

/** Who may take part in one channel's space, and what each peer may do there. */
export class ChannelAccess {
  private readonly allow: ReadonlySet<PeerId> | null
  /** The proofs linked peers showed, for a private space; `null` for an open space. */
  readonly cache: SpaceAccessCache | null
  /** Linked peers whose proof was presented to this channel (once per link, as on libp2p). */
  private readonly presented = new Set<PeerId>()

  private readonly space: string
  private readonly logger: Logger

  constructor(options: JoinOptions | undefined, space: string, logger: Logger) {
    this.space = space
    this.logger = logger
    this.allow = options?.allow ? new Set(options.allow) : null
    this.cache = options?.access
      ? new SpaceAccessCache(options.access, logger.child(space).child('access'))
      : null
  }

  /** Calls `listener` whenever a peer's rights change (private spaces only). */
  onChange(listener: () => void): void {
    this.cache?.onChange(listener)
  }

  /** Whether `peer` may take part: on the allowlist, or (private) trusted or proved read. */
  allows(peer: PeerId): boolean {
    if (this.cache) return this.cache.can(peer, READ)
    return this.allow === null || this.allow.has(peer)
  }

  /** Whether `peer` holds `right` now (always, in an open space). */
  can(peer: PeerId, right: number): boolean {
    return this.cache === null || this.cache.can(peer, right)
  }

  /**
   * Resolves when `peer` may do what needs `right` here; `ACCESS_DENIED` otherwise (the same
   * rules as the libp2p network: allowlist, or the proof the peer showed, re-checked now).
   */
  async authorize(peer: PeerId, right: number, refusal: string): Promise<void> {
    if (this.cache) {
      await this.cache.require(peer, right)
      return
    }
    if (!this.allows(peer)) throw new MendsyncError('ACCESS_DENIED', refusal)
  }

  /** Whether gossip signed by `origin` and forwarded by `forwarder` is accepted here. */
  acceptsGossip(origin: PeerId, forwarder: PeerId): boolean {
    return this.cache ? this.cache.acceptsGossip(origin, forwarder) : this.allows(origin)
  }

  /** Whether this channel forwards gossip of `origin` it holds (from `from`) to `to`. */
  forwardsTo(to: PeerId, origin: PeerId, from: PeerId): boolean {
    if (this.cache) return this.cache.can(to, READ)
    return from !== origin || this.allows(to)
  }

  /**
   * Presents `remote`'s proof to this channel, once per link: the in-process form of the access
   * exchange (this channel verifies it against the remote's peer id).
   */
  present(peer: PeerId, remote: ChannelAccess): void {
    const cache = this.cache
    const proof = remote.cache?.proof
    if (!cache || !proof || this.presented.has(peer)) return
    this.presented.add(peer)
    const exchange = cache.record(peer, 'link', proof).catch((error: unknown) => {
      this.logger.debug('a presented proof was refused', {
        peer,
        space: this.space,
        error: describeError(error),
      })
    })
    cache.track(peer, exchange)
  }

  /** The link to `peer` went down: what it proved over the link is forgotten. */
  linkDown(peer: PeerId): void {
    this.presented.delete(peer)
    this.cache?.forget(peer)
  }

  close(): void {
    this.cache?.close()
  }
}
