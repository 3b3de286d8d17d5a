// The messages tabs exchange on their BroadcastChannel. Every message carries `v` (the protocol
// version) and the space; anything else on the channel (another version, another app) is ignored.
import type { ReadContext } from '@mendsync/core'
import { MendsyncError, type MendsyncErrorCode } from '@mendsync/core'
import type { ChangeOrigin, ReadOptions, ReplicaMetricValues } from '@mendsync/replica'

export const PROTOCOL_VERSION = 1

/** The cart operations a follower forwards (`view` is a read). */
export type CartAction = 'add' | 'setQty' | 'remove' | 'setMeta'

/** One call a follower asks the leader to run. */
export type Operation =
  | { readonly op: 'getMany'; readonly keys: readonly string[]; readonly options: ReadOptions }
  | {
      readonly op: 'put'
      readonly key: string
      readonly value: unknown
      readonly context: ReadContext | undefined
    }
  | { readonly op: 'delete'; readonly key: string; readonly context: ReadContext | undefined }
  | {
      readonly op: 'cart'
      readonly key: string
      readonly action: CartAction
      readonly sku: string
      readonly qty: number | undefined
      readonly meta: unknown
    }
  | { readonly op: 'status' }
  | { readonly op: 'metrics' }
  | { readonly op: 'sync' }
  | { readonly op: 'settled' }
  | { readonly op: 'call'; readonly name: string; readonly args: readonly unknown[] }

/** An error as it crosses the channel; re-created as a `MendsyncError` when it has a code. */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly code: MendsyncErrorCode | undefined
}

/** One replica metric's new value, sent from the leader tab to the others. */
export type MetricEvent = { readonly name: keyof ReplicaMetricValues; readonly value: number }

export type Body =
  /** A tab that just started asks who leads; the leader answers with `leader`. */
  | { readonly t: 'hello'; readonly tab: string }
  /** The leader's announcement: on election (once its replica is open) and in reply to `hello`. */
  | { readonly t: 'leader'; readonly tab: string }
  /** The leader is closing on purpose (the next leader announces itself). */
  | { readonly t: 'bye'; readonly tab: string }
  | { readonly t: 'req'; readonly id: string; readonly tab: string; readonly body: Operation }
  | {
      readonly t: 'res'
      readonly id: string
      /** True for writes: every tab remembers acknowledged write ids (handover dedupe). */
      readonly write: boolean
      readonly ok: true
      readonly value: unknown
    }
  | {
      readonly t: 'res'
      readonly id: string
      readonly write: boolean
      readonly ok: false
      readonly error: WireError
    }
  /** A persisted change of the replica; `state` is the canonical encoding of the key's state. */
  | {
      readonly t: 'change'
      readonly key: string
      readonly origin: ChangeOrigin
      readonly state: Uint8Array
    }
  | { readonly t: 'metric'; readonly events: readonly MetricEvent[] }

export type Message = Body & { readonly v: typeof PROTOCOL_VERSION; readonly space: string }

/** True when `data` is a message of this protocol version for `space`. */
export function isMessage(data: unknown, space: string): data is Message {
  if (typeof data !== 'object' || data === null) return false
  const message = data as { v?: unknown; space?: unknown; t?: unknown }
  return message.v === PROTOCOL_VERSION && message.space === space && typeof message.t === 'string'
}

export function toWireError(error: unknown): WireError {
  if (error instanceof MendsyncError)
    return { name: error.name, message: error.message, code: error.code }
  if (error instanceof Error) return { name: error.name, message: error.message, code: undefined }
  return { name: 'Error', message: String(error), code: undefined }
}

export function fromWireError(error: WireError): Error {
  if (error.code !== undefined) return new MendsyncError(error.code, error.message)
  const recreated = new Error(error.message)
  recreated.name = error.name
  return recreated
}

/** True for operations that change the replica (they carry a write id and are deduplicated). */
export function isWrite(operation: Operation): boolean {
  return operation.op === 'put' || operation.op === 'delete' || operation.op === 'cart'
}

/**
 * True for writes that create a dot of the leader's replica on their key (every write but
 * removes, deletes and `setQty(0)`): the journal can tell their batch from any other.
 */
export function createsDot(operation: Operation): boolean {
  if (operation.op === 'put') return true
  if (operation.op !== 'cart') return false
  if (operation.action === 'add' || operation.action === 'setMeta') return true
  return operation.action === 'setQty' && typeof operation.qty === 'number' && operation.qty > 0
}
