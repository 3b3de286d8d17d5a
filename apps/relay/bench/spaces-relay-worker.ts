// The relay of `pnpm bench:spaces` in its own process (forked with IPC and --expose-gc, so its
// memory is its own): startRelay with private spaces on, answering the bench's questions.
//
// `present` stands in for the network's onSpaceRequested (contract 2) until the network calls it
// when a device presents its proof: it calls the hook the relay hands the network. Once the
// network does, the bench's devices trigger the opens by joining, and `present` only waits for
// `privateSpaces.open()` to list the space.
import { type RelayHandle, startRelay } from '../dist/index.js'

/** The first message. */
export interface WorkerInit {
  readonly op: 'init'
  readonly dataDir: string
  readonly maxOpenSpaces: number
}

/** The questions the bench asks, each answered by `{ op: 'reply', id, ... }`. */
export type WorkerRequest =
  | {
      readonly op: 'present'
      readonly id: number
      readonly spaceId: string
      readonly owner: string
      readonly name: string
      readonly peer: string
    }
  | { readonly op: 'memory'; readonly id: number }
  | { readonly op: 'stats'; readonly id: number }
  | { readonly op: 'stop'; readonly id: number }

let relay: RelayHandle | undefined
const send = (message: Record<string, unknown>): void => {
  process.send?.(message)
}

process.on('disconnect', () => process.exit(0))
process.on('message', (message: WorkerInit | WorkerRequest) => {
  void handle(message).catch((error: unknown) => {
    send({ op: 'error', message: String((error as Error)?.stack ?? error) })
  })
})

async function handle(message: WorkerInit | WorkerRequest): Promise<void> {
  if (message.op === 'init') {
    relay = await startRelay({
      dataDir: message.dataDir,
      port: 0,
      metrics: false,
      logLevel: 'warn',
      maxOpenSpaces: message.maxOpenSpaces,
      // The bench closes spaces by opening more (LRU), not by waiting.
      spaceIdleMs: 3_600_000,
      // One device creates every space of the run.
      newSpacesPerSecond: 1_000_000,
      maxConnections: 100,
    })
    send({ op: 'ready', address: relay.multiaddrs[0], peerId: relay.peerId })
    return
  }
  const started = relay
  if (started?.privateSpaces === undefined) throw new Error('the relay has not started')
  switch (message.op) {
    case 'present': {
      const served = await started.privateSpaces.request({
        spaceId: message.spaceId,
        space: { owner: Uint8Array.from(Buffer.from(message.owner, 'hex')), name: message.name },
        peer: message.peer,
      })
      send({ op: 'reply', id: message.id, served })
      return
    }
    case 'memory': {
      // Twice: the first collection finalises what the second frees.
      globalThis.gc?.()
      globalThis.gc?.()
      const usage = process.memoryUsage()
      send({ op: 'reply', id: message.id, rss: usage.rss, heapUsed: usage.heapUsed })
      return
    }
    case 'stats':
      send({ op: 'reply', id: message.id, stats: started.privateSpaces.stats() })
      return
    case 'stop':
      await started.stop()
      send({ op: 'reply', id: message.id })
      return
  }
}
