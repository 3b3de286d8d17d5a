// Drives one mendsync reconciliation session between two in-process trees and counts what it
// sends: messages, bytes each way, CPU per side, and the difference both sides report.

import { ReconcileSession, type ReconcileTree, summariesEqual } from '@mendsync/core'
import { cpuMs } from './scenario.ts'

/** What one reconciliation session cost and found. */
export interface SessionResult {
  /** Messages sent, both directions. */
  messages: number
  /** Round trips: ceil(messages / 2) (a lone last message counts as one). */
  rounds: number
  bytesAtoB: number
  bytesBtoA: number
  /** CPU ms in A's calls (initiating) and in B's. */
  cpuA: number
  cpuB: number
  /** The union of the differences both sides reported. */
  differing: Set<string>
  /** Both sides finished. */
  complete: boolean
}

/**
 * Runs a session in which `a` initiates: zero messages when the gossip summaries are already
 * equal (no session). Bytes are session messages only, not the summary.
 */
export function runMendsyncSession(a: ReconcileTree, b: ReconcileTree): SessionResult {
  const result: SessionResult = {
    messages: 0,
    rounds: 0,
    bytesAtoB: 0,
    bytesBtoA: 0,
    cpuA: 0,
    cpuB: 0,
    differing: new Set(),
    complete: false,
  }
  if (summariesEqual(a.summary(), b.summary())) {
    result.complete = true
    return result
  }
  const sa = new ReconcileSession(a)
  const sb = new ReconcileSession(b)
  let message: Uint8Array | null = null
  result.cpuA += cpuMs(() => {
    message = sa.initiate()
  })
  let toB = true
  let doneA = false
  let doneB = false
  while (message !== null) {
    const m: Uint8Array = message
    result.messages++
    if (toB) result.bytesAtoB += m.length
    else result.bytesBtoA += m.length
    const session = toB ? sb : sa
    let step: ReturnType<ReconcileSession['receive']> | undefined
    const ms = cpuMs(() => {
      step = session.receive(m)
    })
    if (toB) result.cpuB += ms
    else result.cpuA += ms
    const s = step!
    if (s.done) {
      for (const key of s.differing ?? []) result.differing.add(key)
      if (toB) doneB = true
      else doneA = true
    }
    message = s.reply
    toB = !toB
  }
  result.complete = doneA && doneB
  result.rounds = Math.ceil(result.messages / 2)
  return result
}

/** The session found exactly `expected`. */
export function foundExactly(result: SessionResult, expected: ReadonlySet<string>): boolean {
  return (
    result.complete &&
    result.differing.size === expected.size &&
    [...expected].every((key) => result.differing.has(key))
  )
}
