import type { ReconcileSessionLike } from '../../network/types.js'

/**
 * Wraps a reconciliation session so the replica learns the local differing keys the moment the
 * session settles them (before the states are exchanged), without the network's help.
 */
export function observedSession(
  session: ReconcileSessionLike,
  onDone: (differing: readonly string[]) => void,
): ReconcileSessionLike {
  return {
    initiate: () => session.initiate(),
    receive(message) {
      const step = session.receive(message)
      if (step.done) onDone(step.differing ?? [])
      return step
    },
  }
}
