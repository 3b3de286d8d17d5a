import { type CausalValue, decodeValue, encodeValue, MendsyncError } from '@mendsync/core'
import { keyedKeyId, keyedSkuId, SpaceKeyring } from '@mendsync/core/sealed'
import {
  MemoryStorage,
  MemoryStore,
  openReplica,
  type Replica,
  type ReplicaOptions,
} from '@mendsync/replica'
import type { Storage } from '@mendsync/replica/adapter'
import { createInProcessHub, type InProcessHub } from '@mendsync/replica/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { changed } from './support.js'

const SPACE = 'sealed-test'

/** Strings only the key holders may ever see. */
const SECRETS = ['note-title', 'secret-note-value', 'cart-alpha', 'sku-banana', 'meta-yellow']

interface Device {
  readonly replica: Replica
  readonly store: MemoryStore
  readonly peerId: string
}

let hub: InProcessHub
let devices: Device[] = []

afterEach(async () => {
  await Promise.all(devices.map((d) => d.replica.close()))
  devices = []
})

async function device(
  options: Partial<ReplicaOptions> & { wrap?: (storage: Storage) => Storage } = {},
): Promise<Device> {
  const { wrap = (s: Storage) => s, ...rest } = options
  const store = new MemoryStore()
  const network = hub.createNetwork()
  const replica = await openReplica({
    space: SPACE,
    storage: wrap(new MemoryStorage({ store })),
    network,
    ...rest,
  })
  const created = { replica, store, peerId: network.peerId }
  devices.push(created)
  return created
}

/** Two key holders linked only through a keyless replica (the blind relay). */
async function blindTopology(
  holderB: Partial<ReplicaOptions> & { wrap?: (s: Storage) => Storage } = {},
) {
  hub = createInProcessHub({ autoLink: false })
  const keyring = SpaceKeyring.create(SPACE)
  const relay = await device()
  const a = await device({ sealed: keyring })
  const b = await device({ sealed: keyring, ...holderB })
  hub.link(a.peerId, relay.peerId)
  hub.link(b.peerId, relay.peerId)
  return { keyring, relay, a, b }
}

/** Every byte the replica stored (keys and records of both namespaces), as one latin1 string. */
async function storedText(replica: Replica, store: MemoryStore): Promise<string> {
  await replica.settled()
  const storage = new MemoryStorage({ store })
  const parts: string[] = []
  for (const namespace of ['values', 'meta'] as const) {
    let cursor: string | undefined
    for (let page = 0; page < 10_000; page++) {
      const result = await storage.scan({
        namespace,
        ...(cursor === undefined ? {} : { after: cursor }),
      })
      for (const entry of result.entries) {
        parts.push(entry.key, Buffer.from(entry.value).toString('latin1'))
      }
      if (result.cursor === undefined) break
      cursor = result.cursor
    }
  }
  await storage.close()
  return parts.join('\n')
}

/** Resolves when `holder` reads `key` satisfying `accept`, nudging syncs meanwhile. */
function reads(
  holder: Device,
  key: string,
  accept: (r: Awaited<ReturnType<Replica['get']>>) => boolean,
) {
  return changed(holder.replica, key, async () =>
    accept(await holder.replica.get(key, { repair: 'none' })),
  )
}

