// One process of simulated peers for the relay benchmark (forked by relay.bench.ts, IPC), all
// connected to the relay only. Every writer writes its own key `w/<writer>` (a register, each
// write superseding the previous one through its context, so the key holds one value
// `{ seq, t }`) at a fixed rate. One observer per process, a full peer (replica on MemoryStorage
// over libp2p), records when other writers' writes become visible to it.
//
// Writers are either
// - `light` (default): a libp2p node with the mendsync network that pushes each write to the
//   relay over the push protocol (the relay's acknowledgement = the write is on its disk), and
//   neither gossips nor replicates (it leaves the space's topic), so one machine can run
//   hundreds of them and the figures are the relay's; the observer does not write;
// - `full`: full peers (replica, gossip, handoff, anti-entropy), every one also receiving every
//   other's writes; on one small machine the peers' own work dominates. The observer is the
//   process's first writer.
// Runs on the built packages (dist).

import { reportIgnored } from '@mendsync/bench'
import {
  type CausalValue,
  emptyValue,
  encodeValue,
  readRegister,
  writeRegister,
} from '@mendsync/core'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  spaceTopic,
} from '@mendsync/libp2p'
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'
import type { SpaceHandlers } from '@mendsync/replica/adapter'

interface Init {
  readonly op: 'init'
  readonly mode: 'light' | 'full'
  readonly relay: string
  readonly relayPeerId: string
  readonly space: string
  readonly writers: readonly number[]
  readonly rate: number
  readonly seconds: number
}

interface Writer {
  readonly index: number
  /** Performs one write of `{ seq, t }`; resolves when it is acknowledged (light) or stored (full). */
  write(value: { seq: number; t: number }): Promise<void>
  connected(): boolean
  close(): Promise<void>
  seq: number
  errors: number
}

const send = (message: Record<string, unknown>): void => {
  process.send?.(message)
}

let init: Init | undefined
const writers: Writer[] = []
let observer: { replica: Replica; index: number | null; close(): Promise<void> } | undefined
const latencies: number[] = []
/** Light writers: from a push to the relay's acknowledgement (its states on disk), ms. */
const acks: number[] = []
/** Highest seq the observer saw, per writer. */
const seen = new Map<number, number>()
let measuring = false
let drainWaiter: (() => void) | null = null
let finals: Map<number, number> | null = null

// The benchmark went away: so do its peers.
process.on('disconnect', () => process.exit(0))
process.on('message', (message: { op: string } & Record<string, unknown>) => {
  void handle(message).catch((error: unknown) => {
    send({ op: 'error', message: String((error as Error)?.stack ?? error) })
  })
})

async function handle(message: { op: string } & Record<string, unknown>): Promise<void> {
  switch (message.op) {
    case 'init':
      init = message as unknown as Init
      await startPeers(init)
      send({ op: 'ready' })
      return
    case 'start':
      await writePhase(init as Init, Number(message.at))
      send({
        op: 'written',
        finals: writers.map((writer) => [writer.index, writer.seq]),
        writeErrors: writers.reduce((sum, writer) => sum + writer.errors, 0),
      })
      return
    case 'drain': {
      finals = new Map(message.finals as [number, number][])
      const deadline = Number(message.deadline)
      await new Promise<void>((resolve) => {
        drainWaiter = resolve
        checkDrained()
        setTimeout(resolve, Math.max(0, deadline - Date.now()))
      })
      drainWaiter = null
      send({ op: 'drained', missing: missing(), latencies, acks })
      return
    }
    case 'close':
      await Promise.allSettled([...writers.map((writer) => writer.close()), observer?.close()])
      send({ op: 'closed' })
      process.exit(0)
  }
}

/** Writers whose last write the observer has not seen. */
function missing(): number {
  let count = 0
  for (const [writer, last] of finals ?? []) {
    if (writer === observer?.index) continue
    if ((seen.get(writer) ?? 0) < last) count += 1
  }
  return count
}

function checkDrained(): void {
  if (drainWaiter !== null && finals !== null && missing() === 0) drainWaiter()
}

async function startNetwork(options: Init): Promise<Libp2pNetwork> {
  const node = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: [],
    bootstrap: [options.relay],
  })
  return await createLibp2pNetwork(node, { stopNodeOnClose: true })
}

