import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isMendsyncError } from '../../src/errors.js'
import {
  BoundedMap,
  BoundedSet,
  KeyedListeners,
  KeyedRateLimiter,
  Listeners,
  type LogEntry,
  lowerBound,
  makeLogger,
  patternFilter,
  randomHexId,
  Semaphore,
  seededRandom,
  silentLogger,
  TokenBucket,
} from '../../src/toolbox/index.js'

describe('BoundedMap', () => {
  it('behaves like an LRU model under any sequence of get, set and delete', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.nat(6), value: fc.nat() }),
      fc.record({ kind: fc.constant('get' as const), key: fc.nat(6) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.nat(6) }),
    )
    fc.assert(
      fc.property(fc.nat(4), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const map = new BoundedMap<number, number>(capacity)
        const model: [number, number][] = [] // oldest first
        for (const step of ops) {
          const at = model.findIndex(([key]) => key === step.key)
          if (step.kind === 'set') {
            if (capacity === 0) continue
            if (at >= 0) model.splice(at, 1)
            model.push([step.key, step.value])
            while (model.length > capacity) model.shift()
            map.set(step.key, step.value)
          } else if (step.kind === 'get') {
            const expected = at >= 0 ? model[at]![1] : undefined
            if (at >= 0) model.push(...model.splice(at, 1))
            expect(map.get(step.key)).toBe(expected)
          } else {
            if (at >= 0) model.splice(at, 1)
            expect(map.delete(step.key)).toBe(at >= 0)
          }
          expect([...map.entriesOldestFirst()]).toEqual(model)
        }
      }),
    )
  })

  it('reports evictions by capacity, not deletions', () => {
    const evicted: string[] = []
    const map = new BoundedMap<string, number>(2, (key) => evicted.push(key))
    map.set('a', 1)
    map.set('b', 2)
    map.delete('a')
    map.set('c', 3)
    map.set('d', 4)
    expect(evicted).toEqual(['b'])
    expect(map.peek('c')).toBe(3)
  })

  it('refuses a capacity that is not a non-negative integer', () => {
    expect(() => new BoundedMap(-1)).toThrow(RangeError)
    expect(() => new BoundedMap(1.5)).toThrow(RangeError)
  })
})

describe('BoundedSet', () => {
  it('forgets the least recently added member past its capacity', () => {
    const set = new BoundedSet<string>(2)
    set.add('a')
    set.add('b')
    set.add('a')
    set.add('c')
    expect([set.has('a'), set.has('b'), set.has('c'), set.size]).toEqual([true, false, true, 2])
  })
})

describe('Semaphore', () => {
  it('admits at most `limit` holders and hands a released slot to the first waiter', async () => {
    const semaphore = new Semaphore({ limit: 2, maxQueued: 2 })
    const first = await semaphore.acquire()
    await semaphore.acquire()
    const order: string[] = []
    const third = semaphore.acquire().then((release) => {
      order.push('third')
      return release
    })
    const fourth = semaphore.acquire().then((release) => {
      order.push('fourth')
      return release
    })
    expect([semaphore.inUse, semaphore.waiting]).toEqual([2, 2])
    first()
    first() // a second call of the same release does nothing
    const releaseThird = await third
    expect(order).toEqual(['third'])
    releaseThird()
    await fourth
    expect(order).toEqual(['third', 'fourth'])
    expect(semaphore.inUse).toBe(2)
  })

  it('fails a caller beyond the wait queue with OVERLOADED and its message', async () => {
    const semaphore = new Semaphore({ limit: 1, maxQueued: 0, overloadedMessage: 'too busy' })
    await semaphore.acquire()
    const error = await semaphore.acquire().catch((e: unknown) => e)
    expect(isMendsyncError(error, 'OVERLOADED') && error.message).toBe('too busy')
  })

  it('drops an aborted waiter without taking a slot', async () => {
    const semaphore = new Semaphore({ limit: 1, maxQueued: 4 })
    const release = await semaphore.acquire()
    const controller = new AbortController()
    const waiting = semaphore.acquire(controller.signal)
    controller.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
    expect(semaphore.waiting).toBe(0)
    release()
    expect(semaphore.inUse).toBe(0)
  })

  it('fails every waiter on shutdown', async () => {
    const semaphore = new Semaphore({ limit: 1, maxQueued: 4 })
    await semaphore.acquire()
    const waiting = semaphore.acquire()
    semaphore.failWaiters(new Error('closed'))
    await expect(waiting).rejects.toThrow('closed')
  })
})

