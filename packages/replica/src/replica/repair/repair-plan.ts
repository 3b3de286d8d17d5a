import { type CausalValue, contextHasAll } from '@mendsync/core'
import type { PeerId } from '../../network/types.js'
import type { ReadOptions } from '../options.js'
import type { HintStore } from '../peers/hint-store.js'
import type { RepairKeys } from './repair-types.js'

/** What a repair plan is made from. */
export interface RepairPlanInput {
  readonly keys: readonly string[]
  /** The local state of each key, in the order of `keys`. */
  readonly states: readonly CausalValue[]
  /** Which peers the read asks (see `PeerSelection`); absent: the ones known to be ahead. */
  readonly selection: ReadOptions['peers']
  /** Connected peers whose circuit breaker lets requests through. */
  readonly connected: readonly PeerId[]
  /** Gossip's divergence hints; hints the local state already covers are settled here. */
  readonly hints: HintStore
  /** Probability that a key without a hint is checked with one peer anyway. */
  readonly repairChance: number
  readonly random: () => number
}

/**
 * Which peers a read asks, and per peer the keys to ask it (`true` where gossip says the peer is
 * ahead for the key, `false` for a speculative check). Empty when nothing needs repairing.
 */
export function planRepair(input: RepairPlanInput): Map<PeerId, RepairKeys> {
  const { connected, hints } = input
  const plan = new Map<PeerId, Map<string, boolean>>()
  if (connected.length === 0) return plan
  input.keys.forEach((key, i) => {
    const state = input.states[i] as CausalValue
    const ahead: PeerId[] = []
    for (const [peer, hint] of hints.get(key) ?? []) {
      if (contextHasAll(state.context, hint.dots)) hints.settle(key, peer)
      else if (connected.includes(peer)) ahead.push(peer)
    }
    const sampled =
      ahead.length === 0 && input.repairChance > 0 && input.random() < input.repairChance
    if (ahead.length === 0 && !sampled) return
    for (const peer of choosePeers(
      ahead,
      connected,
      sampled ? 'one' : (input.selection ?? 'ahead'),
    )) {
      const peerKeys = plan.get(peer) ?? new Map<string, boolean>()
      peerKeys.set(key, ahead.includes(peer))
      plan.set(peer, peerKeys)
    }
  })
  return plan
}

/** The peers `selection` picks, those known to be ahead first. */
function choosePeers(
  ahead: readonly PeerId[],
  connected: readonly PeerId[],
  selection: NonNullable<ReadOptions['peers']>,
): readonly PeerId[] {
  const others = connected.filter((peer) => !ahead.includes(peer))
  const ordered = [...ahead, ...others]
  switch (selection) {
    case 'ahead':
      return ahead
    case 'one':
      return ordered.slice(0, 1)
    case 'quorum':
      return ordered.slice(0, Math.max(ahead.length, Math.floor(connected.length / 2) + 1))
    case 'all':
      return connected
    default:
      return ordered.slice(0, Math.max(1, selection))
  }
}
