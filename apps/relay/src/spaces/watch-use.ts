// A view of the network that tells the space directory when a private space is used: every
// inbound pull, push and reconciliation, every gossip message and every peer joining or leaving
// the space marks it used (not idle); a write refused by the space's quota is counted. It also
// reports how many peers of the space are connected, which keeps a space from closing as idle
// while a peer still syncs it.
import { isMendsyncError } from '@mendsync/core'
import type { Network, SpaceChannel, SpaceHandlers } from '@mendsync/replica/adapter'
import type { SpaceUse } from './space-directory.js'

/** A network whose joins report their use; see the top of this file. */
export interface WatchedNetwork {
  readonly network: Network
  /** Peers of the joined space connected now (none before the join and after the leave). */
  peers(): readonly string[]
}

/** Wraps `network` so the space joined through it reports to `use`. */
export function watchUse(network: Network, use: SpaceUse): WatchedNetwork {
  let channel: SpaceChannel | undefined
  const refusedByQuota = (error: unknown): never => {
    if (isMendsyncError(error, 'QUOTA_EXCEEDED')) use.quotaRefused()
    throw error
  }
  const watched = (handlers: SpaceHandlers): SpaceHandlers => ({
    pull: (peer, keys, mode) => {
      use.touched()
      return handlers.pull(peer, keys, mode)
    },
    push: (peer, states) => {
      use.touched()
      return handlers.push(peer, states).catch(refusedByQuota)
    },
    reconcile: async (peer) => {
      use.touched()
      const responder = await handlers.reconcile(peer)
      return {
        session: responder.session,
        statesFor: (keys) => responder.statesFor(keys),
        accept: (states) => responder.accept(states).catch(refusedByQuota),
      }
    },
  })
  return {
    network: {
      peerId: network.peerId,
      close: () => network.close(),
      join: async (space, handlers, options) => {
        const joined = await network.join(space, watched(handlers), options)
        const offs = [
          joined.on('gossip', () => use.touched()),
          joined.on('peer:connect', () => use.touched()),
          joined.on('peer:disconnect', () => use.touched()),
        ]
        channel = joined
        return {
          ...spread(joined),
          leave: async () => {
            for (const off of offs.splice(0)) off()
            channel = undefined
            await joined.leave()
          },
        }
      },
    },
    peers: () => channel?.peers() ?? [],
  }
}

/** The channel's methods bound to it (a channel may be a class instance). */
function spread(channel: SpaceChannel): SpaceChannel {
  return {
    space: channel.space,
    peers: () => channel.peers(),
    publish: (message) => channel.publish(message),
    pull: (peer, keys, mode, options) => channel.pull(peer, keys, mode, options),
    push: (peer, states, options) => channel.push(peer, states, options),
    reconcile: (peer, driver, options) => channel.reconcile(peer, driver, options),
    on: (event, listener) => channel.on(event, listener),
    leave: () => channel.leave(),
  }
}
