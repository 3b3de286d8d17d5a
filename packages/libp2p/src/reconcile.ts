// The reconcile protocol (/mendsync/reconcile/1.0.0), one stream per session:
//
//   initiator                         responder
//   open(space, first message)  ->
//                               <-    round(reply)           (until a side has nothing to say)
//   round(reply)                ->    ...
//   (a side whose session is done and has no reply ends the rounds: the initiator by sending its
//    states, the responder by sending `end`; the other side must be done by then)
//   states(chunk)* done         ->    (responder reads its own states, then joins the initiator's)
//                               <-    states(chunk)* done
//
// Session messages are opaque bytes. Every frame is validated; an error frame carries a code.
import { MendsyncError } from '@mendsync/core'
import { defaultLogger, describeError, type Logger } from '@mendsync/core/toolbox'
import type {
  KeyState,
  ReconcileDriver,
  ReconcileOutcome,
  ReconcileResponder,
  ReconcileSessionLike,
} from '@mendsync/replica/adapter'
import { describeHandlerError, remoteError } from '@mendsync/replica/adapter'
import {
  chunkStates,
  decodeReconcileFrame,
  encodeFrame,
  encodeReconcileError,
  RC_DONE,
  RC_END,
  RC_OPEN,
  RC_ROUND,
  RC_STATES,
  type ReconcileFrame,
  statesToWire,
  type WireLimits,
} from './codec.js'
import { isFrameViolation } from './framing/frame-reader.js'
import type { BadFrameReporter, FramedStream } from './rpc.js'

/** Limits of reconciliation sessions. */
export interface ReconcileLimits {
  readonly wire: WireLimits
  /** Most session messages in one session (both directions). */
  readonly maxMessages: number
  /** Most state bytes accepted from the peer in one session. */
  readonly maxStateBytes: number
  /** Default `mendsync:libp2p:reconcile`; the network passes its own logger's `reconcile` child. */
  readonly logger?: Logger
}

const loggers = new WeakMap<ReconcileLimits, Logger>()

/** The limits' logger (the default one is made once per limits object). */
function loggerOf(limits: ReconcileLimits): Logger {
  if (limits.logger) return limits.logger
  let logger = loggers.get(limits)
  if (!logger) {
    logger = defaultLogger('mendsync:libp2p:reconcile')
    loggers.set(limits, logger)
  }
  return logger
}

/** Sends an error frame before a reset; the stream may be gone already (then it is logged). */
async function sendError(
  framed: FramedStream,
  limits: ReconcileLimits,
  peer: string,
  code: string,
  message: string,
): Promise<void> {
  await framed.write(encodeReconcileError(code, message)).catch((error) => {
    loggerOf(limits).debug('could not send an error frame', {
      peer,
      code,
      error: describeError(error),
    })
  })
}

/** Reads and validates the next frame; a peer's error frame becomes the call's error. */
async function nextFrame(
  framed: FramedStream,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
): Promise<ReconcileFrame> {
  let bytes: Uint8Array | null
  try {
    bytes = await framed.read()
  } catch (error) {
    // The stream is reset already; a framing violation also costs the peer points.
    if (isFrameViolation(error)) report(peer, (error as Error).message)
    loggerOf(limits).debug('reading a reconciliation frame failed', {
      peer,
      error: describeError(error),
    })
    throw error
  }
  if (bytes === null) {
    throw new MendsyncError('NETWORK_CLOSED', 'the peer closed the reconciliation stream')
  }
  let frame: ReconcileFrame
  try {
    frame = decodeReconcileFrame(bytes, limits.wire)
  } catch (error) {
    report(peer, error instanceof Error ? error.message : 'bad reconcile frame')
    loggerOf(limits).debug('the peer sent a bad reconciliation frame', {
      peer,
      error: describeError(error),
    })
    framed.reset(error instanceof Error ? error : new Error('bad frame'))
    throw error
  }
  if (frame.kind === 'error') throw remoteError(frame.code, frame.message)
  return frame
}

