import { isMendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'
import type { ReplicaComponents } from '../components.js'
import { HANDOFF_CHUNK } from '../constants.defaults.js'
import type { ProgressExchange } from '../progress/sync-progress.js'
import { logFailure } from '../tasks/log-failure.js'

/**
 * Hinted handoff: pushes each directly connected peer the changes it has not acknowledged, in
 * chunks of {@link HANDOFF_CHUNK} keys, retrying a failed push with backoff. A peer whose cursor
 * fell off the bounded change log reconciles instead (`onOverflow`).
 */
export class Handoff {
  private readonly components: ReplicaComponents
  private readonly onOverflow: (peer: PeerId) => void
  private readonly logger: Logger
  /** Peers a delivery is running for (one at a time per peer). */
  private readonly delivering = new Set<PeerId>()

  /** @param onOverflow starts a reconciliation with a peer the log can no longer bring up to date. */
  constructor(components: ReplicaComponents, onOverflow: (peer: PeerId) => void) {
    this.components = components
    this.onOverflow = onOverflow
    this.logger = components.logger.child('handoff')
  }

  /** Starts a delivery to `peer` in the background. */
  trigger(peer: PeerId): void {
    this.components.tasks.run('handoff', this.deliver(peer), { peer })
  }

  /** Delivers `peer`'s pending changes; an overflowed outbox reconciles instead. */
  async deliver(peer: PeerId): Promise<void> {
    const { components } = this
    const { log, options, metrics } = components
    const replica = components.peers.replicaOf(peer)
    const channel = components.channel()
    if (!options.handoff || replica === undefined || channel === undefined) return
    if (this.delivering.has(peer) || components.tasks.isStopped || !log.isTracked(replica)) return
    this.delivering.add(peer)
    // The delivery is an exchange of the sync progress from its first push on (it sends, so it
    // adds no keys to receive; it keeps the round active and lists the peer).
    let exchange: ProgressExchange | undefined
    try {
      for (let attempt = 0; ; ) {
        const pending = log.pending(replica, HANDOFF_CHUNK)
        if (pending.overflowed) {
          metrics.add('handoff_overflows')
          this.logger.debug('the outbox overflowed; reconciling instead', { peer, replica })
          this.onOverflow(peer)
          return
        }
        // Nothing committed is owed (changes in flight re-trigger handoff once they commit).
        if (pending.upTo <= pending.acknowledged) return
        try {
          if (pending.keys.length > 0) {
            exchange ??= components.progress.begin(peer)
            await channel.push(peer, await components.local.statesFor(pending.keys))
          }
          // Relaxed: a cursor lost to a power failure only re-sends changes the peer has.
          await components.storage.write({
            meta: log.acknowledge(replica, pending.upTo),
            durability: 'relaxed',
          })
          metrics.add('handoff_delivered', pending.keys.length)
          metrics.set('outbox_size', log.totalOutbox())
          attempt = 0
        } catch (error) {
          if (components.tasks.isStopped || isMendsyncError(error, 'CLOSED')) {
            this.logger.debug('handoff stopped: the replica or channel closed', { peer, error })
            return
          }
          attempt += 1
          const context = { peer, keys: pending.keys.length, attempt }
          if (attempt >= options.retryAttempts) {
            logFailure(this.logger, 'handoff gave up until the next trigger', error, context)
            return
          }
          logFailure(this.logger, 'a handoff push failed; retrying', error, context)
          await components.tasks.sleep(options.retryBaseMs * 2 ** (attempt - 1))
        }
      }
    } finally {
      exchange?.end()
      this.delivering.delete(peer)
    }
  }
}
