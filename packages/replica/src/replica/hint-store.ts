import type { Dot } from '@mendsync/core'
import type { PeerId } from '../network/types.js'

/** One peer's claim that it holds `dots` for a key, first heard at `since`. */
export interface PeerHint {
  readonly dots: readonly Dot[]
  readonly since: number
}

/**
 * What gossip told this replica: for each key, which peers hold dots for it. A read checks the
 * hints against its local state to know whom to pull from. Bounded: past `maxKeys` keys the
 * oldest key's hints are dropped (anti-entropy still finds that divergence).
 */
export class HintStore {
  private readonly hints = new Map<string, Map<PeerId, PeerHint>>()
  private readonly maxKeys: number

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys
  }

  add(key: string, peer: PeerId, dots: readonly Dot[], now: number): void {
    let peers = this.hints.get(key)
    if (peers === undefined) {
      peers = new Map()
    } else {
      // Re-insert so Map order tracks recency and eviction takes the stalest key.
      this.hints.delete(key)
    }
    const previous = peers.get(peer)
    peers.set(peer, { dots, since: previous?.since ?? now })
    this.hints.set(key, peers)
    if (this.hints.size > this.maxKeys) {
      const oldest = this.hints.keys().next().value as string
      this.hints.delete(oldest)
    }
  }

  /** The hints for `key`, by peer. */
  get(key: string): ReadonlyMap<PeerId, PeerHint> | undefined {
    return this.hints.get(key)
  }

  /** Forgets what `peer` claimed for `key` (its state was pulled, or it is no longer ahead). */
  settle(key: string, peer: PeerId): void {
    const peers = this.hints.get(key)
    if (peers === undefined) return
    peers.delete(peer)
    if (peers.size === 0) this.hints.delete(key)
  }

  /** Forgets every hint of `peer`. */
  forgetPeer(peer: PeerId): void {
    for (const [key, peers] of this.hints) {
      peers.delete(peer)
      if (peers.size === 0) this.hints.delete(key)
    }
  }

  get size(): number {
    return this.hints.size
  }
}
