// Helpers of the network acceptance suite that need no harness.
import { isMendsyncError, type MendsyncErrorCode } from '@mendsync/core'
import type { GossipMessage, SpaceChannel, SpaceEvents } from '../../network/types.js'

export { digestOf } from './fake-space-store.js'

/** A gossip message of `replicaId` with `vector` and `hints` hints. */
export function gossip(replicaId: string, vector: [string, number][], hints = 0): GossipMessage {
  return {
    replicaId,
    versionVector: new Map(vector),
    summary: Uint8Array.from([1, 2, 3, vector.length]),
    hints: Array.from({ length: hints }, (_, i) => ({
      key: `key-${i}`,
      dots: [{ replica: replicaId, counter: i + 1 }],
    })),
  }
}

/** A promise that never settles (holds a call in flight until the call's deadline or close). */
export function never(): Promise<void> {
  return new Promise(() => {})
}

/** Records every `event` of `channel`, in order. */
export function record<E extends keyof SpaceEvents>(
  channel: SpaceChannel,
  event: E,
): SpaceEvents[E][] {
  const seen: SpaceEvents[E][] = []
  channel.on(event, (detail) => seen.push(detail))
  return seen
}

/** Resolves when `promise` rejects with a MendsyncError of `code`; throws otherwise. */
export async function expectCode(
  promise: Promise<unknown>,
  code: MendsyncErrorCode,
): Promise<void> {
  let failure: unknown = null
  try {
    await promise
  } catch (error) {
    failure = error
  }
  if (!isMendsyncError(failure, code)) {
    throw new Error(`expected MendsyncError ${code}, got ${String(failure)}`, {
      cause: failure,
    })
  }
}
