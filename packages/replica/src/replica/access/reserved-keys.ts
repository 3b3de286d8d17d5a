// The engine's own keys inside a space. They are data of the space (so they replicate on every
// path like any key: handoff, gossip hints, reconciliation, repair), but the application can
// neither write nor read them, and subscriptions never show them.
import { MendsyncError } from '@mendsync/core'
import { toHex } from '@mendsync/core/toolbox'
import { assertKey } from '../../storage/validate.js'

/**
 * Keys starting with this (U+0000, then `mendsync/`) are reserved for the engine: `put`,
 * `delete`, `cart`, `get` and `subscribe` refuse them with `INVALID_ARGUMENT`, and their changes
 * reach no subscriber (a `{ prefix: '' }` subscription included).
 */
export const RESERVED_KEY_PREFIX = '\u0000mendsync/'

/**
 * Where the revocations of a private space live: one key per revoked public key,
 * `RESERVED_KEY_PREFIX + 'revocation/' + hex(raw Ed25519 public key)`, a register whose siblings
 * are encoded revocations of that key (`encodeRevocation`), one per revoking admin.
 */
export const REVOCATION_KEY_PREFIX = `${RESERVED_KEY_PREFIX}revocation/`

/**
 * Where the grants of a private space are listed: one key per granted public key,
 * `RESERVED_KEY_PREFIX + 'grant/' + hex(raw Ed25519 public key)`, a register whose siblings are
 * encoded proofs (`encodeProof`) whose chains end at that key, one per issuing replica.
 */
export const GRANT_KEY_PREFIX = `${RESERVED_KEY_PREFIX}grant/`

/** Whether `key` is one of the engine's own keys. */
export function isReservedKey(key: string): boolean {
  return key.startsWith(RESERVED_KEY_PREFIX)
}

/** The key of the revocation records of `subject` (a raw Ed25519 public key). */
export function revocationKey(subject: Uint8Array): string {
  return REVOCATION_KEY_PREFIX + toHex(subject)
}

/** The key of the grant records of `subject` (a raw Ed25519 public key). */
export function grantKey(subject: Uint8Array): string {
  return GRANT_KEY_PREFIX + toHex(subject)
}

/** Throws `INVALID_ARGUMENT` (prefixed with `where`) unless `key` is a key the application may use. */
export function assertApplicationKey(key: unknown, where: string): asserts key is string {
  assertKey(key, where)
  if (isReservedKey(key)) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `${where}: keys starting with U+0000 'mendsync/' are reserved for the engine`,
    )
  }
}
