// Revocation records as states of the space: each revocation key holds a register whose siblings
// are encoded revocations of the key's subject. A state for such a key is accepted only when it
// holds at least one record and every record is a valid revocation of exactly that subject, so
// a peer can neither plant a forged record nor erase a real one (a delete would leave none).
import { type CausalValue, isMendsyncError } from '@mendsync/core'
import { decodeRevocation, type Revocation } from '@mendsync/core/access'
import { toHex } from '@mendsync/core/toolbox'
import { REVOCATION_KEY_PREFIX } from './reserved-keys.js'
import { recordBytesOfState, refusedRecord } from './reserved-records.js'

/**
 * The revocations a state of the reserved key `key` holds, decoded but not yet verified.
 * `ACCESS_DENIED` when `key` is not a revocation key, or the state holds a cart, no record, a
 * record that is not an encoded revocation, or a revocation of another key than the key names.
 */
export function revocationsOfState(key: string, state: CausalValue): Revocation[] {
  if (!key.startsWith(REVOCATION_KEY_PREFIX)) {
    throw refusedRecord(key, 'no such reserved key')
  }
  const subject = key.slice(REVOCATION_KEY_PREFIX.length)
  return recordBytesOfState(key, state, 'revocation').map((bytes) => {
    let revocation: Revocation
    try {
      revocation = decodeRevocation(bytes)
    } catch (error) {
      if (!isMendsyncError(error, 'INVALID_ARGUMENT')) throw error
      throw refusedRecord(key, error.message, error)
    }
    if (toHex(revocation.subject) !== subject) {
      throw refusedRecord(key, 'a record revokes another key than the one its key names')
    }
    return revocation
  })
}
