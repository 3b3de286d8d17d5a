// The inbound byte budget: per-peer, unauthorised and global caps, waiting (first come, first
// served for the shared room, without one peer holding back others), bounded waits and queue,
// and a random workload that never exceeds a cap and returns every byte.
import { isMendsyncError } from '@mendsync/core'
import type { Release } from '@mendsync/core/toolbox'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_GLOBAL_INBOUND_BYTES,
  DEFAULT_PER_PEER_INBOUND_BYTES,
  DEFAULT_UNAUTHORISED_INBOUND_BYTES,
  InboundBudget,
  type InboundBudgetOptions,
  inboundBudgetLimits,
} from '../src/framing/inbound-budget.js'

const MEMBERS = new Set(['a', 'b', 'c'])
const budget = (options: InboundBudgetOptions = {}, maxFrameBytes = 100) =>
  new InboundBudget(options, maxFrameBytes, (peer) => MEMBERS.has(peer))

/** Resolves true once `promise` settles; lets a test see whether a waiter was granted. */
function settled(promise: Promise<unknown>): { readonly done: boolean } {
  const state = { done: false }
  promise.then(
    () => {
      state.done = true
    },
    () => {
      state.done = true
    },
  )
  return state
}

describe('inbound budget limits', () => {
  it('default to 4 MiB per peer, 64 KiB without a grant, 64 MiB in all', () => {
    const limits = inboundBudgetLimits({}, 1024)
    expect(limits.perPeerBytes).toBe(DEFAULT_PER_PEER_INBOUND_BYTES)
    expect(limits.unauthorisedPeerBytes).toBe(DEFAULT_UNAUTHORISED_INBOUND_BYTES)
    expect(limits.globalBytes).toBe(DEFAULT_GLOBAL_INBOUND_BYTES)
  })

  it('grow the per-peer and global defaults to fit the largest frame, and refuse a per-peer cap below it', () => {
    const big = 100 * 1024 * 1024
    const limits = inboundBudgetLimits({}, big)
    expect(limits.perPeerBytes).toBe(big)
    expect(limits.globalBytes).toBe(big)
    expect(isMendsyncError(captured(() => inboundBudgetLimits({ perPeerBytes: 10 }, 100)))).toBe(
      true,
    )
    expect(
      isMendsyncError(
        captured(() => inboundBudgetLimits({ perPeerBytes: 100, globalBytes: 50 }, 100)),
        'INVALID_ARGUMENT',
      ),
    ).toBe(true)
  })
})

function captured(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}

