// The checks and copies of what crosses the hub: each side gets its own bytes, as it would over
// a wire, and a malformed answer fails the way the libp2p network fails it.
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { describeHandlerError, remoteError } from '../../network/call.js'
import type { KeyState, PullMode, PullResult } from '../../network/types.js'

/** Runs the remote side's handler: its errors arrive as `REMOTE_ERROR`, a closed link as is. */
export async function remoteCall<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (isMendsyncError(error) && error.code === 'NETWORK_CLOSED') throw error
    const { code, message } = describeHandlerError(error)
    throw remoteError(code, message)
  }
}

/** A copy of a pull's answer; `PROTOCOL_ERROR` when it does not match the request. */
export function checkPullResult(result: PullResult, mode: PullMode, count: number): PullResult {
  const values: unknown = mode === 'digest' ? (result as { digests?: unknown }).digests : undefined
  const states: unknown = mode === 'state' ? (result as { states?: unknown }).states : undefined
  const list = mode === 'digest' ? values : states
  if (
    result?.mode !== mode ||
    !Array.isArray(list) ||
    list.length !== count ||
    !list.every((entry) => entry === null || entry instanceof Uint8Array)
  ) {
    throw new MendsyncError(
      'PROTOCOL_ERROR',
      `peer answered a ${mode} pull with a malformed result`,
    )
  }
  const copied = (list as (Uint8Array | null)[]).map((entry) => entry?.slice() ?? null)
  return mode === 'digest' ? { mode, digests: copied } : { mode, states: copied }
}

/** A checked copy of `states`; `INVALID_ARGUMENT` for a malformed entry. */
export function copyStates(states: readonly KeyState[]): KeyState[] {
  if (!Array.isArray(states)) throw new MendsyncError('INVALID_ARGUMENT', 'states must be an array')
  return states.map((entry) => {
    if (typeof entry?.key !== 'string' || !(entry.state instanceof Uint8Array)) {
      throw new MendsyncError('INVALID_ARGUMENT', 'each state needs a string key and bytes')
    }
    return { key: entry.key, state: entry.state.slice() }
  })
}

/** The bytes of the states in `states`. */
export function stateBytes(states: readonly KeyState[]): number {
  let total = 0
  for (const entry of states) total += entry.state.byteLength
  return total
}
