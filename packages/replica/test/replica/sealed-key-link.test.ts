import { keyedKeyId, SpaceKeyring } from '@mendsync/core/sealed'
import { decodeKeyFragment, encodeKeyFragment } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'

describe('the space key in an invite link fragment', () => {
  it('round-trips every epoch: the decoded keyring computes the same keyed ids', () => {
    const keyring = SpaceKeyring.create('space-1').rotate()
    const link = `https://cart.example/join/token123#other=1&${encodeKeyFragment(keyring)}`
    const decoded = decodeKeyFragment(link, 'space-1')
    expect(decoded.currentEpoch).toBe(1)
    expect(decoded.epochs()).toEqual(keyring.epochs())
    expect(keyedKeyId(decoded, 'cart')).toBe(keyedKeyId(keyring, 'cart'))
  })

  it('refuses a link without a key or with a truncated one, with INVALID_ARGUMENT', () => {
    const fragment = encodeKeyFragment(SpaceKeyring.create('space-1'))
    const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' })
    expect(() => decodeKeyFragment('https://cart.example/join/token123', 'space-1')).toThrowError(
      invalid,
    )
    expect(() => decodeKeyFragment(`#${fragment.slice(0, -4)}`, 'space-1')).toThrowError(invalid)
  })
})
