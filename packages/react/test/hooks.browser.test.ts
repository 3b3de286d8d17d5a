// The hooks in real Chromium (vitest browser mode) with @testing-library/react, on real replicas
// (in memory, linked by the in-process network where two are needed) and on `Tabs`.
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import { MemoryStorage, openReplica, type Replica } from '@mendsync/replica'
import { openTabs, type Tabs } from '@mendsync/tabs'
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { createElement as h, type ReactNode } from 'react'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type CartState,
  type KeyState,
  ReplicaProvider,
  type ReplicaSource,
  type ReplicaState,
  useCart,
  useKey,
  useReplica,
  useStatus,
} from '../src/index.js'
import {
  closeReplicas,
  createInProcessHub,
  inProvider,
  memoryReplica,
  RenderCounter,
} from './fixtures.js'

afterEach(async () => {
  cleanup()
  await closeReplicas()
})

/** What a `useKey` component shows: loading, its error, or its value as JSON. */
function describeKey(state: KeyState): string {
  if (state.loading) return 'loading'
  if (state.error !== undefined) return `error: ${state.error.message}`
  return `value: ${JSON.stringify(state.value ?? null)}`
}

function KeyView(props: {
  name: string
  counter?: RenderCounter
  onState?: (s: KeyState) => void
}) {
  props.counter?.hit(props.name)
  const state = useKey(props.name)
  props.onState?.(state)
  return h('p', { 'data-testid': `key-${props.name}` }, describeKey(state))
}

function CartView(props: {
  name: string
  counter?: RenderCounter
  onState?: (s: CartState) => void
}) {
  props.counter?.hit(props.name)
  const cart = useCart(props.name)
  props.onState?.(cart)
  if (cart.loading) return h('p', { 'data-testid': 'cart' }, 'loading')
  if (cart.error !== undefined)
    return h('p', { 'data-testid': 'cart' }, `error: ${cart.error.message}`)
  return h(
    'div',
    null,
    h(
      'p',
      { 'data-testid': 'cart' },
      cart.lines.map((line) => `${line.sku}=${line.qty}`).join(',') || 'empty',
    ),
    h(
      'button',
      { type: 'button', onClick: () => void cart.add('apple', 1, { name: 'Apple' }) },
      'add apple',
    ),
    h('button', { type: 'button', onClick: () => void cart.setQty('apple', 5) }, 'five apples'),
    h('button', { type: 'button', onClick: () => void cart.remove('apple') }, 'remove apple'),
  )
}

function ReplicaView(props: { onState: (state: ReplicaState) => void }): ReactNode {
  props.onState(useReplica())
  return null
}

function StatusView(props: { counter?: RenderCounter }) {
  props.counter?.hit('status')
  const { loading, error, status } = useStatus()
  const text = loading
    ? 'loading'
    : error !== undefined
      ? `error: ${error.message}`
      : `keys: ${status?.keys}`
  return h('p', { 'data-testid': 'status' }, text)
}

/** Writes `value` over what `replica` holds at `key` (with the read's context: no sibling). */
async function overwrite(replica: Replica, key: string, value: unknown): Promise<void> {
  await replica.put(key, value, (await replica.get(key)).context)
}

const shown = (id: string) => screen.getByTestId(id).textContent

async function expectShown(id: string, text: string): Promise<void> {
  await waitFor(() => expect(shown(id)).toBe(text))
}

