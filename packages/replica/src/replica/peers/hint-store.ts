import type { Dot } from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'

/** One peer's claim that it holds `dots` for a key, first heard at `since`. */
export interface PeerHint {
  readonly dots: readonly Dot[]
  readonly since: number
}

/**
 * What gossip told this replica: for each key, which peers hold dots for it. A read checks the
 * hints against its local state to know whom to pull from. Bounded: past `maxKeys` keys the
 * stalest key's hints are dropped (anti-entropy still finds that divergence).
 */
export class HintStore {
  private readonly hints: BoundedMap<string, Map<PeerId, PeerHint>>

  constructor(maxKeys: number) {
    this.hints = new BoundedMap(maxKeys)
  }

  add(key: string, peer: PeerId, dots: readonly Dot[], now: number): void {
    const peers = this.hints.peek(key) ?? new Map<PeerId, PeerHint>()
    const previous = peers.get(peer)
    peers.set(peer, { dots, since: previous?.since ?? now })
    // Setting refreshes the key, so eviction takes the stalest one.
    this.hints.set(key, peers)
  }

  /** The hints for `key`, by peer. */
  get(key: string): ReadonlyMap<PeerId, PeerHint> | undefined {
    return this.hints.peek(key)
  }

  /** Forgets what `peer` claimed for `key` (its state was pulled, or it is no longer ahead). */
  settle(key: string, peer: PeerId): void {
    const peers = this.hints.peek(key)
    if (peers === undefined) return
    peers.delete(peer)
    if (peers.size === 0) this.hints.delete(key)
  }

  /** Forgets every hint of `peer`. */
  forgetPeer(peer: PeerId): void {
    for (const [key, peers] of [...this.hints.entriesOldestFirst()]) {
      peers.delete(peer)
      if (peers.size === 0) this.hints.delete(key)
    }
  }

  get size(): number {
    return this.hints.size
  }
}
