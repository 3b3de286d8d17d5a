// The in-process hub's delivery hook: with `schedule`, every gossip message and every leg of a
// call waits for the test to deliver or drop it (the chaos checker in test/chaos drives it).
import { isMendsyncError } from '@mendsync/core'
import {
  createInProcessHub,
  FakeSpaceStore,
  type ScheduledMessage,
  text,
} from '@mendsync/replica/testing'
import { describe, expect, it } from 'vitest'

/** A hub whose messages queue up until the test takes them. */
function scheduledHub() {
  const queue: ScheduledMessage[] = []
  const waiters: (() => void)[] = []
  const hub = createInProcessHub({
    schedule: (message) => {
      queue.push(message)
      for (const wake of waiters.splice(0)) wake()
    },
  })
  /** The oldest message not taken yet (waits for one to be scheduled). */
  async function next(): Promise<ScheduledMessage> {
    while (queue.length === 0) await new Promise<void>((resolve) => waiters.push(resolve))
    return queue.shift() as ScheduledMessage
  }
  return { hub, queue, next }
}

function route(message: ScheduledMessage) {
  const { kind, call, from, to, space } = message
  return { kind, call, from, to, space }
}

function gossip(replica: string, counter: number) {
  return {
    replicaId: replica,
    versionVector: new Map([[replica, counter]]),
    summary: new Uint8Array(0),
    hints: [],
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
}

describe('in-process hub with a delivery schedule', () => {
  it('holds each gossip message per recipient until delivered, in the order the test picks', async () => {
    const { hub, queue } = scheduledHub()
    const [a, b, c] = ['a', 'b', 'c'].map((peerId) => hub.createNetwork({ peerId }))
    const ca = await a!.join('s', new FakeSpaceStore())
    const seen: string[] = []
    for (const [name, network] of [
      ['b', b!],
      ['c', c!],
    ] as const) {
      const channel = await network.join('s', new FakeSpaceStore())
      channel.on('gossip', ({ peer, message }) =>
        seen.push(`${name}<-${peer}:${message.versionVector.get('ra')}`),
      )
    }
    await ca.publish(gossip('ra', 1))
    await ca.publish(gossip('ra', 2))
    expect(seen).toEqual([])
    expect(queue.map(route)).toEqual([
      { kind: 'gossip', call: undefined, from: 'a', to: 'b', space: 's' },
      { kind: 'gossip', call: undefined, from: 'a', to: 'c', space: 's' },
      { kind: 'gossip', call: undefined, from: 'a', to: 'b', space: 's' },
      { kind: 'gossip', call: undefined, from: 'a', to: 'c', space: 's' },
    ])
    const [b1, c1, b2, c2] = queue.splice(0)
    b2!.deliver() // reordered: the second message first
    b1!.deliver()
    b1!.deliver() // duplicated
    c1!.drop() // lost
    c1!.deliver() // a lost message stays lost
    c2!.deliver()
    expect(seen).toEqual(['b<-a:2', 'b<-a:1', 'b<-a:1', 'c<-a:2'])
  })

  it('runs a pull only when its request is delivered and resolves only when its response is', async () => {
    const { hub, next } = scheduledHub()
    const a = hub.createNetwork({ peerId: 'a' })
    const b = hub.createNetwork({ peerId: 'b' })
    const ca = await a.join('s', new FakeSpaceStore())
    const store = new FakeSpaceStore({ k: 'v' })
    await b.join('s', store)
    let settled = false
    const pulled = ca.pull('b', ['k'], 'state').finally(() => {
      settled = true
    })
    const request = await next()
    expect(route(request)).toEqual({
      kind: 'request',
      call: 'pull',
      from: 'a',
      to: 'b',
      space: 's',
    })
    expect(store.pulls).toEqual([])
    request.deliver()
    const response = await next()
    expect(route(response)).toEqual({
      kind: 'response',
      call: 'pull',
      from: 'b',
      to: 'a',
      space: 's',
    })
    expect(store.pulls).toEqual([{ peer: 'a', keys: ['k'], mode: 'state' }])
    expect(settled).toBe(false)
    response.deliver()
    response.drop() // too late: a delivered leg stays delivered
    expect(await pulled).toEqual({ mode: 'state', states: [text('v')] })
  })

  it('fails a call with TIMEOUT when a leg is dropped: before the handler ran, or after', async () => {
    const { hub, next } = scheduledHub()
    const a = hub.createNetwork({ peerId: 'a' })
    const b = hub.createNetwork({ peerId: 'b' })
    const ca = await a.join('s', new FakeSpaceStore())
    const store = new FakeSpaceStore()
    await b.join('s', store)

    const lostRequest = ca.push('b', [{ key: 'k', state: text('one') }])
    const request = await next()
    request.drop()
    request.deliver() // ignored: the request is lost
    expect(isMendsyncError(await failure(lostRequest), 'TIMEOUT')).toBe(true)
    expect(store.pushed).toEqual([])

    const lostResponse = ca.push('b', [{ key: 'k', state: text('two') }])
    ;(await next()).deliver()
    const response = await next()
    expect(route(response)).toMatchObject({ kind: 'response', call: 'push', from: 'b', to: 'a' })
    response.drop()
    expect(isMendsyncError(await failure(lostResponse), 'TIMEOUT')).toBe(true)
    // The peer applied the push; only its acknowledgement was lost.
    expect(store.states.get('k')).toEqual(text('two'))
  })

  it('carries every reconciliation message as a leg of the reconcile call', async () => {
    const { hub, next } = scheduledHub()
    const a = hub.createNetwork({ peerId: 'a' })
    const b = hub.createNetwork({ peerId: 'b' })
    const local = new FakeSpaceStore({ x: '1', shared: 's' })
    const remote = new FakeSpaceStore({ y: '2', shared: 's' })
    const ca = await a.join('s', local)
    await b.join('s', remote)
    let outcome: Awaited<ReturnType<typeof ca.reconcile>> | undefined
    const running = ca.reconcile('b', local.driver()).then((result) => {
      outcome = result
    })
    const legs: string[] = []
    while (outcome === undefined) {
      const leg = await Promise.race([next(), running.then(() => undefined)])
      if (leg === undefined) break
      expect(leg.call).toBe('reconcile')
      legs.push(`${leg.kind} ${leg.from}->${leg.to}`)
      leg.deliver()
    }
    await running
    // Opening the stream, then the session messages both ways, then the states both ways.
    expect(legs.length).toBeGreaterThanOrEqual(4)
    expect(legs[0]).toBe('request a->b')
    expect(legs.at(-1)).toBe('response b->a')
    expect(new Set(legs)).toEqual(new Set(['request a->b', 'response b->a']))
    expect(outcome?.received).toEqual([{ key: 'y', state: text('2') }])
    expect(remote.accepted).toEqual([{ key: 'x', state: text('1') }])
  })
})
