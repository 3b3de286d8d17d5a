import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { MendsyncError } from '../errors.js'
import { randomBytes } from '../toolbox/random-id.js'

/** Length of a space key (one per epoch), in bytes: 256 bits. */
export const SPACE_KEY_BYTES = 32

/** Largest epoch number (epochs travel as unsigned 32-bit integers). */
export const MAX_EPOCH = 0xffff_ffff

/** HKDF salt of every subkey: names the scheme and its version. */
const HKDF_SALT = utf8ToBytes('mendsync/sealed/1')
/** HKDF info labels: one per purpose, so no subkey can stand in for another. */
const ID_KEY_LABEL = 'mendsync sealed: keyed ids'
const VALUE_KEY_LABEL = 'mendsync sealed: values'

/** One epoch's 256-bit space key. */
export interface SpaceKeyEpoch {
  readonly epoch: number
  readonly key: Uint8Array
}

function invalid(message: string): never {
  throw new MendsyncError('INVALID_ARGUMENT', message)
}

/** HKDF-SHA256 of `key`, bound to the purpose `label` and to the space (`spaceId`). */
function deriveSubkey(key: Uint8Array, label: string, spaceId: string): Uint8Array {
  return hkdf(sha256, key, HKDF_SALT, utf8ToBytes(`${label}\u0000${spaceId}`), SPACE_KEY_BYTES)
}

/** A fresh random 256-bit space key (the platform's cryptographic random source). */
export function generateSpaceKey(): Uint8Array {
  return randomBytes(SPACE_KEY_BYTES)
}

/**
 * The keys of one sealed space as a holder keeps them: the space key of every epoch it was given
 * and the subkeys derived from them.
 *
 * - The **id key** (keyed ids of key names and skus, {@link idMac}) derives from the space key of the first
 *   epoch the keyring holds, the space's root epoch: it never rotates, so a key keeps its keyed
 *   id (its storage key) across rotations and writes of every epoch merge into one state.
 * - The **value key** of each epoch seals the values written in that epoch. New writes use the
 *   newest epoch ({@link currentEpoch}); values of older epochs stay readable by holders of their
 *   keys. A device left out of a rotation cannot open anything sealed after it.
 *
 * Subkeys are HKDF-SHA256 (`@noble/hashes`) with domain-separated labels that include the space
 * id, so the same space key in two spaces yields unrelated subkeys.
 */
export class SpaceKeyring {
  /** The space these keys belong to (bound into every keyed id and sealed value). */
  readonly spaceId: string
  /** The epoch new writes are sealed with: the newest one held. */
  readonly currentEpoch: number
  // Keys live in private fields only, so that logging or serialising a keyring shows none of them.
  readonly #idKey: Uint8Array
  readonly #epochs: ReadonlyMap<number, Uint8Array>
  readonly #valueKeys: ReadonlyMap<number, Uint8Array>

  private constructor(spaceId: string, epochs: ReadonlyMap<number, Uint8Array>) {
    this.spaceId = spaceId
    this.#epochs = epochs
    const numbers = [...epochs.keys()].sort((a, b) => a - b)
    const root = epochs.get(numbers[0] as number) as Uint8Array
    this.currentEpoch = numbers[numbers.length - 1] as number
    this.#idKey = deriveSubkey(root, ID_KEY_LABEL, spaceId)
    this.#valueKeys = new Map(
      numbers.map((n) => [n, deriveSubkey(epochs.get(n) as Uint8Array, VALUE_KEY_LABEL, spaceId)]),
    )
  }

  /**
   * A keyring from the space keys of the epochs a grant carried. The lowest epoch is the root
   * (the id key derives from it), so a grant must carry it; the keys are copied. Throws
   * `INVALID_ARGUMENT` on an empty list, a duplicate or out-of-range epoch, or a key that is not
   * {@link SPACE_KEY_BYTES} bytes.
   */
  static fromEpochs(spaceId: string, epochs: Iterable<SpaceKeyEpoch>): SpaceKeyring {
    if (typeof spaceId !== 'string' || spaceId.length === 0) invalid('spaceId must be non-empty')
    const map = new Map<number, Uint8Array>()
    for (const { epoch, key } of epochs) {
      if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
        invalid(`epoch must be an integer from 0 to ${MAX_EPOCH}, got ${String(epoch)}`)
      }
      if (!(key instanceof Uint8Array) || key.length !== SPACE_KEY_BYTES) {
        invalid(`the space key of epoch ${epoch} must be ${SPACE_KEY_BYTES} bytes`)
      }
      if (map.has(epoch)) invalid(`epoch ${epoch} is given twice`)
      map.set(epoch, new Uint8Array(key))
    }
    if (map.size === 0) invalid('a keyring needs the space key of at least one epoch')
    return new SpaceKeyring(spaceId, map)
  }

  /** A new space's keyring: one fresh random key for epoch 0. */
  static create(spaceId: string): SpaceKeyring {
    return SpaceKeyring.fromEpochs(spaceId, [{ epoch: 0, key: generateSpaceKey() }])
  }

  /**
   * The keyring after a rotation: every key of this one plus `key` (default: fresh random) as
   * epoch `currentEpoch + 1`, which new writes then use. Hand the result only to the devices that
   * keep access.
   */
  rotate(key: Uint8Array = generateSpaceKey()): SpaceKeyring {
    if (this.currentEpoch >= MAX_EPOCH) invalid('the space has used every epoch number')
    return SpaceKeyring.fromEpochs(this.spaceId, [
      ...this.epochs(),
      { epoch: this.currentEpoch + 1, key },
    ])
  }

  /** Every epoch's space key, oldest first (copies: what a grant carries to a new holder). */
  epochs(): SpaceKeyEpoch[] {
    return [...this.#epochs]
      .sort(([a], [b]) => a - b)
      .map(([epoch, key]) => ({ epoch, key: new Uint8Array(key) }))
  }

  /** HMAC-SHA256 of `message` under the id key (the MAC that keyed ids truncate). */
  idMac(message: Uint8Array): Uint8Array {
    return hmac(sha256, this.#idKey, message)
  }

  /** The value key of `epoch`, or `undefined` when this keyring does not hold that epoch. */
  valueKey(epoch: number): Uint8Array | undefined {
    return this.#valueKeys.get(epoch)
  }
}
