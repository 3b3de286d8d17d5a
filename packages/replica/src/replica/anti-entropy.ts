import { ReconcileSession, summariesEqual } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId, ReconcileSessionLike } from '../network/types.js'
import type { ReplicaComponents } from './components.js'
import type { Handoff } from './handoff/handoff.js'
import { keysToReceive } from './progress/keys-to-receive.js'
import { observedSession } from './progress/observed-session.js'
import { type ProgressExchange, stateBytes } from './progress/sync-progress.js'
import type { ChangeWriter } from './state/change-writer.js'
import { logFailure } from './tasks/log-failure.js'

/**
 * Anti-entropy: reconciles with a peer whose gossiped summary differs from ours (once the
 * mismatch outlasted `reconcileDelayMs`), on every periodic tick, on an outbox overflow and on
 * `sync()`. One session per peer at a time; a failure is counted and logged, never thrown.
 */
export class AntiEntropy {
  private readonly components: ReplicaComponents
  private readonly writer: ChangeWriter
  private readonly handoff: Handoff
  private readonly logger: Logger
  private readonly running = new Set<PeerId>()
  /** Peers whose summary mismatch is waiting out `reconcileDelayMs`. */
  private readonly pendingChecks = new Set<PeerId>()

  private readonly onReconciled: (replica: string, startedAt: number) => void

  /** @param onReconciled a reconciliation this replica started with `replica` finished. */
  constructor(
    components: ReplicaComponents,
    writer: ChangeWriter,
    handoff: Handoff,
    onReconciled: (replica: string, startedAt: number) => void,
  ) {
    this.components = components
    this.onReconciled = onReconciled
    this.writer = writer
    this.handoff = handoff
    this.logger = components.logger.child('anti-entropy')
  }

  /** Peers a reconciliation is running with. */
  reconciling(): PeerId[] {
    return [...this.running]
  }

  /** Whether `peer`'s last gossiped summary is unknown or differs from ours. */
  differs(peer: PeerId): boolean {
    const summary = this.components.peers.summaryOf(peer)
    return summary === undefined || !summariesEqual(summary, this.components.local.tree.summary())
  }

  /** Reconciles with `peer` if its summary still differs from ours after `reconcileDelayMs`. */
  reconcileIfStillDiffering(peer: PeerId): void {
    if (this.pendingChecks.has(peer)) return
    this.pendingChecks.add(peer)
    this.components.tasks.after(this.components.options.reconcileDelayMs, () => {
      this.pendingChecks.delete(peer)
      if (this.components.peers.summaryOf(peer) !== undefined && this.differs(peer))
        this.start(peer)
    })
  }

  /** Starts a reconciliation with `peer` in the background. */
  start(peer: PeerId): void {
    this.components.tasks.run('reconciliation', this.reconcileWith(peer), { peer })
  }

  /** The periodic tick: reconcile with every differing peer, deliver every pending handoff. */
  tick(): void {
    for (const peer of this.components.channel()?.peers() ?? []) {
      if (this.differs(peer)) this.start(peer)
      this.handoff.trigger(peer)
    }
  }

  /**
   * Delivers every pending handoff and reconciles with each differing peer; waits for both. A
   * peer with work to do is one exchange of the sync progress for the whole of it (so the round
   * does not end between its delivery and its reconciliation); with nothing to do, no round starts.
   */
  async syncAll(): Promise<void> {
    const { components } = this
    const summary = components.local.tree.summary()
    await Promise.all(
      (components.channel()?.peers() ?? []).map(async (peer) => {
        const known = components.peers.summaryOf(peer)
        const differs = known === undefined || !summariesEqual(known, summary)
        const replica = components.peers.replicaOf(peer)
        const owed =
          components.options.handoff &&
          replica !== undefined &&
          components.log.outboxSize(replica) > 0
        // Nothing owed may still move the cursor; the delivery reports itself if it pushes.
        if (!differs && !owed) return await this.handoff.deliver(peer)
        const exchange = components.progress.begin(peer)
        try {
          await this.handoff.deliver(peer)
          if (differs) await this.reconcileWith(peer)
        } finally {
          exchange.end()
        }
      }),
    )
  }

  /** One reconciliation with `peer` (none when one is already running with it). */
  private async reconcileWith(peer: PeerId): Promise<void> {
    const { components } = this
    const channel = components.channel()
    if (this.running.has(peer) || channel === undefined || components.tasks.isStopped) return
    // Gossip also arrives from peers met only through a relay; reconcile runs over a direct link.
    if (!channel.peers().includes(peer)) return
    this.running.add(peer)
    const headAtStart = components.log.committedSeq
    const startedAt = components.now()
    const exchange = components.progress.begin(peer)
    try {
      components.metrics.add('reconcile_sessions')
      const outcome = await channel.reconcile(peer, {
        session: this.observed(peer, exchange),
        statesFor: (keys) => components.local.statesFor(keys),
        onStates: (states) => exchange.arrived(stateBytes(states)),
      })
      exchange.expect(outcome.received.length)
      await this.writer.join(outcome.received, 'remote', components.peers.originOf(peer))
      exchange.joined(outcome.received)
      components.metrics.add('reconcile_rounds', outcome.rounds)
      components.metrics.add('reconcile_bytes', outcome.bytesSent + outcome.bytesReceived)
      const replica = components.peers.replicaOf(peer)
      if (replica !== undefined) this.onReconciled(replica, startedAt)
      if (replica !== undefined && components.log.isTracked(replica)) {
        await components.storage.write({
          meta: components.log.acknowledge(replica, headAtStart),
          durability: 'relaxed',
        })
      }
    } catch (error) {
      components.metrics.add('reconcile_failures')
      logFailure(this.logger, 'a reconciliation failed', error, { peer })
    } finally {
      exchange.end()
      this.running.delete(peer)
    }
  }

  /** A session over the local tree that tells `exchange` how many keys to expect once it settles. */
  private observed(peer: PeerId, exchange: ProgressExchange): ReconcileSessionLike {
    const tree = this.components.local.tree
    const localCount = tree.size
    return observedSession(new ReconcileSession(tree), (differing) => {
      try {
        const expected = keysToReceive(
          this.components.peers.summaryOf(peer),
          localCount,
          differing.length,
        )
        if (expected !== undefined) exchange.expect(expected)
      } catch (error) {
        // A summary that does not decode only leaves the count unknown until the states arrive.
        this.logger.debug('no key estimate from the peer summary', { peer, error })
      }
    })
  }
}
