// How the relay opens one private space: its file storage in the spaces directory, kept serving
// through a full disk by a SpaceGuard (as the named spaces are), a replica with the relay's
// tunables and the per-space quota, joined to the network as a private space whose verifier is
// built from the descriptor (the relay holds no grant: it serves and verifies, and the replica
// loads the space's revocation records into that verifier).
//
// This is the one place that ties the space directory to the replica and the network.
import { openReplica, type Replica, type ReplicaTunables, type SpaceQuota } from '@mendsync/replica'
import type { Network } from '@mendsync/replica/adapter'
import type { RelayLogger } from '../log.js'
import { SpaceGuard } from '../space-guard.js'
import type { ServedSpace, SpaceOpener } from './space-directory.js'
import { watchUse } from './watch-use.js'

/** Inputs of {@link privateSpaceOpener}. */
export interface PrivateSpaceOpenerOptions {
  /** The directory of the spaces' files (the named spaces' too). */
  readonly directory: string
  readonly network: Network
  /** Engine tunables of every space (the relay's `replica` option). */
  readonly tunables: Partial<ReplicaTunables>
  readonly quota: SpaceQuota
  readonly log: RelayLogger
}

/** The opener the space directory calls for each private space. */
export function privateSpaceOpener(options: PrivateSpaceOpenerOptions): SpaceOpener {
  const { directory, network, tunables, quota, log } = options
  const replicaLog = log.child('replica')
  return async (spaceId, descriptor, use): Promise<ServedSpace> => {
    const watched = watchUse(network, use)
    let current: Replica | undefined
    const guard = await SpaceGuard.open({
      space: spaceId,
      directory,
      network: watched.network,
      openReplica: (storage, guarded) =>
        openReplica({
          ...tunables,
          space: spaceId,
          storage,
          network: guarded,
          access: { descriptor },
          quota,
          logger: replicaLog.child(spaceId),
        }),
      onReplica: (replica) => {
        current = replica
      },
      log,
    })
    return {
      replica: () => current,
      peers: () => watched.peers(),
      close: () => guard.close(),
    }
  }
}
