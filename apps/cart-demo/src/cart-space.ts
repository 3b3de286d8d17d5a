// Which cart this profile shows, and the proof that lets its device open it. `?space=<name>`
// keeps the named open space of the earlier demo (and of its tests); without it every shopper's
// cart is a private space (`ms1…`): created here the first time, with an owner key kept in
// IndexedDB, or joined through an invite link (`#invite=<token>`).
import { decodeProof, encodeProof } from '@mendsync/core/access'
import {
  type AccessProof,
  createSpace,
  grantAccess,
  type RightName,
  redeemInviteToken,
  type SigningKey,
} from '@mendsync/replica'
import { demoLogger } from './logger.js'

/** The rights of this profile's device in a cart it created: everything, so it can invite. */
const OWNER_DEVICE_RIGHTS: readonly RightName[] = ['read', 'write', 'admin', 'invite']
const DATABASE = 'mendsync-demo-keys'
const STORE = 'keys'
const CART_RECORD = 'cart'
const OWNER_RECORD = 'owner'

/** The cart to open: a named open space, or a private space with this device's proof. */
export type CartSpace =
  | { readonly kind: 'open'; readonly space: string }
  | { readonly kind: 'private'; readonly space: string; readonly proof: AccessProof }

/** What is kept of a private cart: its id and this device's proof (`encodeProof`). */
interface StoredCart {
  readonly space: string
  readonly proof: Uint8Array
}

function request<T>(operation: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    operation.onsuccess = () => resolve(operation.result)
    operation.onerror = () => reject(operation.error)
  })
}

async function keyDatabase(): Promise<IDBDatabase> {
  const opening = indexedDB.open(DATABASE, 1)
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE)
  return await request(opening)
}

async function readRecord<T>(name: string): Promise<T | undefined> {
  const db = await keyDatabase()
  try {
    return (await request(db.transaction(STORE).objectStore(STORE).get(name))) as T | undefined
  } finally {
    db.close()
  }
}

async function writeRecord(name: string, value: unknown): Promise<void> {
  const db = await keyDatabase()
  try {
    await request(db.transaction(STORE, 'readwrite').objectStore(STORE).put(value, name))
  } finally {
    db.close()
  }
}

/** A signing key over a Web Crypto Ed25519 key pair whose private half cannot be exported. */
async function webCryptoSigner(pair: CryptoKeyPair): Promise<SigningKey> {
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  return {
    type: 'Ed25519',
    publicKey: { raw },
    sign: async (data) =>
      new Uint8Array(await crypto.subtle.sign('Ed25519', pair.privateKey, new Uint8Array(data))),
  }
}

/**
 * The owner key of this profile's carts: a non-extractable Web Crypto Ed25519 key pair kept in
 * IndexedDB (a CryptoKey survives structured cloning; its private bytes never reach script).
 */
async function ownerKey(): Promise<SigningKey> {
  const stored = await readRecord<CryptoKeyPair>(OWNER_RECORD)
  if (stored !== undefined) return await webCryptoSigner(stored)
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  await writeRecord(OWNER_RECORD, pair)
  return await webCryptoSigner(pair)
}

/** The invite token of the page's `#invite=…` fragment, if any. */
function inviteInUrl(): string | undefined {
  const fragment = new URLSearchParams(location.hash.slice(1))
  return fragment.get('invite') ?? undefined
}

/** The page's link for joining with `token`: the token rides in the fragment, never sent to a server. */
export function inviteLink(token: string): string {
  return `${location.origin}${location.pathname}#invite=${token}`
}

async function keep(space: string, proof: AccessProof): Promise<CartSpace> {
  await writeRecord(CART_RECORD, { space, proof: encodeProof(proof) } satisfies StoredCart)
  return { kind: 'private', space, proof }
}

/**
 * The cart this profile opens, for the device whose libp2p peer id is `device`: an invite in the
 * URL is redeemed (the redeemed invite is the device's whole proof: the inviter's chain, the
 * invite's grant and the device's own grant, signed offline with the invite's key), else the
 * kept cart, else a new private cart whose owner grants this device every right. Serialised
 * across the profile's tabs, so two tabs opening at once make one cart.
 */
export async function resolveCartSpace(named: string | null, device: string): Promise<CartSpace> {
  if (named !== null) return { kind: 'open', space: named }
  return await navigator.locks.request('mendsync-demo:cart', async () => {
    const token = inviteInUrl()
    if (token !== undefined) {
      const joined = await redeemInviteToken(token, device)
      history.replaceState(null, '', location.pathname + location.search)
      return await keep(joined.spaceId, joined.proof)
    }
    const stored = await readRecord<StoredCart>(CART_RECORD)
    if (stored !== undefined) {
      try {
        return { kind: 'private', space: stored.space, proof: decodeProof(stored.proof) }
      } catch (error) {
        demoLogger.warn('the kept cart proof is unreadable; starting a new cart', { error })
      }
    }
    const owner = await ownerKey()
    const created = createSpace(owner, `cart-${crypto.randomUUID()}`)
    const proof = await grantAccess(owner, created.proof, device, { rights: OWNER_DEVICE_RIGHTS })
    return await keep(created.spaceId, proof)
  })
}
