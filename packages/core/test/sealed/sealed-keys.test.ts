import { describe, expect, it } from 'vitest'
import {
  cartAdd,
  emptyValue,
  encodeValue,
  isMendsyncError,
  joinValues,
  readCart,
  readRegister,
  writeRegister,
} from '../../src/index.js'
import {
  isKeyedId,
  KEYED_ID_BYTES,
  keyedKeyId,
  keyedSkuId,
  openValue,
  requireIntact,
  SPACE_KEY_BYTES,
  SpaceKeyring,
  sealValue,
} from '../../src/sealed/index.js'

const SPACE = 'ms1-test-space'

function occurs(haystack: Uint8Array, needle: string): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle, 'utf8'))
}

describe('space keyrings', () => {
  it('refuses an empty epoch list, a duplicate epoch, a negative epoch and a short key', () => {
    const key = new Uint8Array(SPACE_KEY_BYTES)
    const attempts = [
      () => SpaceKeyring.fromEpochs(SPACE, []),
      () =>
        SpaceKeyring.fromEpochs(SPACE, [
          { epoch: 0, key },
          { epoch: 0, key },
        ]),
      () => SpaceKeyring.fromEpochs(SPACE, [{ epoch: -1, key }]),
      () => SpaceKeyring.fromEpochs(SPACE, [{ epoch: 0, key: new Uint8Array(16) }]),
    ]
    for (const attempt of attempts) {
      expect(attempt).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })

  it('shows no key when logged or serialised', () => {
    const keyring = SpaceKeyring.create(SPACE)
    expect(Object.keys(keyring).sort()).toEqual(['currentEpoch', 'spaceId'])
    expect(JSON.stringify(keyring)).toBe(`{"spaceId":"${SPACE}","currentEpoch":0}`)
  })

  it('a keyring rebuilt from the epochs it hands out derives the same subkeys', () => {
    const keyring = SpaceKeyring.create(SPACE).rotate()
    const copy = SpaceKeyring.fromEpochs(SPACE, keyring.epochs())
    expect(copy.currentEpoch).toBe(1)
    expect(keyedKeyId(copy, 'k')).toBe(keyedKeyId(keyring, 'k'))
    expect(copy.valueKey(0)).toEqual(keyring.valueKey(0))
    expect(copy.valueKey(1)).toEqual(keyring.valueKey(1))
    expect(copy.valueKey(0)).not.toEqual(copy.valueKey(1))
  })

  it('the same space key in another space derives other subkeys', () => {
    const epochs = SpaceKeyring.create(SPACE).epochs()
    const a = SpaceKeyring.fromEpochs(SPACE, epochs)
    const b = SpaceKeyring.fromEpochs('ms1-other-space', epochs)
    expect(a.valueKey(0)).not.toEqual(b.valueKey(0))
    expect(keyedKeyId(a, 'cart:alice')).not.toBe(keyedKeyId(b, 'cart:alice'))
  })
})

describe('keyed ids', () => {
  const keyring = SpaceKeyring.create(SPACE)

  it('are deterministic, keep at least 128 bits, and are valid mendsync keys', () => {
    const id = keyedKeyId(keyring, 'cart:alice')
    expect(keyedKeyId(keyring, 'cart:alice')).toBe(id)
    expect(KEYED_ID_BYTES * 8).toBeGreaterThanOrEqual(128)
    expect(isKeyedId(id)).toBe(true)
    expect(id).toMatch(/^~[A-Za-z0-9_-]{24}$/)
    expect(isKeyedId('cart:alice')).toBe(false)
  })

  it('differ between names, between key and sku ids, and for one sku in two keys', () => {
    const alice = keyedKeyId(keyring, 'cart:alice')
    const bob = keyedKeyId(keyring, 'cart:bob')
    expect(alice).not.toBe(bob)
    expect(keyedSkuId(keyring, alice, 'apple')).not.toBe(keyedSkuId(keyring, bob, 'apple'))
    expect(keyedSkuId(keyring, alice, 'apple')).not.toBe(keyedSkuId(keyring, alice, 'bread'))
    expect(keyedSkuId(keyring, alice, 'cart:alice')).not.toBe(keyedKeyId(keyring, 'cart:alice'))
  })

  it('stay the same across a rotation, so writes of every epoch merge into one state', () => {
    const rotated = keyring.rotate()
    expect(keyedKeyId(rotated, 'cart:alice')).toBe(keyedKeyId(keyring, 'cart:alice'))
  })
})

describe('sealed values', () => {
  const keyring = SpaceKeyring.create(SPACE)
  const name = 'cart:alice'
  const secret = 'the secret value 0123456789'

  it('hide the key name, skus, meta and values from the encoded state', () => {
    let plain = writeRegister(emptyValue(), { replica: 'r1' }, secret).state
    plain = cartAdd(plain, { replica: 'r1' }, 'sku-apple', 3, { label: 'green apples' }).state
    const keyId = keyedKeyId(keyring, name)
    const state = sealValue(keyring, keyId, plain)
    const bytes = encodeValue(state)
    for (const text of [name, 'sku-apple', 'green apples', 'label', secret]) {
      expect(occurs(bytes, text)).toBe(false)
    }
    expect(occurs(encodeValue(plain), secret)).toBe(true)
    const opened = requireIntact(openValue(keyring, keyId, state))
    expect(readRegister(opened.value).value).toBe(secret)
    expect(readCart(opened.value)).toEqual([
      {
        sku: 'sku-apple',
        qty: 3,
        meta: { label: 'green apples' },
        metaSiblings: [{ label: 'green apples' }],
      },
    ])
  })

  it('after a rotation: new writes use the new epoch, holders read both, a device left out reads only the old', () => {
    const rotated = keyring.rotate()
    const first = writeRegister(emptyValue(), { replica: 'r1' }, 'before')
    const keyId = keyedKeyId(keyring, name)
    const sealedFirst = sealValue(keyring, keyId, first.delta)
    const second = writeRegister(first.state, { replica: 'r2' }, 'after')
    const state = joinValues(sealedFirst, sealValue(rotated, keyId, second.delta))

    const holder = requireIntact(openValue(rotated, keyId, state))
    expect(readRegister(holder.value).siblings.map((s) => s.value)).toEqual(['before', 'after'])

    const leftOut = openValue(keyring, keyId, state)
    expect(readRegister(leftOut.value).siblings.map((s) => s.value)).toEqual(['before'])
    expect(leftOut.quarantined).toEqual([
      { dot: { replica: 'r2', counter: 1 }, store: 'register', reason: 'unknown-epoch' },
    ])
    try {
      requireIntact(leftOut)
      expect.unreachable('requireIntact must throw')
    } catch (error) {
      expect(isMendsyncError(error, 'ACCESS_DENIED')).toBe(true)
    }
  })

  it('refuses to seal a cart line holding one dot in two of its stores', () => {
    const line = cartAdd(emptyValue(), { replica: 'r1' }, 'apple', 1).state
    const apple = line.cart.get('apple')
    if (apple === undefined) throw new Error('the add made no line')
    const broken = { ...line, cart: new Map([['apple', { ...apple, sets: apple.adds }]]) }
    expect(() => sealValue(keyring, keyedKeyId(keyring, name), broken)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('requireIntact names the key it is told and the dots it left out', () => {
    const keyId = keyedKeyId(keyring, name)
    const sealed = sealValue(
      keyring,
      keyId,
      writeRegister(emptyValue(), { replica: 'r1' }, 'x').state,
    )
    const entry = sealed.register[0]
    if (entry === undefined) throw new Error('the write made no sibling')
    const forged = {
      ...sealed,
      register: [{ ...entry, value: { ...entry.value, value: new Uint8Array(60) } }],
    }
    expect(() => requireIntact(openValue(keyring, keyId, forged), `key "${name}"`)).toThrow(
      /key "cart:alice": 1 sealed entry failed authentication .*r1:1/,
    )
  })

  it('a tombstone opens to no entries, keeping its context', () => {
    const written = writeRegister(emptyValue(), { replica: 'r1' }, 'x').state
    const keyId = keyedKeyId(keyring, name)
    const deleted = sealValue(keyring, keyId, { ...written, register: [] })
    const opened = requireIntact(openValue(keyring, keyId, deleted))
    expect(opened.value.register).toEqual([])
    expect(opened.value.context).toBe(written.context)
  })
})