describe('encrypted spaces through a blind relay', () => {
  it('holders converge through a keyless replica on registers and carts', async () => {
    const { a, b } = await blindTopology()
    await a.replica.put('note-title', 'secret-note-value')
    await a.replica.cart('cart-alpha').add('sku-banana', 2, 'meta-yellow')
    await reads(b, 'note-title', (r) => r.value === 'secret-note-value')
    await reads(b, 'cart-alpha', (r) => r.lines[0]?.qty === 2)
    const cart = await b.replica.get('cart-alpha', { repair: 'none' })
    expect(cart.lines).toMatchObject([{ sku: 'sku-banana', qty: 2, meta: 'meta-yellow' }])
    expect(cart.quarantined).toEqual([])
  })

  it('keeps add-wins for a concurrent add and remove of a cart line through the relay', async () => {
    const { a, b, relay } = await blindTopology()
    await a.replica.cart('cart-alpha').add('sku-banana', 2)
    await reads(b, 'cart-alpha', (r) => r.lines[0]?.qty === 2)
    hub.unlink(a.peerId, relay.peerId)
    hub.unlink(b.peerId, relay.peerId)
    await a.replica.cart('cart-alpha').remove('sku-banana')
    await b.replica.cart('cart-alpha').add('sku-banana', 1)
    hub.link(a.peerId, relay.peerId)
    hub.link(b.peerId, relay.peerId)
    const survived = (r: Awaited<ReturnType<Replica['get']>>) =>
      r.lines.length === 1 && r.lines[0]?.sku === 'sku-banana' && r.lines[0]?.qty === 1
    const converged = Promise.all([
      reads(a, 'cart-alpha', survived),
      reads(b, 'cart-alpha', survived),
    ])
    await b.replica.sync()
    await relay.replica.sync()
    await a.replica.sync()
    await converged
  })

  it("stores none of the holders' names, skus, meta or values on the keyless replica", async () => {
    const { a, b, relay, keyring } = await blindTopology()
    await a.replica.put('note-title', 'secret-note-value')
    await a.replica.cart('cart-alpha').add('sku-banana', 2, 'meta-yellow')
    await reads(b, 'cart-alpha', (r) => r.lines[0]?.meta === 'meta-yellow')
    const text = await storedText(relay.replica, relay.store)
    // The relay did store the sealed states (under their keyed ids), just nothing readable.
    expect(text).toContain(keyedKeyId(keyring, 'cart-alpha'))
    expect(text).toContain(keyedKeyId(keyring, 'note-title'))
    for (const secret of SECRETS) expect(text).not.toContain(secret)
    // The holders' own storage is sealed too.
    const holderText = await storedText(a.replica, a.store)
    for (const secret of SECRETS) expect(holderText).not.toContain(secret)
    // The relay reads the keyed id as an ordinary key holding unreadable bytes.
    expect((await relay.replica.get('cart-alpha', { repair: 'none' })).kind).toBe('absent')
  })

  it('delivers prefix subscriptions under the names this holder used, with the opened state', async () => {
    const { a, b } = await blindTopology()
    const seen: { key: string; lines: number }[] = []
    b.replica.subscribe({ prefix: 'cart-' }, (change) =>
      seen.push({ key: change.key, lines: change.state.cart.size }),
    )
    // Naming the key once (a read) puts it in b's name index.
    expect((await b.replica.get('cart-alpha', { repair: 'none' })).kind).toBe('absent')
    await a.replica.cart('cart-alpha').add('sku-banana', 2)
    await reads(b, 'cart-alpha', (r) => r.lines.length === 1)
    expect(seen).toContainEqual({ key: 'cart-alpha', lines: 1 })
    expect(seen.every((change) => change.key === 'cart-alpha')).toBe(true)
  })

  it("never shows a tampered entry: the read reports it and the key's other lines stay readable", async () => {
    let tamper: ((key: string, bytes: Uint8Array) => Uint8Array) | undefined
    /** b's storage hands back the state of `cart-alpha` with one envelope's byte flipped. */
    const wrap = (storage: Storage): Storage =>
      new Proxy(storage, {
        get(target, property, receiver) {
          if (property !== 'get') return Reflect.get(target, property, receiver)
          return async (namespace: 'values' | 'meta', keys: readonly string[]) => {
            const found = await target.get(namespace, keys)
            if (namespace !== 'values' || tamper === undefined) return found
            const flip = tamper
            return found.map((bytes, i) =>
              bytes === undefined ? bytes : flip(keys[i] as string, bytes),
            )
          }
        },
      })
    const { a, b, keyring } = await blindTopology({ wrap, cacheMaxKeys: 0 })
    const cartId = keyedKeyId(keyring, 'cart-alpha')
    await a.replica.cart('cart-alpha').add('sku-banana', 2, 'meta-yellow')
    await a.replica.cart('cart-alpha').add('sku-apple', 3)
    await reads(b, 'cart-alpha', (r) => r.lines.length === 2)
    const bananaId = keyedSkuId(keyring, cartId, 'sku-banana')
    tamper = (key, bytes) => {
      if (key !== cartId) return bytes
      const state = decodeValue(bytes)
      const cart = new Map(state.cart)
      const line = cart.get(bananaId)
      if (line === undefined) return bytes
      // Every envelope of the line (its add and its meta) gets one flipped byte.
      const meta = line.meta.map((entry) => {
        const envelope = new Uint8Array(entry.value as Uint8Array)
        envelope[envelope.length - 1] = (envelope[envelope.length - 1] as number) ^ 0x01
        return { ...entry, value: envelope }
      })
      cart.set(bananaId, { ...line, meta })
      return encodeValue({ ...state, cart } as CausalValue)
    }
    const events: string[] = []
    b.replica.onQuarantine((q) =>
      events.push(`${q.key}:${q.entries.map((e) => e.reason).join(',')}`),
    )
    const read = await b.replica.get('cart-alpha', { repair: 'none' })
    expect(read.lines.map((l) => l.sku)).toEqual(['sku-apple'])
    expect(read.lines[0]?.qty).toBe(3)
    const tampered = expect.objectContaining({ reason: 'tampered', skuId: bananaId })
    expect(read.quarantined).toEqual([tampered, tampered])
    expect(events).toEqual(['cart-alpha:tampered,tampered'])
    expect(b.replica.metrics().sealed_quarantined).toBe(2)
    const intact = b.replica.get('cart-alpha', { repair: 'none', intact: true })
    await expect(intact).rejects.toBeInstanceOf(MendsyncError)
    await expect(intact).rejects.toMatchObject({ code: 'SEALED_TAMPERED' })
    // The honest holder still reads both lines.
    expect((await a.replica.get('cart-alpha', { repair: 'none' })).lines).toHaveLength(2)
  })
})