async function send(framed: FramedStream, frame: readonly unknown[], limits: ReconcileLimits) {
  const bytes = encodeFrame(frame)
  if (bytes.byteLength > limits.wire.maxFrameBytes) {
    throw new MendsyncError(
      'FRAME_TOO_LARGE',
      `a reconciliation frame of ${bytes.byteLength} bytes exceeds the ${limits.wire.maxFrameBytes}-byte limit`,
    )
  }
  await framed.write(bytes)
}

async function sendStates(
  framed: FramedStream,
  states: readonly KeyState[],
  limits: ReconcileLimits,
): Promise<void> {
  checkStates(states)
  for (const chunk of chunkStates(states, limits.wire.maxFrameBytes, limits.wire.maxKeysPerFrame)) {
    await send(framed, [RC_STATES, statesToWire(chunk)], limits)
  }
  await send(framed, [RC_DONE], limits)
}

function checkStates(states: readonly KeyState[]): void {
  if (
    !Array.isArray(states) ||
    !states.every((entry) => typeof entry?.key === 'string' && entry.state instanceof Uint8Array)
  ) {
    throw new MendsyncError('INVALID_ARGUMENT', 'statesFor must return { key, state } entries')
  }
}

/** Collects state chunks until `done`, within the byte budget. */
async function receiveStates(
  first: ReconcileFrame | null,
  framed: FramedStream,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
  onStates?: (states: readonly KeyState[]) => void,
): Promise<KeyState[]> {
  const received: KeyState[] = []
  let bytes = 0
  let frame = first ?? (await nextFrame(framed, limits, peer, report))
  for (;;) {
    if (frame.kind === 'done') return received
    if (frame.kind !== 'states') {
      const error = new MendsyncError('PROTOCOL_ERROR', `unexpected ${frame.kind} frame`)
      report(peer, error.message)
      framed.reset(error)
      throw error
    }
    for (const entry of frame.states) {
      bytes += entry.state.byteLength
      if (bytes > limits.maxStateBytes) {
        const error = new MendsyncError(
          'FRAME_TOO_LARGE',
          `the peer sent over ${limits.maxStateBytes} bytes of states in one session`,
        )
        framed.reset(error)
        throw error
      }
      received.push(entry)
    }
    // The replica's sync progress counts bytes as each chunk arrives, not at the session's end.
    onStates?.(frame.states)
    frame = await nextFrame(framed, limits, peer, report)
  }
}

/** Runs the local session step; a failure of our own session is reported to the peer. */
async function step(
  framed: FramedStream,
  session: ReconcileSessionLike,
  message: Uint8Array,
  limits: ReconcileLimits,
  peer: string,
): Promise<ReturnType<ReconcileSessionLike['receive']>> {
  try {
    const result = session.receive(message)
    if (result.reply === null && !result.done) {
      throw new MendsyncError(
        'RECONCILE_PROTOCOL',
        'the session has nothing to send but is not done',
      )
    }
    return result
  } catch (error) {
    const { code, message: text } = describeHandlerError(error)
    loggerOf(limits).debug('the local session failed', { peer, error: describeError(error) })
    await sendError(framed, limits, peer, code, text)
    framed.reset(error instanceof Error ? error : new Error(text))
    throw error
  }
}

function protocolError(
  framed: FramedStream,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
  why: string,
) {
  const error = new MendsyncError('PROTOCOL_ERROR', why)
  report(peer, why)
  loggerOf(limits).debug('the peer broke the reconciliation protocol', { peer, why })
  void sendError(framed, limits, peer, 'PROTOCOL_ERROR', why)
  framed.reset(error)
  return error
}