/** True once `network` is connected to the relay; dials it again when not (libp2p's bootstrap dials once). */
function relayLink(network: Libp2pNetwork, relayPeerId: string): () => boolean {
  const node = network.node
  let address: Parameters<typeof node.dial>[0] | undefined
  node.addEventListener('peer:discovery', (event) => {
    if (event.detail.id.toString() === relayPeerId) address = event.detail.multiaddrs
  })
  let lastDial = 0
  return () => {
    const connected = node
      .getConnections()
      .some((connection) => connection.remotePeer.toString() === relayPeerId)
    if (!connected && address !== undefined && Date.now() - lastDial > 3_000) {
      lastDial = Date.now()
      // Retried every 3 s while disconnected; each failure is said.
      node.dial(address).catch(reportIgnored(`dial of the relay at ${address}`))
    }
    return connected
  }
}

async function fullPeer(options: Init) {
  const network = await startNetwork(options)
  const link = relayLink(network, options.relayPeerId)
  const replica = await openReplica({
    space: options.space,
    storage: new MemoryStorage(),
    network,
    repair: 'none',
  })
  return {
    replica,
    // Ready once it is connected and knows the relay's replica (from its gossip).
    ready: () =>
      link() &&
      replica
        .status()
        .peers.some((peer) => peer.peer === options.relayPeerId && peer.replicaId !== undefined),
    async close() {
      await replica.close()
      await network.close()
    },
  }
}

const NO_HANDLERS: SpaceHandlers = {
  async pull(_peer, keys, mode) {
    const none = keys.map(() => null)
    return mode === 'digest' ? { mode, digests: none } : { mode, states: none }
  },
  async push() {},
  async reconcile() {
    throw new Error('a light writer does not reconcile')
  },
}

async function lightWriter(options: Init, index: number): Promise<Writer & { ready(): boolean }> {
  const network = await startNetwork(options)
  const link = relayLink(network, options.relayPeerId)
  const channel = await network.join(options.space, NO_HANDLERS)
  // Leave the topic: no gossip in or out, and the relay does not count it as a replica to feed.
  network.node.services.pubsub.unsubscribe(spaceTopic(options.space))
  const replicaId = `writer-${index}`
  let state: CausalValue = emptyValue()
  const key = `w/${index}`
  return {
    index,
    seq: 0,
    errors: 0,
    connected: link,
    ready: link,
    async write(value) {
      const next = writeRegister(state, { replica: replicaId }, value, readRegister(state).context)
      await channel.push(options.relayPeerId, [{ key, state: encodeValue(next.state) }], {
        timeoutMs: 10_000,
      })
      acks.push(Date.now() - value.t)
      state = next.state
    },
    async close() {
      await network.close()
    },
  }
}

async function startPeers(options: Init): Promise<void> {
  const pending: { ready(): boolean }[] = []
  if (options.mode === 'light') {
    const peer = await fullPeer(options)
    observer = { replica: peer.replica, index: null, close: peer.close }
    pending.push(peer)
    for (const index of options.writers) {
      const writer = await lightWriter(options, index)
      writers.push(writer)
      pending.push(writer)
    }
  } else {
    for (const index of options.writers) {
      const peer = await fullPeer(options)
      const key = `w/${index}`
      observer ??= { replica: peer.replica, index, close: async () => {} }
      writers.push({
        index,
        seq: 0,
        errors: 0,
        connected: peer.ready,
        async write(value) {
          const current = await peer.replica.get(key, { repair: 'none' })
          await peer.replica.put(key, value, current.context)
        },
        close: peer.close,
      })
      pending.push(peer)
    }
  }
  observer?.replica.subscribe({ prefix: 'w/' }, (change) => {
    if (change.origin === 'local') return
    const value = readRegister(change.state).value as { seq?: number; t?: number } | undefined
    if (typeof value?.seq !== 'number' || typeof value.t !== 'number') return
    const writer = Number(change.key.slice(2))
    if ((seen.get(writer) ?? 0) >= value.seq) return
    seen.set(writer, value.seq)
    if (measuring) latencies.push(Date.now() - value.t)
    checkDrained()
  })
  const deadline = Date.now() + 120_000
  for (;;) {
    const waiting = pending.filter((peer) => !peer.ready()).length
    if (waiting === 0) return
    if (Date.now() > deadline) throw new Error(`${waiting} peers never became ready`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function writePhase(options: Init, at: number): Promise<void> {
  const period = 1000 / options.rate
  const end = at + options.seconds * 1000
  measuring = true
  await Promise.all(
    writers.map(async (writer) => {
      // Spread the writers over the period instead of writing in lockstep.
      let next = at + ((writer.index * 7919) % 1000) * (period / 1000)
      // Bounded by the clock, not by a count: a writer that falls behind writes less (the
      // sustained rate shows it) instead of running past the end.
      while (next < end && Date.now() < end) {
        const wait = next - Date.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        try {
          await writer.write({ seq: writer.seq + 1, t: Date.now() })
          writer.seq += 1
        } catch {
          writer.errors += 1
        }
        next += period
      }
    }),
  )
}
