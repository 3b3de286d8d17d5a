// The shape every record of a reserved key shares: a register (never a cart) holding at least one
// sibling, each an encoded record as bytes. A delete would leave no record, so a peer can never
// erase one; what each record must decode to is the caller's (revocations, grants).
import { type CausalValue, MendsyncError } from '@mendsync/core'

/** `ACCESS_DENIED` for the state of reserved key `key`, saying why. */
export function refusedRecord(key: string, reason: string, cause?: unknown): MendsyncError {
  return new MendsyncError(
    'ACCESS_DENIED',
    `refused the state of reserved key ${JSON.stringify(key)}: ${reason}`,
    cause === undefined ? undefined : { cause },
  )
}

/**
 * The encoded records a state of `key` holds, one per register sibling. `ACCESS_DENIED` when the
 * state holds a cart, no record, or a record that is not bytes (`noun` names the record kind).
 */
export function recordBytesOfState(key: string, state: CausalValue, noun: string): Uint8Array[] {
  if (state.cart.size > 0) throw refusedRecord(key, `a ${noun} record is not a cart`)
  if (state.register.length === 0) {
    throw refusedRecord(key, `it holds no ${noun} (a ${noun} record cannot be deleted)`)
  }
  return state.register.map(({ value }) => {
    const bytes = value.value
    if (!(bytes instanceof Uint8Array))
      throw refusedRecord(key, `a record is not an encoded ${noun}`)
    return bytes
  })
}
