// The convergence checker must be able to fail: run against deliberately broken components, it
// finds a counterexample (and shows what went wrong).
import { MemoryStorage, type MemoryStore } from '@mendsync/replica'
import type {
  Mutation,
  Namespace,
  Network,
  ScanOptions,
  Storage,
  WriteBatch,
} from '@mendsync/replica/adapter'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { convergenceProperty } from './property.js'

/** A storage that acknowledges writes but loses the last batch when it is closed (no fsync). */
class ForgetfulStorage implements Storage {
  private readonly inner: MemoryStorage
  private undo: WriteBatch | undefined

  constructor(store: MemoryStore) {
    this.inner = new MemoryStorage({ store })
  }

  get(namespace: Namespace, keys: readonly string[]) {
    return this.inner.get(namespace, keys)
  }

  scan(options: ScanOptions) {
    return this.inner.scan(options)
  }

  async write(batch: WriteBatch): Promise<void> {
    const previous = async (namespace: Namespace, mutations: readonly Mutation[] = []) => {
      const old = await this.inner.get(
        namespace,
        mutations.map((m) => m.key),
      )
      return mutations.map((m, i) => ({ key: m.key, value: old[i] ?? null })).reverse()
    }
    const undo = {
      values: await previous('values', batch.values),
      meta: await previous('meta', batch.meta),
    }
    await this.inner.write(batch)
    this.undo = undo
  }

  async close(): Promise<void> {
    const undo = this.undo
    this.undo = undefined
    if (undo !== undefined) await this.inner.write(undo)
    await this.inner.close()
  }
}

/** A network whose reconciliations report success but exchange nothing. */
function hollowReconcile(network: Network): Network {
  return {
    get peerId() {
      return network.peerId
    },
    close: () => network.close(),
    async join(space, handlers, options) {
      const channel = await network.join(space, handlers, options)
      return {
        space: channel.space,
        peers: () => channel.peers(),
        publish: (message) => channel.publish(message),
        pull: (peer, keys, mode, callOptions) => channel.pull(peer, keys, mode, callOptions),
        push: (peer, states, callOptions) => channel.push(peer, states, callOptions),
        on: (event, listener) => channel.on(event, listener),
        leave: () => channel.leave(),
        reconcile: async () => ({
          differing: [],
          received: [],
          rounds: 1,
          bytesSent: 0,
          bytesReceived: 0,
        }),
      }
    },
  }
}

async function counterexample(options: Parameters<typeof convergenceProperty>[0]) {
  const result = await fc.check(convergenceProperty(options), {
    numRuns: 500,
    seed: 6,
    endOnFailure: true,
  })
  expect(result.failed).toBe(true)
  return String(result.errorInstance)
}

describe('the convergence checker', () => {
  it('catches a storage that loses acknowledged writes on restart', async () => {
    const report = await counterexample({
      maxCommands: 60,
      storage: (store) => new ForgetfulStorage(store),
    })
    expect(report).toMatch(/persisted .*but its last change was/)
  })

  it('catches a transport whose reconciliation silently exchanges nothing', async () => {
    const report = await counterexample({ maxCommands: 60, network: hollowReconcile })
    expect(report).toMatch(/not converged after \d+ rounds of sync\(\)|is lost/)
  })
})
