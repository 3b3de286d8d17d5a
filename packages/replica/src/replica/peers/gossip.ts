import { type CausalValue, type Dot, summariesEqual, valueFrontier } from '@mendsync/core'
import { BoundedMap, type Logger } from '@mendsync/core/toolbox'
import type { GossipMessage, PeerId } from '../../network/types.js'
import type { AntiEntropy } from '../anti-entropy.js'
import type { ReplicaComponents } from '../components.js'
import { MAX_HINTS_PER_GOSSIP } from '../constants.defaults.js'
import type { Handoff } from '../handoff/handoff.js'

/**
 * Gossip: publishes this replica's version vector, summary and the hints of recently changed
 * keys (debounced after a change, periodically otherwise), and takes in peers' gossip: their
 * replica ids, summaries and hints, starting handoff and, if the summaries differ, anti-entropy.
 */
export class Gossip {
  private readonly components: ReplicaComponents
  private readonly handoff: Handoff
  private readonly antiEntropy: AntiEntropy
  private readonly logger: Logger
  /** The most recently changed keys and their dots, for the next message. */
  private readonly recentHints = new BoundedMap<string, Dot[]>(MAX_HINTS_PER_GOSSIP)
  private scheduled = false

  constructor(components: ReplicaComponents, handoff: Handoff, antiEntropy: AntiEntropy) {
    this.components = components
    this.handoff = handoff
    this.antiEntropy = antiEntropy
    this.logger = components.logger.child('gossip')
  }

  /** A change was persisted: hint it in the next message, sent within `delayMs`. */
  changed(key: string, state: CausalValue, delayMs: number): void {
    // Deleting first moves the key to the newest end, so the oldest hint is the one dropped.
    this.recentHints.delete(key)
    this.recentHints.set(key, valueFrontier(state))
    this.schedule(delayMs)
  }

  /** Publishes a message after `delayMs` (one message for every call until it goes out). */
  schedule(delayMs: number): void {
    const { components } = this
    if (this.scheduled || components.channel() === undefined || components.tasks.isStopped) return
    this.scheduled = true
    components.tasks.after(delayMs, () => {
      this.scheduled = false
      const hints = [...this.recentHints.entriesOldestFirst()].map(([key, dots]) => ({ key, dots }))
      this.recentHints.clear()
      const message: GossipMessage = {
        replicaId: components.replicaId(),
        versionVector: components.versionVector(),
        summary: components.local.tree.summary(),
        hints,
      }
      components.metrics.add('gossip_sent')
      components.tasks.run('gossip publish', components.channel()?.publish(message))
    })
  }

  /** Takes in a validated gossip message that `peer` originated. */
  received(peer: PeerId, message: GossipMessage): void {
    const { components } = this
    if (components.tasks.isStopped) return
    components.peers.heard(peer, message.replicaId, message.summary)
    // Handoff reaches only directly connected peers; gossip also names peers met through a
    // relay, whose outbox could never drain.
    const direct = components.channel()?.peers().includes(peer) ?? false
    if (direct && !components.log.isTracked(message.replicaId)) {
      this.logger.debug('tracking a new peer for handoff', { peer, replica: message.replicaId })
      components.tasks.run(
        'tracking a peer for handoff',
        components.storage.write({ meta: components.log.track(message.replicaId) }),
        { peer },
      )
    }
    const now = components.now()
    for (const hint of message.hints) components.hints.add(hint.key, peer, hint.dots, now)
    if (!summariesEqual(message.summary, components.local.tree.summary())) {
      this.antiEntropy.reconcileIfStillDiffering(peer)
    }
    this.handoff.trigger(peer)
    components.metrics.add('gossip_received')
  }
}
