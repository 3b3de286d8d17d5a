// Random multi-replica histories run twice side by side: on plain states, and on sealed states
// that receive the sealed form of every delta (as a sealed replica would), so that tests can
// compare what opening the sealed side gives with the plain side.
import { type CausalValue, emptyValue, joinValues } from '../../src/index.js'
import { keyedKeyId, SpaceKeyring, sealedMutation } from '../../src/sealed/index.js'
import { applyLocal, REPLICAS, type Step } from '../model/helpers.js'

/** The key every history writes. */
export const KEY_NAME = 'cart:alice'

/** A keyring of a fixed space, made once per test file. */
export function testKeyring(): SpaceKeyring {
  return SpaceKeyring.create('ms1-test-space')
}

/** The two sides of one history after it ran. */
export interface SealedHistory {
  readonly plain: CausalValue[]
  readonly sealed: CausalValue[]
  /** Every state any replica went through, paired plain/sealed, in order. */
  readonly pairs: { readonly plain: CausalValue; readonly sealed: CausalValue }[]
}

/**
 * Runs `steps` on three replicas, each holding a plain state and its sealed twin: a local step
 * mutates the plain state, and (through `sealedMutation`) the opened view of the sealed one; `sync` and `deliver`
 * move states and deltas on both sides alike. Clock readings grow with the step index, so
 * concurrent register siblings carry different timestamps.
 */
export function runSealedHistory(keyring: SpaceKeyring, steps: readonly Step[]): SealedHistory {
  const plain = REPLICAS.map(() => emptyValue())
  const sealed = REPLICAS.map(() => emptyValue())
  const deltas: { plain: CausalValue; sealed: CausalValue }[][] = REPLICAS.map(() => [])
  const pairs: { plain: CausalValue; sealed: CausalValue }[] = []
  const at = (i: number) => ({ plain: plain[i] as CausalValue, sealed: sealed[i] as CausalValue })
  steps.forEach((step, tick) => {
    if (step.t === 'sync' || step.t === 'deliver') {
      let source = at(step.from)
      if (step.t === 'deliver') {
        const produced = deltas[step.from] as { plain: CausalValue; sealed: CausalValue }[]
        if (produced.length === 0) return
        source = produced[step.k % produced.length] as { plain: CausalValue; sealed: CausalValue }
      }
      plain[step.to] = joinValues(plain[step.to] as CausalValue, source.plain)
      sealed[step.to] = joinValues(sealed[step.to] as CausalValue, source.sealed)
      pairs.push(at(step.to))
      return
    }
    const time = { wall: tick, logical: step.r }
    const result = applyLocal(plain[step.r] as CausalValue, step, time)
    // The sealed side mutates its own opened view, as a replica holding only sealed states does.
    const sealedResult = sealedMutation(
      keyring,
      keyedKeyId(keyring, KEY_NAME),
      sealed[step.r] as CausalValue,
      (view) => applyLocal(view, step, time),
    )
    if (result === null || sealedResult === null) {
      if ((result === null) !== (sealedResult === null))
        throw new Error('the two sides disagree on a step')
      return
    }
    plain[step.r] = result.state
    sealed[step.r] = sealedResult.state
    ;(deltas[step.r] as { plain: CausalValue; sealed: CausalValue }[]).push({
      plain: result.delta,
      sealed: sealedResult.delta,
    })
    pairs.push(at(step.r))
  })
  return { plain, sealed, pairs }
}
