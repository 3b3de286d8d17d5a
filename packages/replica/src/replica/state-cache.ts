import type { CausalValue } from '@mendsync/core'

/**
 * The most recently used decoded key states, at most `maxKeys` of them. Reads of a hot key then
 * skip the storage read and the decode. Sound because the replica is its storage's only writer
 * and updates the cache after every commit; states are immutable, so sharing them is safe.
 */
export class StateCache {
  private readonly states = new Map<string, CausalValue>()
  private readonly maxKeys: number

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys
  }

  get(key: string): CausalValue | undefined {
    const state = this.states.get(key)
    if (state !== undefined) {
      // Re-insert so Map order tracks recency.
      this.states.delete(key)
      this.states.set(key, state)
    }
    return state
  }

  set(key: string, state: CausalValue): void {
    if (this.maxKeys === 0) return
    this.states.delete(key)
    this.states.set(key, state)
    if (this.states.size > this.maxKeys)
      this.states.delete(this.states.keys().next().value as string)
  }

  clear(): void {
    this.states.clear()
  }
}
