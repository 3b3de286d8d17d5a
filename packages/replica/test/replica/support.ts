import { MendsyncError } from '@mendsync/core'
import {
  MemoryStorage,
  MemoryStore,
  openReplica,
  type Replica,
  type ReplicaOptions,
} from '@mendsync/replica'
import type { Network, PeerId, SpaceChannel, Storage } from '@mendsync/replica/adapter'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'

/** Which calls of a wrapped channel fail, decided per call by the test. */
export interface Faults {
  /** Fail this replica's outgoing pushes (hinted handoff, write-back). */
  dropPush?: boolean
  /** Never answer (hang until the deadline) pulls this replica sends. */
  hangPull?: boolean
  /** Fail this many of the next pulls as a dropped connection does (`NETWORK_CLOSED`). */
  failPulls?: number
  /** Called at every pull, which waits for the returned promise, then fails as a dropped connection. */
  dropPullAfter?: () => Promise<void>
  /** Fail this replica's outgoing reconciliations. */
  dropReconcile?: boolean
  /** Fail this replica's gossip publishes. */
  dropPublish?: boolean
}

/** Counts of the calls a replica made through its channel. */
export interface CallCounts {
  pull: number
  push: number
  reconcile: number
}

/** Wraps a network so a test can count and fail the calls the replica makes. */
export function instrument(network: Network, faults: Faults, counts: CallCounts): Network {
  return {
    get peerId() {
      return network.peerId
    },
    close: () => network.close(),
    async join(space, handlers, options) {
      const channel = await network.join(space, handlers, options)
      const wrapped: SpaceChannel = {
        space: channel.space,
        peers: () => channel.peers(),
        async publish(message) {
          if (faults.dropPublish) throw new Error('publish dropped by the test')
          return channel.publish(message)
        },
        on: (event, listener) => channel.on(event, listener),
        leave: () => channel.leave(),
        async pull(peer, keys, mode, callOptions) {
          counts.pull += 1
          if (faults.dropPullAfter !== undefined) await faults.dropPullAfter()
          if (faults.dropPullAfter !== undefined || (faults.failPulls ?? 0) > 0) {
            faults.failPulls = Math.max(0, (faults.failPulls ?? 0) - 1)
            throw new MendsyncError('NETWORK_CLOSED', 'connection dropped by the test')
          }
          if (faults.hangPull) {
            // A peer that never answers: the call fails only at its deadline, as on a real network.
            const deadline = callOptions?.timeoutMs ?? 10_000
            return new Promise((_, reject) =>
              setTimeout(() => reject(new Error('no answer')), deadline),
            )
          }
          return channel.pull(peer, keys, mode, callOptions)
        },
        async push(peer, states, callOptions) {
          counts.push += 1
          if (faults.dropPush) throw new Error('push dropped by the test')
          return channel.push(peer, states, callOptions)
        },
        async reconcile(peer, driver, callOptions) {
          counts.reconcile += 1
          if (faults.dropReconcile) throw new Error('reconcile dropped by the test')
          return channel.reconcile(peer, driver, callOptions)
        },
      }
      return wrapped
    },
  }
}

/** One replica of a test cluster with its knobs. */
export interface Node {
  replica: Replica
  readonly store: MemoryStore
  readonly faults: Faults
  readonly counts: CallCounts
  readonly peerId: PeerId
}

/** Replicas of one space on one in-process hub, each on its own memory storage. */
export class Cluster {
  readonly hub: InProcessHub = createInProcessHub()
  readonly nodes: Node[] = []

  async add(
    options: Partial<ReplicaOptions> & {
      wrapStorage?: (storage: Storage) => Storage
      /** Faults armed before the replica opens (it gossips as it joins). */
      faults?: Faults
    } = {},
  ): Promise<Node> {
    const {
      wrapStorage = (storage: Storage) => storage,
      faults: armed,
      ...replicaOptions
    } = options
    const store = new MemoryStore()
    const faults: Faults = { ...armed }
    const counts: CallCounts = { pull: 0, push: 0, reconcile: 0 }
    const network = this.hub.createNetwork()
    const replica = await openReplica({
      space: 'test',
      storage: wrapStorage(new MemoryStorage({ store })),
      network: instrument(network, faults, counts),
      ...replicaOptions,
    })
    const node: Node = { replica, store, faults, counts, peerId: network.peerId }
    this.nodes.push(node)
    return node
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.replica.close()))
  }
}

/** Resolves when `replica` persisted a change of `key` satisfying `accept` (checks now first). */
export async function changed(
  replica: Replica,
  key: string,
  accept: () => Promise<boolean>,
): Promise<void> {
  if (await accept()) return
  await new Promise<void>((resolve) => {
    const stop = replica.subscribe(key, () => {
      void accept().then((ok) => {
        if (ok) {
          stop()
          resolve()
        }
      })
    })
  })
}

/** Resolves once `condition` holds, checked now and after every metric change of `replica`. */
export function until(replica: Replica, condition: () => boolean): Promise<void> {
  if (condition()) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = replica.onMetric(() => {
      if (condition()) {
        stop()
        resolve()
      }
    })
  })
}

/** Resolves when `node` knows `peer` by gossip (its status lists the peer with a replica id). */
export function knows(node: Node, peer: Node): Promise<void> {
  return until(node.replica, () =>
    node.replica.status().peers.some((p) => p.peer === peer.peerId && p.replicaId !== undefined),
  )
}

/** Resolves when `node` has received `peer`'s current summary by gossip (so its latest hints). */
export function heardLatest(node: Node, peer: Node): Promise<void> {
  const equal = (x: Uint8Array | undefined, y: Uint8Array) =>
    x !== undefined && x.length === y.length && x.every((byte, i) => byte === y[i])
  return until(node.replica, () =>
    node.replica
      .status()
      .peers.some((p) => p.peer === peer.peerId && equal(p.summary, peer.replica.status().summary)),
  )
}
