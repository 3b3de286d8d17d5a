import { type CausalValue, type DeltaMutation, joinValues } from '../model/index.js'
import type { SpaceKeyring } from './keyring.js'
import { type OpenedValue, openValue } from './open-value.js'
import { sealValue } from './seal-value.js'

/** What {@link sealedMutation} returns: sealed state and delta, and the plain view it mutated. */
export interface SealedMutation {
  /** The new sealed state: `joinValues(sealed, delta)`. */
  readonly state: CausalValue
  /** The sealed delta to store and ship (each of its envelopes is new). */
  readonly delta: CausalValue
  /** The opened view of the old state that `mutate` saw (with what it had to quarantine). */
  readonly opened: OpenedValue
}

/**
 * A holder's write to a sealed key, the way a replica does it: open the sealed state, run the
 * model's mutator (`writeRegister`, `cartAdd`, ...) on the plain view, seal only its delta and join
 * that into the sealed state. A quarantined entry is invisible to the mutator but its dot stays in
 * the context, so an operation with a read context (a register write, a delete) supersedes it,
 * like any entry the writer had seen. `mutate` returns `null` when there is nothing to do; the
 * result is then `null` too.
 */
export function sealedMutation(
  keyring: SpaceKeyring,
  keyId: string,
  sealed: CausalValue,
  mutate: (plain: CausalValue) => DeltaMutation | null,
): SealedMutation | null {
  const opened = openValue(keyring, keyId, sealed)
  const result = mutate(opened.value)
  if (result === null) return null
  const delta = sealValue(keyring, keyId, result.delta)
  return { state: joinValues(sealed, delta), delta, opened }
}
