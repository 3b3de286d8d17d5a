import { type CausalValue, MendsyncError } from '@mendsync/core'
import type { PeerId } from '../../network/types.js'
import { assertApplicationKey } from '../access/reserved-keys.js'
import type { ReplicaComponents } from '../components.js'
import type { ReadOptions } from '../options.js'
import { type ReadResult, viewOf } from '../views.js'
import type { ReadRepairer } from './read-repair.js'
import { planRepair } from './repair-plan.js'

/**
 * Reads `keys` locally and repairs the divergence gossip told this replica about (see
 * `Replica.getMany`): plans which peers to ask, runs the repair in the background, and with
 * `repair: 'sync'` waits up to `timeoutMs` for it and reads again.
 */
export async function readKeys(
  components: ReplicaComponents,
  repairer: ReadRepairer,
  keys: readonly string[],
  options: ReadOptions,
): Promise<ReadResult[]> {
  components.ensureOpen()
  if (!Array.isArray(keys))
    throw new MendsyncError('INVALID_ARGUMENT', 'getMany needs an array of keys')
  for (const key of keys) assertApplicationKey(key, 'get')
  const tunables = components.options
  const mode = options.repair ?? tunables.repair
  const selection = options.peers ?? tunables.peers
  const timeoutMs = options.timeoutMs ?? tunables.timeoutMs
  components.metrics.add('reads_total', keys.length)
  const states = await components.local.load(keys)
  const policy = tunables.conflicts
  const channel = components.channel()
  const local = () => keys.map((key, i) => viewOf(key, states[i] as CausalValue, policy))
  if (mode === 'none' || channel === undefined) return local()
  const plan = planRepair({
    keys,
    states,
    selection,
    connected: channel.peers().filter((peer) => repairer.available(peer)),
    hints: components.hints,
    repairChance: tunables.repairChance,
    random: components.random,
  })
  if (plan.size === 0) return local()
  const deadline = components.now() + timeoutMs
  const repair = repairer.repair(plan, deadline)
  const askedByKey = new Map<string, PeerId[]>()
  for (const [peer, peerKeys] of plan) {
    for (const key of peerKeys.keys()) askedByKey.set(key, [...(askedByKey.get(key) ?? []), peer])
  }
  // Tracked in both modes: a 'sync' repair that outlives its deadline must still finish
  // before close() releases the storage.
  components.tasks.run('read repair', repair, { keys: [...askedByKey.keys()] })
  if (mode === 'async') {
    return keys.map((key, i) =>
      viewOf(key, states[i] as CausalValue, policy, {
        asked: askedByKey.get(key) ?? [],
        unanswered: [],
        repaired: false,
      }),
    )
  }
  const outcome = await withinDeadline(repair, timeoutMs)
  const after = await components.local.load(keys)
  const answered = new Set(outcome?.answered ?? [])
  const repaired = new Set(outcome?.repaired ?? [])
  return keys.map((key, i) => {
    const asked = askedByKey.get(key) ?? []
    return viewOf(key, after[i] as CausalValue, policy, {
      asked,
      unanswered: asked.filter((peer) => !answered.has(peer)),
      repaired: repaired.has(key),
    })
  })
}

/** `work`'s result, or `undefined` when it takes longer than `timeoutMs`. */
async function withinDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}
