import { defaultLogger, type Logger } from '@mendsync/core/toolbox'
import {
  createContext,
  createElement,
  type ReactElement,
  type ReactNode,
  useEffect,
  useMemo,
  useState,
} from 'react'
import { KeyStore } from './key-store.js'
import { asError, type ReplicaSource } from './source.js'
import { DEFAULT_STATUS_INTERVAL_MS, StatusStore } from './status-store.js'

/** The replica as the hooks see it: still opening, open, or failed to open. */
export interface ReplicaState {
  /** The open replica (undefined while loading or after an error). */
  readonly replica: ReplicaSource | undefined
  /** True while the promise given to the provider is pending. */
  readonly loading: boolean
  /** Why the replica could not be opened (the promise's rejection). */
  readonly error: Error | undefined
}

/** What the provider hands to the hooks. */
export interface ReplicaContextValue extends ReplicaState {
  readonly keys: KeyStore | undefined
  readonly statusStore: StatusStore | undefined
}

/** The context the hooks read; `undefined` outside a `ReplicaProvider`. */
export const ReplicaContext = createContext<ReplicaContextValue | undefined>(undefined)

/** Props of {@link ReplicaProvider}. */
export interface ReplicaProviderProps {
  /**
   * The replica (a `Replica`, or `Tabs` for every tab of a browser profile), or a promise of it:
   * until it resolves the hooks report `loading`, and its rejection as their `error`. Pass the
   * same object or promise on every render (create it outside the component or memoise it). The
   * provider never closes it: whoever opened the replica closes it.
   */
  readonly replica: ReplicaSource | Promise<ReplicaSource>
  /** How often `useStatus` re-reads the status (it also re-reads after every change), ms. Default 1000. */
  readonly statusIntervalMs?: number
  /** Where failed reads are logged. Default `defaultLogger('mendsync:react')`. */
  readonly logger?: Logger
  readonly children?: ReactNode
}

const OPENING: ReplicaState = Object.freeze({
  replica: undefined,
  loading: true,
  error: undefined,
})

function isPromise(value: unknown): value is Promise<ReplicaSource> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/** The provider's replica as a {@link ReplicaState}, following the promise when it is one. */
function useOpened(replica: ReplicaSource | Promise<ReplicaSource>): ReplicaState {
  const [settled, setSettled] = useState<{ from: unknown; state: ReplicaState }>()
  useEffect(() => {
    if (!isPromise(replica)) return
    let current = true
    replica.then(
      (opened) => {
        if (current)
          setSettled({
            from: replica,
            state: { replica: opened, loading: false, error: undefined },
          })
      },
      (error: unknown) => {
        if (current)
          setSettled({
            from: replica,
            state: { replica: undefined, loading: false, error: asError(error) },
          })
      },
    )
    return () => {
      current = false
    }
  }, [replica])
  if (!isPromise(replica)) return { replica, loading: false, error: undefined }
  return settled?.from === replica ? settled.state : OPENING
}

/**
 * Gives the hooks below it (`useReplica`, `useKey`, `useCart`, `useStatus`) their replica.
 *
 * @example
 * ```tsx
 * const replica = openReplica({ space: 'shop', storage: await openIdbStorage({ space: 'shop' }) })
 * createRoot(element).render(
 *   <ReplicaProvider replica={replica}>
 *     <Cart />
 *   </ReplicaProvider>,
 * )
 * ```
 */
export function ReplicaProvider(props: ReplicaProviderProps): ReactElement {
  const { replica, loading, error } = useOpened(props.replica)
  const intervalMs = props.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS
  const logger = useMemo(() => props.logger ?? defaultLogger('mendsync:react'), [props.logger])
  const value = useMemo<ReplicaContextValue>(
    () => ({
      replica,
      loading,
      error,
      keys: replica === undefined ? undefined : new KeyStore(replica, logger.child('keys')),
      statusStore:
        replica === undefined
          ? undefined
          : new StatusStore(replica, logger.child('status'), intervalMs),
    }),
    [replica, loading, error, logger, intervalMs],
  )
  return createElement(ReplicaContext.Provider, { value }, props.children)
}
