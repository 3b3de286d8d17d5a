import {
  emptyValue,
  encodeValue,
  hashBytes,
  RECENCY_VERSION,
  ReconcileSession,
  writeRegister,
} from '@mendsync/core'
import { MemoryStorage } from '@mendsync/replica'
import { describe, expect, it } from 'vitest'
import { LocalState } from '../../src/replica/state/local-state.js'
import { stateTime } from '../../src/replica/state/state-time.js'

function registerState(value: number, wall: number) {
  return writeRegister(emptyValue(), { replica: 'writer-1', time: { wall, logical: 0 } }, value)
    .state
}

/** The version byte of the first message a session over `local`'s tree sends. */
function firstMessageVersion(local: LocalState): number {
  return new ReconcileSession(local.tree).initiate()[0]!
}

describe('LocalState', () => {
  it('opens without a recency order, then indexes every state’s time, keeping writes made meanwhile', async () => {
    const storage = new MemoryStorage()
    const values = []
    for (let i = 0; i < 200; i++) {
      values.push({ key: `k${i}`, value: encodeValue(registerState(i, 1000 + i)) })
    }
    await storage.write({ values, durability: 'strict' })
    const local = new LocalState(storage, 16)
    await local.rebuildTree()
    expect(local.tree.size).toBe(200)
    // Times unknown yet: the session runs the coded symbols alone (version 1).
    expect(firstMessageVersion(local)).toBe(1)
    const indexing = local.indexTimes()
    const late = registerState(999, 5000)
    const lateBytes = encodeValue(late)
    await storage.write({ values: [{ key: 'late', value: lateBytes }], durability: 'strict' })
    local.stored('late', hashBytes(lateBytes), late)
    await indexing
    expect(local.tree.size).toBe(201)
    expect(local.tree.has('late')).toBe(true)
    expect(firstMessageVersion(local)).toBe(RECENCY_VERSION)
  })

  it('gives a register the greatest wall time among its siblings, and a state without siblings none', () => {
    const a = registerState(1, 1234)
    const b = writeRegister(
      emptyValue(),
      { replica: 'writer-2', time: { wall: 99, logical: 3 } },
      2,
    )
    expect(stateTime(a)).toBe(1234)
    expect(stateTime(emptyValue())).toBeUndefined()
    const both = { ...a, register: [...a.register, ...b.state.register] }
    expect(stateTime(both)).toBe(1234)
  })
})
