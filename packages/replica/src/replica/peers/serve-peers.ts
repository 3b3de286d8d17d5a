import { hashBytes, ReconcileSession } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId, PullMode, PullResult, SpaceHandlers } from '../../network/types.js'
import type { ReplicaComponents } from '../components.js'
import type { ChangeWriter } from '../state/change-writer.js'
import { logFailure } from '../tasks/log-failure.js'

/**
 * How this replica answers its peers' requests: pulls (states or digests), pushes (joined as
 * remote changes) and the responder side of reconciliations. A failure is logged here and
 * reported to the peer by the network (as `REMOTE_ERROR`, or `OVERLOADED` as itself).
 */
export function servePeers(components: ReplicaComponents, writer: ChangeWriter): SpaceHandlers {
  const logger = components.logger.child('serve')
  return {
    pull: (peer, keys, mode) =>
      logged(logger, 'pull', peer, () => servePull(components, keys, mode)),
    push: async (peer, states) => {
      // A peer's push (its handoff) is progress of this replica's sync too.
      await components.progress.receive(peer, states, () =>
        logged(logger, 'push', peer, () =>
          writer.join(states, 'remote', components.peers.originOf(peer)),
        ),
      )
    },
    reconcile: async (peer) => {
      components.ensureOpen()
      components.metrics.add('reconcile_sessions')
      return {
        session: new ReconcileSession(components.local.tree),
        statesFor: (keys) => components.local.statesFor(keys),
        accept: async (states) => {
          await components.progress.receive(peer, states, () =>
            logged(logger, 'reconciliation accept', peer, () =>
              writer.join(states, 'remote', components.peers.originOf(peer)),
            ),
          )
        },
      }
    },
  }
}

async function servePull(
  components: ReplicaComponents,
  keys: readonly string[],
  mode: PullMode,
): Promise<PullResult> {
  components.ensureOpen()
  const encoded = await components.local.encoded(keys)
  if (mode === 'state') return { mode, states: encoded }
  return { mode, digests: encoded.map((bytes) => (bytes === null ? null : hashBytes(bytes))) }
}

/** Runs `work`, logging its failure before it goes back to the peer. */
async function logged<T>(
  logger: Logger,
  request: string,
  peer: PeerId,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work()
  } catch (error) {
    logFailure(logger, `serving a ${request} failed`, error, { peer })
    throw error
  }
}
