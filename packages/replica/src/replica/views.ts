import {
  type CartLine,
  type CausalValue,
  type ConflictPolicy,
  type Data,
  type ReadContext,
  readCart,
  readRegister,
  type SiblingView,
  valueKind,
} from '@mendsync/core'
import type { QuarantinedEntry } from '@mendsync/core/sealed'
import type { PeerId } from '../network/types.js'

/** What a key holds, as an application reads it. */
export type ValueKindView = 'absent' | 'register' | 'cart' | 'mixed'

/** What a read reports about the repair it did (or did not) do. */
export interface RepairReport {
  /** Peers asked for this key. */
  readonly asked: readonly PeerId[]
  /** Peers asked that did not answer in time (or failed); empty for `repair: 'async' | 'none'`. */
  readonly unanswered: readonly PeerId[]
  /** True when the repair changed the local state before this read returned. */
  readonly repaired: boolean
}

/** The result of a read. */
export interface ReadResult {
  readonly key: string
  readonly kind: ValueKindView
  /** The register value (resolved by the conflict policy); `undefined` when there is none. */
  readonly value: Data | undefined
  /** Every live register sibling (more than one means concurrent writes). */
  readonly siblings: readonly SiblingView[]
  /** True when the register has concurrent siblings. */
  readonly conflict: boolean
  /** The cart lines, sorted by sku (empty unless the key holds a cart). */
  readonly lines: readonly CartLine[]
  /** Opaque: pass to `put` or `delete` to supersede exactly what this read saw. */
  readonly context: ReadContext
  readonly repair: RepairReport
  /**
   * Encrypted spaces: the entries of the key that did not open (tampered, or sealed with an
   * epoch this device lacks) and were left out of this view; empty otherwise.
   */
  readonly quarantined: readonly QuarantinedEntry[]
}

const NO_REPAIR: RepairReport = Object.freeze({ asked: [], unanswered: [], repaired: false })

/** Builds the application's view of a key's state. */
export function viewOf(
  key: string,
  state: CausalValue,
  policy: ConflictPolicy,
  repair: RepairReport = NO_REPAIR,
  quarantined: readonly QuarantinedEntry[] = [],
): ReadResult {
  const kind = valueKind(state)
  const register = readRegister(state, policy)
  return {
    key,
    kind: kind === 'tombstone' ? 'absent' : kind,
    value: register.value,
    siblings: register.siblings,
    conflict: register.conflict,
    lines: kind === 'cart' || kind === 'mixed' ? readCart(state) : [],
    context: state.context,
    repair,
    quarantined,
  }
}
