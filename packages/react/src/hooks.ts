import { type CartLine, type Data, MendsyncError, type SiblingView } from '@mendsync/core'
import type { ReadResult, ReplicaStatus } from '@mendsync/replica'
import { useCallback, useContext, useMemo, useSyncExternalStore } from 'react'
import type { KeySnapshot } from './key-store.js'
import { ReplicaContext, type ReplicaContextValue, type ReplicaState } from './provider.js'
import { LOADING, type Progress } from './snapshot.js'
import type { ReplicaSource } from './source.js'

function useReplicaContext(hook: string): ReplicaContextValue {
  const context = useContext(ReplicaContext)
  if (context === undefined) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `${hook} was called outside a <ReplicaProvider>: render the component inside one`,
    )
  }
  return context
}

/** The open replica, or the error that says why it is not usable yet. */
function ready(context: ReplicaContextValue): ReplicaSource {
  if (context.replica !== undefined) return context.replica
  throw (
    context.error ??
    new MendsyncError('NOT_READY', 'the replica is still opening: wait until `loading` is false')
  )
}

/**
 * The replica the nearest `ReplicaProvider` gives, with its loading and error state. For what
 * the other hooks do not cover (`sync()`, `getMany`, a prefix subscription).
 */
export function useReplica(): ReplicaState {
  const { replica, loading, error } = useReplicaContext('useReplica')
  return useMemo(() => ({ replica, loading, error }), [replica, loading, error])
}

const IGNORE = () => () => {}

/** The snapshot of `key`, re-rendering the caller only when that key's snapshot is replaced. */
function useKeySnapshot(hook: string, key: string): [ReplicaContextValue, KeySnapshot] {
  const context = useReplicaContext(hook)
  const keys = context.keys
  const watch = useCallback(
    (onChange: () => void) => keys?.watch(key, onChange) ?? IGNORE(),
    [keys, key],
  )
  const snapshot = useSyncExternalStore(watch, () => keys?.snapshot(key) ?? LOADING)
  return [context, snapshot]
}

/** Loading and error of a hook: the provider's own state first, then the key's or status's. */
function progressOf(context: ReplicaContextValue, own: Progress): Progress {
  if (context.error !== undefined) return { loading: false, error: context.error }
  return { loading: context.loading || own.loading, error: own.error }
}

/** What {@link useKey} returns. */
export interface KeyState {
  /** True until the replica is open and the key's first read answered. */
  readonly loading: boolean
  /** The replica failed to open, or the last read of the key failed (the last good read stays in `result`). */
  readonly error: Error | undefined
  /** The last read of the key (undefined while loading). */
  readonly result: ReadResult | undefined
  /** The register's value (resolved by the replica's conflict policy); undefined when absent. */
  readonly value: Data | undefined
  /** Every live register sibling: more than one means concurrent writes. */
  readonly siblings: readonly SiblingView[]
  /** True when the register has concurrent siblings. */
  readonly conflict: boolean
  /**
   * Writes `value` with the context of the read shown: it supersedes exactly what this component
   * shows (every sibling on screen), while a write made elsewhere meanwhile stays a sibling.
   * Rejects with the replica's error (`NOT_READY` while loading).
   */
  put(value: unknown): Promise<void>
  /** Deletes what this component shows of the key (with the read's context). */
  remove(): Promise<void>
}

/**
 * Reads `key` and follows its changes: local writes, changes from peers, read repairs. The
 * component re-renders when this key changes, not when other keys do.
 *
 * @example
 * ```tsx
 * function Note() {
 *   const note = useKey('note')
 *   if (note.loading) return <p>Loading…</p>
 *   return <input defaultValue={String(note.value ?? '')} onBlur={(e) => note.put(e.target.value)} />
 * }
 * ```
 */
