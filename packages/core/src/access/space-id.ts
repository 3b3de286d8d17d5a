// Self-certifying space ids: the id is a hash of the owner's public key and the space's name, so
// any peer holding the two checks that a grant chain starts at the space's real owner, with no
// registry and no server.
import { sha256 } from '@noble/hashes/sha2.js'
import { MendsyncError } from '../errors.js'
import { isWellFormed } from '../model/guards.js'
import { fromBase32, toBase32 } from './encoding.js'
import { PUBLIC_KEY_BYTES } from './keys.js'

/** Prefix of every private space id (`ms1` + 52 base32 characters of a SHA-256). */
export const SPACE_ID_PREFIX = 'ms1'
/** Longest space name, in UTF-16 code units. */
export const MAX_SPACE_NAME_LENGTH = 128

const DOMAIN = new TextEncoder().encode('mendsync/space-id/v1\0')
const ID_PATTERN = /^ms1[a-z2-7]{52}$/

/** What a private space id is derived from; travels with every proof and invite. */
export interface SpaceDescriptor {
  /** The owner's raw Ed25519 public key (32 bytes). */
  readonly owner: Uint8Array
  /** The owner's name for the space (1 to 128 code units, well-formed). */
  readonly name: string
}

/** Throws `INVALID_ARGUMENT` unless `name` can name a private space. */
export function assertSpaceName(name: unknown): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_SPACE_NAME_LENGTH ||
    !isWellFormed(name)
  ) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `a space name must be a well-formed string of 1 to ${MAX_SPACE_NAME_LENGTH} characters`,
    )
  }
}

/** The id of the space `name` owned by `owner`. */
export function spaceIdOf(space: SpaceDescriptor): string {
  if (!(space.owner instanceof Uint8Array) || space.owner.byteLength !== PUBLIC_KEY_BYTES) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'a space owner must be a 32-byte Ed25519 public key',
    )
  }
  assertSpaceName(space.name)
  const name = new TextEncoder().encode(space.name)
  const input = new Uint8Array(DOMAIN.byteLength + PUBLIC_KEY_BYTES + name.byteLength)
  input.set(DOMAIN, 0)
  input.set(space.owner, DOMAIN.byteLength)
  input.set(name, DOMAIN.byteLength + PUBLIC_KEY_BYTES)
  return SPACE_ID_PREFIX + toBase32(sha256(input))
}

/** Whether `id` has the form of a private space id (it says nothing of who owns it). */
export function isPrivateSpaceId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id)
}

/** The 32 hash bytes of a private space id (how grants carry it). */
export function spaceIdBytes(id: string): Uint8Array {
  if (!isPrivateSpaceId(id)) {
    throw new MendsyncError('INVALID_ARGUMENT', `'${id}' is not a private space id`)
  }
  return fromBase32(id.slice(SPACE_ID_PREFIX.length), 'space id')
}

/** The private space id of 32 hash bytes. */
export function spaceIdFromBytes(bytes: Uint8Array): string {
  return SPACE_ID_PREFIX + toBase32(bytes)
}
