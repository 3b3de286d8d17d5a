// Deadline / abort / close handling shared by Network implementations, so every transport fails
// a call the same way (`TIMEOUT`, `ABORTED`, `NETWORK_CLOSED`) and cleans up behind it.
import { isMendsyncError, MendsyncError, type MendsyncErrorCode } from '@mendsync/core'
import type { CallOptions, GossipMessage, PullMode } from './types.js'

/** Largest summary a gossip message may carry (root fingerprint + item count). */
export const MAX_SUMMARY_BYTES = 24

/** The reason `work`'s signal aborts with once the call settled (one object, no stack capture). */
const SETTLED = Object.freeze({ code: 'SETTLED', message: 'the call settled' })

/**
 * Runs `work` under the call's deadline, the caller's signal and `closeSignal` (the network's or
 * channel's lifetime). `work` receives a signal that aborts (with the MendsyncError the call
 * fails with) on any of the three, so it can release what it holds; the call settles as soon as
 * that signal aborts, whether or not `work` notices. `timeoutMs` must be a positive finite
 * number; `defaultTimeoutMs` applies when the caller gives none.
 */
export async function runCall<T>(
  options: CallOptions | undefined,
  defaultTimeoutMs: number,
  closeSignal: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options?.timeoutMs ?? defaultTimeoutMs
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    throw new MendsyncError('INVALID_ARGUMENT', `timeoutMs must be a positive number: ${timeoutMs}`)
  }
  const userSignal = options?.signal
  if (userSignal?.aborted) throw abortedError(userSignal)
  if (closeSignal.aborted) throw new MendsyncError('CLOSED', 'the channel or network is closed')

  const controller = new AbortController()
  const { promise: aborted, reject } = rejecter()
  const fail = (error: MendsyncError): void => {
    if (controller.signal.aborted) return
    controller.abort(error)
    reject(error)
  }
  const timer = setTimeout(
    () => fail(new MendsyncError('TIMEOUT', `the call did not finish within ${timeoutMs} ms`)),
    timeoutMs,
  )
  const onUser = (): void => fail(abortedError(userSignal!))
  const onClose = (): void =>
    fail(new MendsyncError('NETWORK_CLOSED', 'the network closed while the call was in flight'))
  userSignal?.addEventListener('abort', onUser, { once: true })
  closeSignal.addEventListener('abort', onClose, { once: true })
  try {
    // Both promises are raced at once, which handles whichever of them rejects second.
    return await Promise.race([work(controller.signal), aborted])
  } finally {
    clearTimeout(timer)
    userSignal?.removeEventListener('abort', onUser)
    closeSignal.removeEventListener('abort', onClose)
    if (!controller.signal.aborted) controller.abort(SETTLED)
  }
}

function abortedError(signal: AbortSignal): MendsyncError {
  return new MendsyncError('ABORTED', 'the call was aborted by its signal', {
    cause: signal.reason,
  })
}

const PASSED_THROUGH = new Set([
  'OVERLOADED',
  'ACCESS_DENIED',
  'QUOTA_EXCEEDED',
  'PEER_UNAVAILABLE',
  'FRAME_TOO_LARGE',
])

/**
 * Maps the error code a peer reported to what the caller sees: `OVERLOADED`, `ACCESS_DENIED`,
 * `QUOTA_EXCEEDED`, `PEER_UNAVAILABLE` (the peer does not serve the space) and `FRAME_TOO_LARGE` (the answer would
 * not fit a frame) pass through; anything else becomes `REMOTE_ERROR` with the peer's reason.
 */
export function remoteError(code: string, message: string): MendsyncError {
  if (PASSED_THROUGH.has(code)) {
    return new MendsyncError(code as MendsyncErrorCode, `peer: ${message}`)
  }
  return new MendsyncError('REMOTE_ERROR', `peer failed the request (${code}): ${message}`)
}

/** The code and message a handler's failure is reported to the caller with. */
export function describeHandlerError(error: unknown): { code: string; message: string } {
  if (isMendsyncError(error)) return { code: error.code, message: error.message }
  return { code: 'HANDLER_ERROR', message: error instanceof Error ? error.message : String(error) }
}

/**
 * Checks a gossip message before it is sent (a malformed one fails with `INVALID_ARGUMENT`):
 * a non-empty replica id, a version vector of non-negative safe integers, a summary of at most
 * {@link MAX_SUMMARY_BYTES} bytes, hints with non-empty keys and well-formed dots.
 */
export function assertGossipMessage(message: GossipMessage): void {
  const bad = (why: string): never => {
    throw new MendsyncError('INVALID_ARGUMENT', `invalid gossip message: ${why}`)
  }
  if (typeof message !== 'object' || message === null) bad('not an object')
  if (typeof message.replicaId !== 'string' || message.replicaId.length === 0) bad('replicaId')
  if (!(message.versionVector instanceof Map)) bad('versionVector must be a Map')
  for (const [replica, counter] of message.versionVector) {
    if (typeof replica !== 'string' || replica.length === 0) bad('version vector replica id')
    if (!isCounter(counter)) bad(`version vector counter for ${replica}`)
  }
  if (!(message.summary instanceof Uint8Array)) bad('summary must be bytes')
  if (message.summary.byteLength > MAX_SUMMARY_BYTES) {
    bad(`summary is ${message.summary.byteLength} bytes, at most ${MAX_SUMMARY_BYTES}`)
  }
  if (!Array.isArray(message.hints)) bad('hints must be an array')
  for (const hint of message.hints) {
    if (typeof hint?.key !== 'string' || hint.key.length === 0) bad('hint key')
    if (!Array.isArray(hint.dots)) bad('hint dots')
    for (const dot of hint.dots) {
      if (typeof dot?.replica !== 'string' || dot.replica.length === 0) bad('dot replica')
      if (!isCounter(dot.counter) || dot.counter === 0) bad('dot counter')
    }
  }
}

/**
 * Checks a pull's arguments before it is sent (`INVALID_ARGUMENT` otherwise): `mode` is `digest`
 * or `state`, `keys` an array of strings. Every Network checks them the same way.
 */
export function assertPullArguments(keys: readonly string[], mode: PullMode): void {
  if (mode !== 'digest' && mode !== 'state') {
    throw new MendsyncError('INVALID_ARGUMENT', `unknown pull mode ${mode}`)
  }
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) {
    throw new MendsyncError('INVALID_ARGUMENT', 'keys must be strings')
  }
}

function isCounter(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** A deep copy, so a receiver never shares arrays or maps with the sender. */
export function copyGossipMessage(message: GossipMessage): GossipMessage {
  return {
    replicaId: message.replicaId,
    versionVector: new Map(message.versionVector),
    summary: message.summary.slice(),
    hints: message.hints.map((hint) => ({
      key: hint.key,
      dots: hint.dots.map((dot) => ({ replica: dot.replica, counter: dot.counter })),
    })),
  }
}

/**
 * A promise that only rejects, with its reject function (no `Promise.withResolvers` in ES2023).
 * Race it in the same tick it is created: the race is what handles its rejection.
 */
export function rejecter(): { promise: Promise<never>; reject: (reason: unknown) => void } {
  let reject!: (reason: unknown) => void
  const promise = new Promise<never>((_resolve, rejectPromise) => {
    reject = rejectPromise
  })
  return { promise, reject }
}