describe('TokenBucket and KeyedRateLimiter', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0
    const bucket = new TokenBucket({ perSecond: 2, burst: 3, now: () => now })
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(bucket.waitMs()).toBe(500)
    now = 500
    expect([bucket.tryTake(), bucket.tryTake()]).toEqual([true, false])
  })

  it('keeps one bucket per key for a bounded number of keys', () => {
    const limiter = new KeyedRateLimiter({ perSecond: 1, burst: 1, capacity: 2, now: () => 0 })
    expect([limiter.take('a'), limiter.take('a'), limiter.take('b')]).toEqual([true, false, true])
    limiter.take('c') // forgets 'a', whose bucket starts full again
    expect(limiter.take('a')).toBe(true)
  })
})

describe('lowerBound', () => {
  it('finds the first element not less than the value in any sorted array', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), fc.string(), (values, probe) => {
        const sorted = [...values].sort()
        const expected = sorted.findIndex((value) => !(value < probe))
        expect(lowerBound(sorted, probe)).toBe(expected === -1 ? sorted.length : expected)
      }),
    )
  })
})

describe('randomHexId', () => {
  it('gives lowercase hex of the asked length, different each time', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomHexId(8)))
    expect(ids.size).toBe(100)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('Logger', () => {
  it('writes namespaced entries that the pattern enables, and nothing else', () => {
    const entries: LogEntry[] = []
    const root = makeLogger('mendsync', {
      sink: (entry) => entries.push(entry),
      enabled: 'mendsync:replica:*,-mendsync:replica:gossip',
    })
    root.child('replica').child('handoff').debug('sent', { peer: 'p1' })
    root.child('replica').child('gossip').debug('dropped')
    root.child('tabs').error('lost')
    expect(entries).toEqual([
      {
        level: 'debug',
        namespace: 'mendsync:replica:handoff',
        message: 'sent',
        context: { peer: 'p1' },
      },
    ])
  })

  it('survives a sink that throws', () => {
    const logger = makeLogger('x', {
      sink: () => {
        throw new Error('disk full')
      },
    })
    expect(() => logger.error('boom')).not.toThrow()
  })

  it('matches DEBUG-style patterns', () => {
    expect(patternFilter('mendsync:*')('mendsync:a:b', 'debug')).toBe(true)
    expect(patternFilter('')('mendsync', 'error')).toBe(false)
    expect(patternFilter('*,-mendsync:tabs')('mendsync:tabs', 'debug')).toBe(false)
  })
})

describe('Listeners and KeyedListeners', () => {
  it('reach every listener even when one throws, and log the throw', () => {
    const entries: LogEntry[] = []
    const logger = makeLogger('t', { sink: (entry) => entries.push(entry) })
    const listeners = new Listeners<number>(logger)
    const seen: number[] = []
    listeners.add(() => {
      throw new Error('bug')
    })
    const off = listeners.add((value) => seen.push(value))
    listeners.emit(1)
    off()
    listeners.emit(2)
    expect(seen).toEqual([1])
    expect(entries.map((entry) => entry.level)).toEqual(['error', 'error'])
  })

  it('route a change to its key and every matching prefix', () => {
    const keyed = new KeyedListeners<{ key: string }>(silentLogger())
    const seen: string[] = []
    keyed.add('cart/a', ({ key }) => seen.push(`key:${key}`))
    const off = keyed.add({ prefix: 'cart/' }, ({ key }) => seen.push(`prefix:${key}`))
    keyed.add({ prefix: 'other/' }, ({ key }) => seen.push(`other:${key}`))
    keyed.emit({ key: 'cart/a' })
    off()
    keyed.emit({ key: 'cart/a' })
    expect(seen).toEqual(['key:cart/a', 'prefix:cart/a', 'key:cart/a'])
  })
})

describe('seededRandom', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed)
      return [random.next(), random.int(1000), ...random.bytes(7)]
    }
    expect(draw(7)).toEqual(draw(7))
    expect(draw(7)).not.toEqual(draw(8))
    const random = seededRandom(1)
    for (let i = 0; i < 1000; i++) {
      const value = random.next()
      expect(value >= 0 && value < 1).toBe(true)
      expect(random.int(10)).toBeLessThan(10)
    }
    expect(random.bytes(5)).toHaveLength(5)
  })
})
