import { decodeValue } from '@mendsync/core'
import type { KeyState } from '../../network/types.js'
import { assertKey } from '../../storage/validate.js'
import type { DecodedState } from '../repair/repair-types.js'

/** Checks and decodes states received from a peer; `DECODE_ERROR` when one is not a state. */
export function decodeStates(states: readonly KeyState[]): DecodedState[] {
  return states.map(({ key, state }) => {
    assertKey(key, 'join')
    return { key, value: decodeValue(state) }
  })
}
