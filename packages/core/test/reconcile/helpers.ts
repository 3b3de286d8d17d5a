// Shared helpers of the reconciliation tests: deterministic items and a driver that runs two
// sessions against each other.
import {
  ReconcileSession,
  type ReconcileSessionOptions,
  type ReconcileTree,
} from '../../src/index.js'

/** A deterministic 32-byte state hash for item `i` in version `v`. */
export function stateHash(i: number, v = 0): Uint8Array {
  const h = new Uint8Array(32)
  let s = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(v + 7, 0x85ebca6b)) | 0 || 1
  for (let k = 0; k < 32; k++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    h[k] = s
  }
  return h
}

export function keyOf(i: number): string {
  return `k${String(i).padStart(6, '0')}`
}

export interface Transcript {
  /** Messages in order; even indices from the initiator. */
  messages: Uint8Array[]
  differingA: readonly string[] | null
  differingB: readonly string[] | null
}

/** Runs a whole session between `a` (initiator) and `b`; throws on protocol errors. */
export function reconcile(
  a: ReconcileTree,
  b: ReconcileTree,
  optionsA: ReconcileSessionOptions = {},
  optionsB: ReconcileSessionOptions = {},
): Transcript {
  const sa = new ReconcileSession(a, optionsA)
  const sb = new ReconcileSession(b, optionsB)
  const out: Transcript = { messages: [], differingA: null, differingB: null }
  let message: Uint8Array | null = sa.initiate()
  let toB = true
  while (message !== null) {
    out.messages.push(message)
    if (out.messages.length > 100_000) throw new Error('session does not terminate')
    const step = (toB ? sb : sa).receive(message)
    if (step.done) {
      if (toB) {
        if (out.differingB !== null) throw new Error('B reported done twice')
        out.differingB = step.differing
      } else {
        if (out.differingA !== null) throw new Error('A reported done twice')
        out.differingA = step.differing
      }
    } else if (step.differing !== null) throw new Error('differing without done')
    message = step.reply
    toB = !toB
  }
  return out
}

/** The keys of `a` whose state `b` lacks or holds differently (both as key -> version maps). */
export function trueDifference(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
): string[] {
  return [...a]
    .filter(([k, v]) => b.get(k) !== v)
    .map(([k]) => k)
    .sort()
}
