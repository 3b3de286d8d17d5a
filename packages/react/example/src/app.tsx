// A shared shopping list: a cart (useCart), a note (useKey) and a status line (useStatus). Each
// component follows its own key, so typing a note does not re-render the list, and vice versa.
import { useCart, useKey, useStatus } from '@mendsync/react'
import { useState } from 'react'

const PRODUCTS = [
  { sku: 'apple', name: 'Apples' },
  { sku: 'bread', name: 'Bread' },
  { sku: 'milk', name: 'Milk' },
]

function nameOf(meta: unknown, sku: string): string {
  const name = (meta as { name?: unknown } | undefined)?.name
  return typeof name === 'string' ? name : sku
}

function ShoppingList() {
  const cart = useCart('list')
  const [problem, setProblem] = useState<string>()
  // Every action returns a promise; a refused one (a bad quantity) is shown, not swallowed.
  const run = (action: Promise<void>) => {
    setProblem(undefined)
    action.catch((error: unknown) =>
      setProblem(error instanceof Error ? error.message : String(error)),
    )
  }
  if (cart.loading) return <p>Loading the list…</p>
  if (cart.error !== undefined)
    return <p role="alert">The list could not be read: {cart.error.message}</p>
  return (
    <section>
      <h2>List</h2>
      <p>
        {PRODUCTS.map((product) => (
          <button
            key={product.sku}
            type="button"
            onClick={() => run(cart.add(product.sku, 1, { name: product.name }))}
          >
            Add {product.name}
          </button>
        ))}
      </p>
      {cart.lines.length === 0 ? <p>Nothing yet.</p> : null}
      <ul>
        {cart.lines.map((line) => (
          <li key={line.sku} data-sku={line.sku} data-qty={line.qty}>
            {nameOf(line.meta, line.sku)} ×{' '}
            <input
              type="number"
              min={0}
              defaultValue={line.qty}
              key={line.qty}
              aria-label={`quantity of ${line.sku}`}
              onBlur={(event) => run(cart.setQty(line.sku, Number(event.target.value)))}
            />{' '}
            <button type="button" onClick={() => run(cart.remove(line.sku))}>
              remove
            </button>
          </li>
        ))}
      </ul>
      {problem !== undefined ? <p role="alert">{problem}</p> : null}
    </section>
  )
}

function Note() {
  const note = useKey('note')
  if (note.loading) return null
  return (
    <section>
      <h2>Note</h2>
      {note.conflict ? (
        <p>
          Edited in two places at once:{' '}
          {note.siblings.map((sibling) => (
            <button
              key={String(sibling.value)}
              type="button"
              onClick={() => void note.put(sibling.value)}
            >
              keep “{String(sibling.value)}”
            </button>
          ))}
        </p>
      ) : null}
      <input
        aria-label="note"
        defaultValue={String(note.value ?? '')}
        key={String(note.value ?? '')}
        onBlur={(event) => void note.put(event.target.value)}
      />
    </section>
  )
}

function Status() {
  const { loading, error, status } = useStatus()
  if (loading) return <footer>opening…</footer>
  if (error !== undefined) return <footer>status unavailable: {error.message}</footer>
  return (
    <footer data-keys={status?.keys}>
      {status?.keys} keys, {status?.peers.length} peers, {status?.outbox} changes queued
    </footer>
  )
}

/** The example app: a shopping list, a note and the replica's status. */
export function App() {
  return (
    <main>
      <h1>Shopping list</h1>
      <ShoppingList />
      <Note />
      <Status />
    </main>
  )
}