export function useKey(key: string): KeyState {
  const [context, snapshot] = useKeySnapshot('useKey', key)
  const { loading, error } = progressOf(context, snapshot)
  const result = snapshot.data
  const put = useCallback(
    async (value: unknown) => await ready(context).put(key, value, result?.context),
    [context, key, result],
  )
  const remove = useCallback(
    async () => await ready(context).delete(key, result?.context),
    [context, key, result],
  )
  return useMemo(
    () => ({
      loading,
      error,
      result,
      value: result?.value,
      siblings: result?.siblings ?? [],
      conflict: result?.conflict ?? false,
      put,
      remove,
    }),
    [loading, error, result, put, remove],
  )
}

/** What {@link useCart} returns. */
export interface CartState {
  /** True until the replica is open and the cart's first read answered. */
  readonly loading: boolean
  /** The replica failed to open, or the last read of the cart failed. */
  readonly error: Error | undefined
  /** The cart's lines, sorted by sku (empty while loading). */
  readonly lines: readonly CartLine[]
  /** The last read of the key. */
  readonly result: ReadResult | undefined
  /** Adds `qty` (default 1) to line `sku`, creating it; with `meta`, also sets its meta. */
  add(sku: string, qty?: number, meta?: unknown): Promise<void>
  /** Sets the line's quantity (0 removes it); rejects with `INVALID_ARGUMENT` for a negative or non-integer one. */
  setQty(sku: string, qty: number): Promise<void>
  /** Removes the line: what this replica has seen (an add made concurrently elsewhere survives). */
  remove(sku: string): Promise<void>
  /** Sets the line's meta (e.g. a name or a price). */
  setMeta(sku: string, meta: unknown): Promise<void>
}

/**
 * Reads the cart at `key` and follows its changes; the actions write to it. The component
 * re-renders when this key changes, not when other keys do. The actions reject with the
 * replica's error (`INVALID_ARGUMENT` for a bad quantity, `NOT_READY` while loading).
 *
 * @example
 * ```tsx
 * function Cart() {
 *   const cart = useCart('cart')
 *   return (
 *     <ul>
 *       {cart.lines.map((line) => (
 *         <li key={line.sku}>
 *           {line.sku} × {line.qty} <button onClick={() => cart.remove(line.sku)}>remove</button>
 *         </li>
 *       ))}
 *     </ul>
 *   )
 * }
 * ```
 */
export function useCart(key: string): CartState {
  const [context, snapshot] = useKeySnapshot('useCart', key)
  const { loading, error } = progressOf(context, snapshot)
  const result = snapshot.data
  return useMemo(() => {
    const cart = () => ready(context).cart(key)
    return {
      loading,
      error,
      result,
      lines: result?.lines ?? [],
      add: async (sku: string, qty?: number, meta?: unknown) => await cart().add(sku, qty, meta),
      setQty: async (sku: string, qty: number) => await cart().setQty(sku, qty),
      remove: async (sku: string) => await cart().remove(sku),
      setMeta: async (sku: string, meta: unknown) => await cart().setMeta(sku, meta),
    }
  }, [context, key, loading, error, result])
}

/** What {@link useStatus} returns. */
export interface StatusState {
  /** True until the replica is open and its status was first read. */
  readonly loading: boolean
  /** The replica failed to open, or the last status read failed (e.g. no leader tab answers). */
  readonly error: Error | undefined
  /** The last status read (peers, keys, outbox, version vector, ...). */
  readonly status: ReplicaStatus | undefined
}

/**
 * The replica's status, re-read every `statusIntervalMs` of the provider and after every change;
 * the component re-renders only when the status differs from the one shown.
 */
export function useStatus(): StatusState {
  const context = useReplicaContext('useStatus')
  const store = context.statusStore
  const watch = useCallback((onChange: () => void) => store?.watch(onChange) ?? IGNORE(), [store])
  const snapshot = useSyncExternalStore(watch, () => store?.snapshot() ?? LOADING)
  const { loading, error } = progressOf(context, snapshot)
  return useMemo(() => ({ loading, error, status: snapshot.data }), [loading, error, snapshot])
}