describe('@mendsync/react in Chromium', () => {
  it('useKey shows loading, then the value, then every later write of its key', async () => {
    const replica = await memoryReplica()
    await replica.put('note', 'first')
    render(inProvider(replica, h(KeyView, { name: 'note' })))
    expect(shown('key-note')).toBe('loading')
    await expectShown('key-note', 'value: "first"')
    await act(async () => await overwrite(replica, 'note', { text: 'second' }))
    await expectShown('key-note', 'value: {"text":"second"}')
    await act(async () => await replica.delete('note', (await replica.get('note')).context))
    await expectShown('key-note', 'value: null')
  })

  it('a component re-renders only when its own key changes', async () => {
    const replica = await memoryReplica()
    const counter = new RenderCounter()
    render(
      inProvider(replica, [
        h(KeyView, { key: 'a', name: 'a', counter }),
        h(KeyView, { key: 'b', name: 'b', counter }),
        h(CartView, { key: 'cart', name: 'cart', counter }),
      ]),
    )
    await expectShown('key-a', 'value: null')
    await expectShown('key-b', 'value: null')
    await expectShown('cart', 'empty')
    const start = { a: counter.count('a'), b: counter.count('b'), cart: counter.count('cart') }

    // Five writes of b: b re-renders (until it shows the last), a and the cart do not.
    await act(async () => {
      for (let i = 1; i <= 5; i++) await overwrite(replica, 'b', i)
    })
    await expectShown('key-b', 'value: 5')
    expect(counter.count('b')).toBeGreaterThan(start.b)
    expect(counter.count('a')).toBe(start.a)
    expect(counter.count('cart')).toBe(start.cart)

    // One write of a: exactly one more render of a, none of b.
    const afterB = counter.count('b')
    await act(async () => await replica.put('a', 'x'))
    await expectShown('key-a', 'value: "x"')
    expect(counter.count('a')).toBe(start.a + 1)
    expect(counter.count('b')).toBe(afterB)

    // A change of the cart re-renders only the cart.
    await act(async () => await replica.cart('cart').add('pear', 2))
    await expectShown('cart', 'pear=2')
    expect(counter.count('cart')).toBe(start.cart + 1)
    expect(counter.count('a')).toBe(start.a + 1)
    expect(counter.count('b')).toBe(afterB)
  })

  it('useCart adds, sets and removes through its actions, and rejects a negative quantity with INVALID_ARGUMENT', async () => {
    const replica = await memoryReplica()
    let cart: CartState | undefined
    render(inProvider(replica, h(CartView, { name: 'cart', onState: (state) => (cart = state) })))
    await expectShown('cart', 'empty')
    fireEvent.click(screen.getByText('add apple'))
    await expectShown('cart', 'apple=1')
    expect(cart?.lines[0]).toMatchObject({ sku: 'apple', meta: { name: 'Apple' } })
    fireEvent.click(screen.getByText('five apples'))
    await expectShown('cart', 'apple=5')
    const refused = await cart?.setQty('apple', -3).catch((error: unknown) => error)
    expect(isMendsyncError(refused) && refused.code).toBe('INVALID_ARGUMENT')
    expect((await replica.get('cart')).lines).toMatchObject([{ sku: 'apple', qty: 5 }])
    fireEvent.click(screen.getByText('remove apple'))
    await expectShown('cart', 'empty')
    expect((await replica.get('cart')).lines).toEqual([])
  })

  it('reports loading while the replica opens, and NOT_READY from an action meanwhile', async () => {
    let resolve: (replica: Replica) => void = () => {}
    const opening = new Promise<Replica>((done) => {
      resolve = done
    })
    let key: KeyState | undefined
    render(
      inProvider(opening, [
        h(KeyView, { key: 'k', name: 'note', onState: (state) => (key = state) }),
        h(StatusView, { key: 's' }),
      ]),
    )
    expect(shown('key-note')).toBe('loading')
    expect(shown('status')).toBe('loading')
    const early = await key?.put('too soon').catch((error: unknown) => error)
    expect(isMendsyncError(early) && early.code).toBe('NOT_READY')

    const replica = await memoryReplica()
    await replica.put('note', 'opened')
    await act(async () => resolve(replica))
    await expectShown('key-note', 'value: "opened"')
    await expectShown('status', 'keys: 1')
  })

  it('reports the error of a replica that failed to open in every hook', async () => {
    const failure = new MendsyncError('STORAGE_BLOCKED', 'another tab holds an old version open')
    const failed = Promise.reject(failure)
    let replicaState: ReplicaState | undefined
    render(
      inProvider(failed, [
        h(KeyView, { key: 'k', name: 'note' }),
        h(CartView, { key: 'c', name: 'cart' }),
        h(StatusView, { key: 's' }),
        h(ReplicaView, { key: 'r', onState: (state: ReplicaState) => (replicaState = state) }),
      ]),
    )
    const message = 'error: another tab holds an old version open'
    await expectShown('key-note', message)
    expect(shown('cart')).toBe(message)
    expect(shown('status')).toBe(message)
    expect(replicaState).toEqual({ replica: undefined, loading: false, error: failure })
  })

  it('reports a failed read as the error of that key, keeping the last value, until a read succeeds', async () => {
    const replica = await memoryReplica()
    let failing = false
    // The replica, with reads that fail while `failing` is set.
    const source: ReplicaSource = {
      get: async (key, options) => {
        if (failing) throw new MendsyncError('STORAGE_FAILURE', 'the disk went away')
        return await replica.get(key, options)
      },
      put: (key, value, context) => replica.put(key, value, context),
      delete: (key, context) => replica.delete(key, context),
      cart: (key) => replica.cart(key),
      subscribe: (target, listener) => replica.subscribe(target, listener),
      status: () => replica.status(),
    }
    let key: KeyState | undefined
    render(inProvider(source, h(KeyView, { name: 'note', onState: (state) => (key = state) })))
    await expectShown('key-note', 'value: null')
    await act(async () => await overwrite(replica, 'note', 'kept'))
    await expectShown('key-note', 'value: "kept"')
    failing = true
    await act(async () => await overwrite(replica, 'note', 'unread'))
    await expectShown('key-note', 'error: the disk went away')
    expect(key?.value).toBe('kept')
    failing = false
    await act(async () => await overwrite(replica, 'note', 'read again'))
    await expectShown('key-note', 'value: "read again"')
    expect(key?.error).toBeUndefined()
  })

  it("useKey's put supersedes the concurrent siblings it shows, on both replicas", async () => {
    const hub = createInProcessHub()
    const alice = await memoryReplica({ hub })
    const bob = await memoryReplica({ hub })
    const [a, b] = [alice.status().peerId ?? '', bob.status().peerId ?? '']
    hub.partition([a], [b])
    await alice.put('note', 'door')
    await bob.put('note', 'ring')
    hub.heal()
    await alice.sync()
    await bob.sync()
    let key: KeyState | undefined
    render(inProvider(alice, h(KeyView, { name: 'note', onState: (state) => (key = state) })))
    await waitFor(() =>
      expect(key?.siblings.map((sibling) => sibling.value).sort()).toEqual(['door', 'ring']),
    )
    expect(key?.conflict).toBe(true)
    await act(async () => await key?.put('door'))
    await expectShown('key-note', 'value: "door"')
    expect(key?.conflict).toBe(false)
    await alice.settled()
    await bob.sync()
    const onBob = await bob.get('note')
    expect(onBob.siblings.map((sibling) => sibling.value)).toEqual(['door'])
  })

  it('useStatus follows writes and re-renders only when the status changed', async () => {
    const replica = await memoryReplica()
    // Counts status reads, so the test can wait for reads that found nothing new.
    let reads = 0
    const source: ReplicaSource = Object.assign(Object.create(replica) as Replica, {
      status: () => {
        reads++
        return replica.status()
      },
    })
    const counter = new RenderCounter()
    render(
      h(ReplicaProvider, { replica: source, statusIntervalMs: 20 }, h(StatusView, { counter })),
    )
    await expectShown('status', 'keys: 0')
    await act(async () => {
      await replica.put('one', 1)
      await replica.put('two', 2)
    })
    await expectShown('status', 'keys: 2')
    const renders = counter.count('status')
    const readsBefore = reads
    await waitFor(() => expect(reads).toBeGreaterThanOrEqual(readsBefore + 5))
    expect(counter.count('status')).toBe(renders)
  })

  it('works with Tabs: the hooks read and write through the leader tab', async () => {
    const space = `react-tabs-${Math.random().toString(36).slice(2)}`
    const tabs: Tabs = await openTabs({
      space,
      openReplica: async (leader) =>
        await openReplica({ space, storage: leader.journal(new MemoryStorage()) }),
    })
    try {
      render(
        inProvider(tabs, [h(CartView, { key: 'c', name: 'cart' }), h(StatusView, { key: 's' })]),
      )
      await expectShown('cart', 'empty')
      fireEvent.click(screen.getByText('add apple'))
      await expectShown('cart', 'apple=1')
      await expectShown('status', 'keys: 1')
    } finally {
      cleanup()
      await tabs.close()
    }
  })

  it('fails with a message naming the provider when a hook is used outside one', () => {
    const quiet = console.error
    console.error = () => {}
    try {
      expect(() => render(h(KeyView, { name: 'note' }))).toThrow(/outside a <ReplicaProvider>/)
    } finally {
      console.error = quiet
    }
  })
})
