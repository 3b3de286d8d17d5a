import type { CausalValue } from '@mendsync/core'

/**
 * The time of a state's last change, for the reconciliation tree's recency order: the greatest
 * wall-clock reading among its register siblings. A function of the state alone, so every peer
 * holding the same state gives it the same time (the tree relies on that). Carts and deleted
 * keys carry no clock reading: they have no time and reconcile through the coded symbols.
 */
export function stateTime(state: CausalValue): number | undefined {
  let time: number | undefined
  for (const sibling of state.register) {
    const wall = sibling.value.time.wall
    if (time === undefined || wall > time) time = wall
  }
  return time
}
