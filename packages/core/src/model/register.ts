import {
  type CausalContext,
  contextAdd,
  contextFromDots,
  contextJoin,
  contextNextDot,
  isCausalContext,
} from './causal-context.js'
import {
  type Actor,
  type CausalValue,
  type DeltaMutation,
  type RegisterStore,
  removeSeenFromCart,
  type Sibling,
} from './causal-value.js'
import { type Data, toData } from './data.js'
import { type DotEntry, storeInsert, storeWithout } from './dot-store.js'
import { invalid } from './guards.js'
import { compareTimestamps, isTimestamp, type Timestamp, ZERO_TIMESTAMP } from './hlc.js'
import { LIMITS } from './limits.js'
import type { Dot } from './types.js'

/**
 * The opaque context a register read returns: pass it back to {@link writeRegister} to supersede
 * exactly the siblings that read saw. It is a {@link CausalContext}; encode it with
 * {@link encodeContext} to hand it to a remote client.
 */
export type ReadContext = CausalContext

/** One sibling as a read shows it. */
export interface SiblingView {
  readonly dot: Dot
  readonly value: Data
  readonly time: Timestamp
}

/**
 * A pure function choosing one value among concurrent siblings. It receives at least two
 * siblings, always sorted canonically (by dot), and must be deterministic: same siblings, same
 * result, on every replica. Its result must be valid {@link Data}.
 */
export type SiblingResolver = (siblings: readonly SiblingView[]) => Data

/**
 * How a read turns concurrent siblings into one value. Only *concurrent* siblings are ever
 * arbitrated: a causally later write has already removed what it superseded.
 * - `'siblings'` (default): no arbitration; `value` is set only when there is exactly one sibling.
 * - `'lww'`: the sibling with the greatest (timestamp, replica id, counter) wins.
 * - a {@link SiblingResolver}.
 */
export type ConflictPolicy = 'siblings' | 'lww' | SiblingResolver

/** What {@link readRegister} returns. */
export interface RegisterRead {
  /** Every live sibling, sorted canonically by dot (empty for a key never written or deleted). */
  readonly siblings: readonly SiblingView[]
  /** The resolved value (see {@link ConflictPolicy}); `undefined` when there is none. */
  readonly value: Data | undefined
  /** True when more than one sibling is live. */
  readonly conflict: boolean
  /** Pass to {@link writeRegister} to supersede every sibling of this read. */
  readonly context: ReadContext
}

function view(entry: DotEntry<Sibling>): SiblingView {
  return {
    dot: { replica: entry.replica, counter: entry.counter },
    value: entry.value.value,
    time: entry.value.time,
  }
}

function lwwWinner(siblings: readonly SiblingView[]): SiblingView {
  let best = siblings[0] as SiblingView
  for (let i = 1; i < siblings.length; i++) {
    const s = siblings[i] as SiblingView
    const byTime = compareTimestamps(s.time, best.time)
    if (
      byTime > 0 ||
      (byTime === 0 &&
        (s.dot.replica > best.dot.replica ||
          (s.dot.replica === best.dot.replica && s.dot.counter > best.dot.counter)))
    ) {
      best = s
    }
  }
  return best
}

/**
 * Reads the register of a key: all siblings, the value the policy resolves them to, and the
 * context to write back with. A register with siblings concurrent with a cart (kind `mixed`)
 * reads its register part; a write with this context removes the cart part too.
 */
export function readRegister(
  value: CausalValue,
  policy: ConflictPolicy = 'siblings',
): RegisterRead {
  const siblings = value.register.map(view)
  const conflict = siblings.length > 1
  let resolved: Data | undefined
  if (siblings.length === 1) resolved = (siblings[0] as SiblingView).value
  else if (conflict) {
    if (policy === 'lww') resolved = lwwWinner(siblings).value
    else if (typeof policy === 'function') resolved = toData(policy(siblings))
  }
  return { siblings, value: resolved, conflict, context: value.context }
}

/**
 * Writes `data` to the register of a key as `actor`, with dotted-version-vector semantics:
 * - with `context` (from a read): the new value supersedes exactly the siblings that context
 *   has seen, here and wherever the delta arrives; siblings it had not seen stay as siblings;
 * - without `context`: the value is added as one more sibling (a blind write).
 * The new sibling gets the next dot of `actor.replica` for this key and the timestamp
 * `actor.time` (default {@link ZERO_TIMESTAMP}). Throws `INVALID_ARGUMENT` on invalid data, or
 * when the register would exceed `LIMITS.maxSiblings` (resolve with a context instead).
 */
export function writeRegister(
  value: CausalValue,
  actor: Actor,
  data: unknown,
  context?: ReadContext,
): DeltaMutation {
  if (context !== undefined && !isCausalContext(context)) {
    invalid('context must come from readRegister or decodeContext')
  }
  const stored = toData(data)
  const time = actor.time ?? ZERO_TIMESTAMP
  if (!isTimestamp(time)) invalid('actor.time must be a timestamp')
  const dot = contextNextDot(value.context, actor.replica)
  const entry: DotEntry<Sibling> = {
    replica: dot.replica,
    counter: dot.counter,
    value: { value: stored, time },
  }
  const kept = context === undefined ? value.register : storeWithout(value.register, context)
  if (kept.length >= LIMITS.maxSiblings) {
    invalid(
      `register already has ${kept.length} siblings; write with a read context to resolve them`,
    )
  }
  const register: RegisterStore = storeInsert(kept, entry)
  const cart = context === undefined ? value.cart : removeSeenFromCart(value.cart, context)
  const deltaContext = context === undefined ? contextFromDots([dot]) : contextAdd(context, dot)
  const delta: CausalValue = { context: deltaContext, register: [entry], cart: new Map() }
  return { state: { context: contextJoin(value.context, deltaContext), register, cart }, delta }
}

/**
 * Collapses concurrent siblings with `policy`: when the register has more than one sibling,
 * writes the resolved value with the read context, so the resolution itself replicates.
 * Returns `null` when there is nothing to resolve (zero or one sibling).
 */
export function resolveRegister(
  value: CausalValue,
  actor: Actor,
  policy: Exclude<ConflictPolicy, 'siblings'>,
): DeltaMutation | null {
  const read = readRegister(value, policy)
  if (!read.conflict) return null
  return writeRegister(value, actor, read.value, read.context)
}