/** The initiator's side over an open stream. */
export async function initiateReconcile(
  framed: FramedStream,
  space: string,
  driver: ReconcileDriver,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
): Promise<ReconcileOutcome> {
  const fail = (why: string) => protocolError(framed, limits, peer, report, why)
  await send(framed, [RC_OPEN, space, driver.session.initiate()], limits)
  let rounds = 1
  let messages = 1
  let differing: readonly string[] | null = null
  for (;;) {
    const frame = await nextFrame(framed, limits, peer, report)
    if (frame.kind === 'end') {
      if (differing === null) {
        throw fail('the peer ended the rounds before this side was done')
      }
      break
    }
    if (frame.kind !== 'round') {
      throw fail(`unexpected ${frame.kind} frame during the rounds`)
    }
    if (differing !== null) {
      throw fail('a round after this side was done')
    }
    const result = await step(framed, driver.session, frame.message, limits, peer)
    if (result.done) differing = result.differing ?? []
    if (result.reply === null) break
    messages += 2
    if (messages > limits.maxMessages) {
      throw fail(`over ${limits.maxMessages} session messages`)
    }
    await send(framed, [RC_ROUND, result.reply], limits)
    rounds += 1
  }
  const local = [...(differing ?? [])]
  await sendStates(framed, await driver.statesFor(local), limits)
  const received = await receiveStates(null, framed, limits, peer, report, driver.onStates)
  const outcome: ReconcileOutcome = {
    differing: local,
    received,
    rounds,
    bytesSent: framed.bytesWritten,
    bytesReceived: framed.bytesRead,
  }
  void framed.close()
  return outcome
}

/**
 * The responder's side, after the `open` frame was read and access checked: `first` is the
 * initiator's first session message.
 */
export async function respondReconcile(
  framed: FramedStream,
  responder: ReconcileResponder,
  first: Uint8Array,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
): Promise<void> {
  const fail = (why: string) => protocolError(framed, limits, peer, report, why)
  let message = first
  let differing: readonly string[] | null = null
  let messages = 1
  let initiatorEnded: ReconcileFrame | null = null
  for (;;) {
    const result = await step(framed, responder.session, message, limits, peer)
    if (result.done) differing = result.differing ?? []
    if (result.reply === null) {
      await send(framed, [RC_END], limits)
      break
    }
    await send(framed, [RC_ROUND, result.reply], limits)
    const frame = await nextFrame(framed, limits, peer, report)
    if (frame.kind === 'states' || frame.kind === 'done') {
      if (differing === null) {
        throw fail('the initiator ended the rounds before this side was done')
      }
      initiatorEnded = frame
      break
    }
    if (frame.kind !== 'round') {
      throw fail(`unexpected ${frame.kind} frame during the rounds`)
    }
    if (differing !== null) {
      throw fail('a round after this side was done')
    }
    messages += 2
    if (messages > limits.maxMessages) {
      throw fail(`over ${limits.maxMessages} session messages`)
    }
    message = frame.message
  }
  const received = await receiveStates(initiatorEnded, framed, limits, peer, report)
  const local = [...(differing ?? [])]
  let mine: readonly KeyState[]
  try {
    mine = await responder.statesFor(local)
    checkStates(mine)
    await responder.accept(received)
  } catch (error) {
    const { code, message: text } = describeHandlerError(error)
    loggerOf(limits).debug('the responder refused the states', {
      peer,
      error: describeError(error),
    })
    await sendError(framed, limits, peer, code, text)
    await framed.close()
    return
  }
  await sendStates(framed, mine, limits)
  await framed.close()
}

/**
 * Serves one inbound reconciliation stream: reads the `open` frame, asks `resolve` for the
 * responder of that space (it throws `ACCESS_DENIED` / `PEER_UNAVAILABLE` to refuse; the peer
 * gets the code in an error frame), then runs the session.
 */
export async function acceptReconcile(
  framed: FramedStream,
  limits: ReconcileLimits,
  peer: string,
  report: BadFrameReporter,
  resolve: (space: string) => Promise<ReconcileResponder>,
): Promise<void> {
  const open = await nextFrame(framed, limits, peer, report)
  if (open.kind !== 'open') {
    throw protocolError(framed, limits, peer, report, `expected open, got ${open.kind}`)
  }
  let responder: ReconcileResponder
  try {
    responder = await resolve(open.space)
  } catch (error) {
    const { code, message } = describeHandlerError(error)
    loggerOf(limits).debug('refused a reconciliation', {
      peer,
      space: open.space,
      error: describeError(error),
    })
    await sendError(framed, limits, peer, code, message)
    await framed.close()
    return
  }
  await respondReconcile(framed, responder, open.message, limits, peer, report)
}
