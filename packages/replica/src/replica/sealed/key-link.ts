// The space key in an invite link's URL fragment (`https://app/join/<invite>#key=...`). The
// fragment is never sent to a server or relay (browsers keep it out of requests), and the
// inviter can be offline when the link is opened. The trade-off: whoever sees the link (chat
// history, a screenshot, a QR photo) holds the key and can read everything written until the
// next rotation, even after the invite itself expires or is revoked.
import { MendsyncError } from '@mendsync/core'
import { fromBase64Url, toBase64Url } from '@mendsync/core/access'
import { SPACE_KEY_BYTES, SpaceKeyring } from '@mendsync/core/sealed'

/** Name of the fragment parameter that carries the space key. */
export const KEY_FRAGMENT_PARAM = 'key'

/** Bytes per epoch in the encoded key: a big-endian u32 epoch, then its 256-bit key. */
const EPOCH_BYTES = 4 + SPACE_KEY_BYTES

/** Most epochs a link may carry (bounds what a decoder allocates). */
const MAX_LINK_EPOCHS = 256

/**
 * The fragment parameter (`key=<base64url>`, no `#`) that carries every epoch of `keyring`:
 * append it to an invite link as `#key=...` (or after other fragment parameters with `&`).
 * The space id is not in it: the joining device knows it from the invite.
 */
export function encodeKeyFragment(keyring: SpaceKeyring): string {
  const epochs = keyring.epochs()
  const bytes = new Uint8Array(epochs.length * EPOCH_BYTES)
  const view = new DataView(bytes.buffer)
  epochs.forEach(({ epoch, key }, i) => {
    view.setUint32(i * EPOCH_BYTES, epoch)
    bytes.set(key, i * EPOCH_BYTES + 4)
  })
  return `${KEY_FRAGMENT_PARAM}=${toBase64Url(bytes)}`
}

/**
 * The keyring of space `spaceId` from a link's fragment: accepts a whole URL, `#key=...` or
 * `key=...`, with other fragment parameters around it. `INVALID_ARGUMENT` when the fragment
 * carries no key or a malformed one.
 */
export function decodeKeyFragment(link: string, spaceId: string): SpaceKeyring {
  const hash = link.indexOf('#')
  const fragment = hash >= 0 ? link.slice(hash + 1) : link
  const encoded = new URLSearchParams(fragment).get(KEY_FRAGMENT_PARAM)
  if (encoded === null || encoded.length === 0) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `the link's fragment carries no "${KEY_FRAGMENT_PARAM}=": ask for the whole invite link`,
    )
  }
  const bytes = fromBase64Url(encoded, 'the space key in the link')
  const count = bytes.length / EPOCH_BYTES
  if (!Number.isInteger(count) || count === 0 || count > MAX_LINK_EPOCHS) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      'the space key in the link is malformed (truncated or altered): ask for the link again',
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const epochs = Array.from({ length: count }, (_, i) => ({
    epoch: view.getUint32(i * EPOCH_BYTES),
    key: bytes.subarray(i * EPOCH_BYTES + 4, (i + 1) * EPOCH_BYTES),
  }))
  return SpaceKeyring.fromEpochs(spaceId, epochs)
}
