// A stand-in reconciliation session for transport tests: both sides send their whole
// `key -> hash` list, in chunks, alternating, until each has sent and received everything.
// Differing keys are the local keys the other side lacks or hashes differently. It is not
// efficient (that is packages/core's job); it exercises every path a transport must carry:
// several rounds, either side ending the exchange, empty lists, malformed input.
import { MendsyncError } from '@mendsync/core'
import type { ReconcileSessionLike } from '../network/types.js'

/** Options of {@link createListReconcileSession}. */
export interface ListReconcileOptions {
  /** Items per message; more items take more rounds. Default: all in one message. */
  readonly chunk?: number
}

interface ListMessage {
  /** `[key, hash]` pairs of this chunk. */
  readonly items: [string, string][]
  /** True when the sender has more chunks to send. */
  readonly more: boolean
}

/** A session over `items` (`key -> hash of its state`). */
export function createListReconcileSession(
  items: ReadonlyMap<string, string>,
  options: ListReconcileOptions = {},
): ReconcileSessionLike {
  const mine = [...items].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const chunk = Math.max(1, options.chunk ?? Math.max(1, mine.length))
  const theirs = new Map<string, string>()
  let sent = 0
  let sentAll = false
  let receivedAll = false
  let done = false

  const nextMessage = (): Uint8Array => {
    const items = mine.slice(sent, sent + chunk)
    sent += items.length
    sentAll = sent >= mine.length
    return encode({ items, more: !sentAll })
  }
  const differing = (): string[] =>
    mine.filter(([key, hash]) => theirs.get(key) !== hash).map(([key]) => key)

  return {
    initiate() {
      if (sent > 0 || done) throw new MendsyncError('RECONCILE_PROTOCOL', 'already started')
      return nextMessage()
    },
    receive(message) {
      if (done) throw new MendsyncError('RECONCILE_PROTOCOL', 'message after the session ended')
      const decoded = decode(message)
      for (const [key, hash] of decoded.items) theirs.set(key, hash)
      receivedAll = !decoded.more
      if (sentAll && receivedAll) {
        done = true
        return { reply: null, done: true, differing: differing() }
      }
      const reply = nextMessage()
      if (sentAll && receivedAll) {
        done = true
        return { reply, done: true, differing: differing() }
      }
      return { reply, done: false, differing: null }
    },
  }
}

function encode(message: ListMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message))
}

function decode(bytes: Uint8Array): ListMessage {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (cause) {
    throw new MendsyncError('RECONCILE_PROTOCOL', 'undecodable list message', { cause })
  }
  const message = value as Partial<ListMessage> | null
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof message.more !== 'boolean' ||
    !Array.isArray(message.items) ||
    !message.items.every(
      (item) =>
        Array.isArray(item) &&
        item.length === 2 &&
        typeof item[0] === 'string' &&
        typeof item[1] === 'string',
    )
  ) {
    throw new MendsyncError('RECONCILE_PROTOCOL', 'malformed list message')
  }
  return { items: message.items, more: message.more }
}
