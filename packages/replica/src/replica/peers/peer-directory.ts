import type { ReplicaId } from '@mendsync/core'
import { BoundedMap } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'
import { MAX_KNOWN_PEERS } from '../constants.defaults.js'

/**
 * What gossip told this replica about each peer: the replica id behind its peer id and its last
 * reconciliation summary. Bounded to {@link MAX_KNOWN_PEERS} peers (gossip also names peers met
 * through a relay, which never disconnect from here).
 */
export class PeerDirectory {
  private readonly replicas = new BoundedMap<PeerId, ReplicaId>(MAX_KNOWN_PEERS)
  private readonly summaries = new BoundedMap<PeerId, Uint8Array>(MAX_KNOWN_PEERS)

  /** The replica id `peer` gossiped, if it did. */
  replicaOf(peer: PeerId): ReplicaId | undefined {
    return this.replicas.peek(peer)
  }

  /** The replica id of `peer` as the origin of states it sent (`''` when unknown). */
  originOf(peer: PeerId): ReplicaId {
    return this.replicas.peek(peer) ?? ''
  }

  /** The last summary `peer` gossiped, if any since it connected. */
  summaryOf(peer: PeerId): Uint8Array | undefined {
    return this.summaries.peek(peer)
  }

  /** Records what a gossip message of `peer` says about it. */
  heard(peer: PeerId, replica: ReplicaId, summary: Uint8Array): void {
    this.replicas.set(peer, replica)
    this.summaries.set(peer, summary)
  }

  /** `peer` disconnected: its summary is stale (its replica id stays known). */
  disconnected(peer: PeerId): void {
    this.summaries.delete(peer)
  }
}
