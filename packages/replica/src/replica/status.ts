import { summariesEqual } from '@mendsync/core'
import type { AntiEntropy } from './anti-entropy.js'
import type { ReplicaComponents } from './components.js'
import type { GcStatus } from './gc/index.js'
import type { ReadRepairer } from './repair/read-repair.js'
import type { PeerStatus, ReplicaStatus } from './types.js'

/** The snapshot `Replica.status()` returns. */
export function replicaStatus(
  components: ReplicaComponents,
  repairer: ReadRepairer,
  antiEntropy: AntiEntropy,
  peerId: string | undefined,
  gc: GcStatus,
): ReplicaStatus {
  const breakers = repairer.breakerStates()
  const tree = components.local.tree
  const summary = tree.summary()
  const channel = components.channel()
  const peers = (channel?.peers() ?? []).map((peer): PeerStatus => {
    const replicaId = components.peers.replicaOf(peer)
    const peerSummary = components.peers.summaryOf(peer)
    return {
      peer,
      replicaId,
      breaker: breakers.get(peer) ?? 'closed',
      outbox: replicaId === undefined ? 0 : components.log.outboxSize(replicaId),
      summary: peerSummary,
      inSync: peerSummary !== undefined && summariesEqual(peerSummary, summary),
    }
  })
  return {
    space: components.space,
    replicaId: components.replicaId(),
    peerId,
    online: channel !== undefined,
    peers,
    versionVector: new Map(components.versionVector()),
    summary,
    keys: tree.size,
    outbox: components.log.totalOutbox(),
    reconciling: antiEntropy.reconciling(),
    gc,
    progress: components.progress.snapshot(),
  }
}
