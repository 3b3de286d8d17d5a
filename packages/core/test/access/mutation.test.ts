import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeInvite,
  decodeProof,
  encodeInvite,
  encodeProof,
  redeemInvite,
} from '../../src/access/index.js'
import { isMendsyncError } from '../../src/errors.js'
import { EVERYTHING_BUT_INVITE, keys, makeSpace, NOW, READ_WRITE } from './fixtures.js'

/**
 * Whether the verifier grants anything for `bytes` (a possibly mutated proof) to `subject`.
 * Every refusal must be typed: INVALID_ARGUMENT while decoding, ACCESS_DENIED while verifying.
 */
async function accepted(
  verify: (bytes: Uint8Array) => Promise<unknown>,
  bytes: Uint8Array,
): Promise<boolean> {
  try {
    await verify(bytes)
    return true
  } catch (error) {
    if (isMendsyncError(error, 'INVALID_ARGUMENT') || isMendsyncError(error, 'ACCESS_DENIED'))
      return false
    throw error
  }
}

const mutation = fc.record({
  at: fc.nat(),
  xor: fc.integer({ min: 1, max: 255 }),
  extra: fc.option(fc.uint8Array({ minLength: 1, maxLength: 4 }), { nil: undefined }),
  cut: fc.boolean(),
})

function mutate(
  bytes: Uint8Array,
  m: { at: number; xor: number; extra?: Uint8Array; cut: boolean },
): Uint8Array {
  const out = new Uint8Array(bytes)
  const at = m.at % out.byteLength
  out[at] = (out[at] as number) ^ m.xor
  if (m.cut) return out.subarray(0, at + 1)
  if (m.extra) {
    const longer = new Uint8Array(out.byteLength + m.extra.byteLength)
    longer.set(out)
    longer.set(m.extra, out.byteLength)
    return longer
  }
  return out
}

describe('mutated proofs and invites', () => {
  it('are never accepted: every byte flip, truncation or extension of a valid chain is refused', async () => {
    const s = await makeSpace()
    const [admin, device] = await keys(2)
    const bytes = encodeProof(await s.chain([admin!, device!], [EVERYTHING_BUT_INVITE, READ_WRITE]))
    const verify = async (b: Uint8Array) =>
      await s.verifier.verify(decodeProof(b), device!.publicKey.raw)
    expect(await accepted(verify, bytes)).toBe(true)
    let acceptedCount = 0
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        if (await accepted(verify, mutate(bytes, m))) acceptedCount += 1
      }),
      { numRuns: 1500 },
    )
    expect(acceptedCount).toBe(0)
  })

  it('are never accepted when the invite token is mutated before redeeming', async () => {
    const s = await makeSpace()
    const [device] = await keys(1)
    const text = encodeInvite(
      await (await import('../../src/access/index.js')).createInvite(s.owner, {
        space: s.space,
        rights: READ_WRITE,
        now: NOW,
      }),
    )
    const raw = new TextEncoder().encode(text)
    const verify = async (b: Uint8Array) => {
      const invite = decodeInvite(new TextDecoder().decode(b))
      return await s.verifier.verify(
        await redeemInvite(invite, device!.publicKey.raw, { now: NOW }),
        device!.publicKey.raw,
      )
    }
    expect(await accepted(verify, raw)).toBe(true)
    let acceptedCount = 0
    let sameRights = 0
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const mutated = mutate(raw, m)
        if (await accepted(verify, mutated)) {
          // A flip inside the invite's secret seed gives another invite key, which the signed
          // chain does not name: it must be refused like any other mutation.
          acceptedCount += 1
          sameRights += 1
        }
      }),
      { numRuns: 500 },
    )
    expect({ acceptedCount, sameRights }).toEqual({ acceptedCount: 0, sameRights: 0 })
  })
})