describe('an inbound budget', () => {
  it('grants within the caps at once and counts per peer', async () => {
    const inbound = budget({ perPeerBytes: 100 })
    const first = await inbound.reserve('a', 60)
    const second = await inbound.reserve('b', 60)
    expect(inbound.inUse).toBe(120)
    expect(inbound.usedBy('a')).toBe(60)
    first()
    first()
    expect(inbound.inUse).toBe(60)
    expect(inbound.usedBy('a')).toBe(0)
    second()
    expect(inbound.inUse).toBe(0)
  })

  it('makes a peer over its cap wait for its own release, without holding back another peer', async () => {
    const inbound = budget({ perPeerBytes: 100, globalBytes: 1000 })
    const held = await inbound.reserve('a', 80)
    const waiting = inbound.reserve('a', 50)
    const state = settled(waiting)
    // b is served although a waits ahead of it.
    const other = await inbound.reserve('b', 90)
    expect(state.done).toBe(false)
    expect(inbound.waiting).toBe(1)
    held()
    const granted = await waiting
    expect(inbound.usedBy('a')).toBe(50)
    granted()
    other()
    expect(inbound.inUse).toBe(0)
  })

  it('serves the global room first come, first served', async () => {
    const inbound = budget({ perPeerBytes: 100, globalBytes: 150 })
    const held = await inbound.reserve('a', 100)
    const order: string[] = []
    const big = inbound.reserve('b', 100).then((release) => {
      order.push('b')
      return release
    })
    // c's 40 would fit now, but b waits ahead of it for the shared room.
    const small = inbound.reserve('c', 40).then((release) => {
      order.push('c')
      return release
    })
    expect(inbound.waiting).toBe(2)
    held()
    const releases = await Promise.all([big, small])
    expect(order).toEqual(['b', 'c'])
    for (const release of releases) release()
    expect(inbound.inUse).toBe(0)
  })

  it('gives a peer without a grant the small cap and refuses a frame over it at once', async () => {
    const inbound = budget({ unauthorisedPeerBytes: 10, unauthorisedTotalBytes: 15 }, 100)
    await expect(inbound.reserve('stranger', 11)).rejects.toMatchObject({
      code: 'OVERLOADED',
      message: expect.stringMatching(/without a grant/),
    })
    const member = await inbound.reserve('a', 100)
    const first = await inbound.reserve('stranger', 10)
    // All strangers share 15 bytes.
    const second = inbound.reserve('other-stranger', 10)
    const state = settled(second)
    expect(inbound.waiting).toBe(1)
    expect(state.done).toBe(false)
    first()
    ;(await second)()
    member()
    expect(inbound.inUse).toBe(0)
  })

  it('fails a wait past maxWaitMs, a full queue and an aborted wait with OVERLOADED / the reason', async () => {
    const inbound = budget({ perPeerBytes: 100, maxWaitMs: 20, maxWaiting: 2 })
    const held = await inbound.reserve('a', 100)
    const timedOut = inbound.reserve('a', 1)
    const controller = new AbortController()
    const aborted = inbound.reserve('a', 1, controller.signal)
    await expect(inbound.reserve('a', 1)).rejects.toMatchObject({ code: 'OVERLOADED' })
    controller.abort(new Error('gone'))
    await expect(aborted).rejects.toThrow('gone')
    await expect(timedOut).rejects.toMatchObject({ code: 'OVERLOADED' })
    expect(inbound.waiting).toBe(0)
    held()
    expect(inbound.inUse).toBe(0)
  })

  it('fails every waiter and later reservation once closed', async () => {
    const inbound = budget({ perPeerBytes: 100 })
    await inbound.reserve('a', 100)
    const waiting = inbound.reserve('a', 1)
    const error = new Error('closed')
    inbound.close(error)
    await expect(waiting).rejects.toBe(error)
    await expect(inbound.reserve('b', 1)).rejects.toBe(error)
  })

  it('never exceeds a cap under a random workload and returns every byte', async () => {
    const peers = ['a', 'b', 'c', 's1', 's2']
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            peer: fc.constantFrom(...peers),
            bytes: fc.integer({ min: 0, max: 40 }),
            releaseAfter: fc.integer({ min: 0, max: 5 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        async (ops) => {
          const inbound = budget(
            {
              perPeerBytes: 50,
              globalBytes: 120,
              unauthorisedPeerBytes: 40,
              unauthorisedTotalBytes: 60,
              maxWaitMs: 60_000,
            },
            50,
          )
          const held: Release[] = []
          const check = (): void => {
            expect(inbound.inUse).toBeLessThanOrEqual(120)
            for (const peer of peers) {
              expect(inbound.usedBy(peer)).toBeLessThanOrEqual(MEMBERS.has(peer) ? 50 : 40)
            }
            expect(inbound.usedBy('s1') + inbound.usedBy('s2')).toBeLessThanOrEqual(60)
          }
          const pending: Promise<void>[] = []
          for (const op of ops) {
            pending.push(
              inbound.reserve(op.peer, op.bytes).then(
                (release) => {
                  check()
                  held.push(release)
                },
                () => {},
              ),
            )
            // Release some of what is held, oldest first, to let waiters in.
            for (let i = 0; i < op.releaseAfter && held.length > 0; i++) held.shift()?.()
            await Promise.resolve()
            check()
          }
          // Drain: release until every reservation settled.
          let guard = 0
          while (inbound.waiting > 0 || held.length > 0) {
            held.shift()?.()
            await new Promise((resolve) => setImmediate(resolve))
            if (++guard > 10_000) throw new Error('the budget never drained')
          }
          await Promise.all(pending)
          expect(inbound.inUse).toBe(0)
        },
      ),
      { numRuns: 100 },
    )
  })
})
