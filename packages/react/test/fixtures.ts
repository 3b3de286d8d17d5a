// Real replicas for the hook tests: in memory, optionally linked by the in-process network.
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'
import { createElement, type ReactNode } from 'react'
import { ReplicaProvider, type ReplicaSource } from '../src/index.js'

const opened: Replica[] = []

/** A new replica in memory (closed by {@link closeReplicas}). */
export async function memoryReplica(
  options: { hub?: InProcessHub; space?: string } = {},
): Promise<Replica> {
  const replica = await openReplica({
    space: options.space ?? 'react-test',
    storage: new MemoryStorage(),
    network: options.hub?.createNetwork(),
  })
  opened.push(replica)
  return replica
}

export async function closeReplicas(): Promise<void> {
  for (const replica of opened.splice(0)) await replica.close()
}

/** `children` inside a provider of `replica`. */
export function inProvider(
  replica: ReplicaSource | Promise<ReplicaSource>,
  children: ReactNode,
): ReactNode {
  return createElement(ReplicaProvider, { replica }, children)
}

/** Counts renders per component name (incremented in the component's body). */
export class RenderCounter {
  readonly #counts = new Map<string, number>()

  hit(name: string): void {
    this.#counts.set(name, this.count(name) + 1)
  }

  count(name: string): number {
    return this.#counts.get(name) ?? 0
  }
}

export { createInProcessHub }
