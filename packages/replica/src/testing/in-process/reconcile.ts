// One reconciliation across the hub: the initiator's and the responder's sessions alternate
// messages, each one a hop, until both are done; then each side sends the states that differ.
import { MendsyncError } from '@mendsync/core'
import { WRITE } from '@mendsync/core/access'
import type { ReconcileDriver, ReconcileOutcome } from '../../network/types.js'
import type { Route } from './options.js'
import type { ChannelPart } from './parts.js'
import { copyStates, remoteCall, stateBytes } from './payloads.js'

/** Reconciles `local`'s space with `remote`'s through `driver`; `signal` ends it early. */
export async function runReconcile(
  local: ChannelPart,
  remote: ChannelPart,
  driver: ReconcileDriver,
  signal: AbortSignal,
): Promise<ReconcileOutcome> {
  const hub = local.node.hub
  const me = local.node.peerId
  const space = local.space
  const there = remote.node.peerId
  const toPeer: Route = { kind: 'request', call: 'reconcile', space, from: me, to: there }
  const back: Route = { kind: 'response', call: 'reconcile', space, from: there, to: me }
  const responder = await remoteCall(() => remote.handlers.reconcile(me))
  // A reader reconciles to catch up; the states it sends are dropped, never joined.
  const joins = (): boolean => remote.access.can(me, WRITE)
  let bytesSent = 0
  let bytesReceived = 0
  let rounds = 1
  let outgoing: Uint8Array | null = driver.session.initiate().slice()
  bytesSent += outgoing.byteLength
  let localDiff: readonly string[] | null = null
  let remoteDiff: readonly string[] | null = null
  let messages = 1
  // Alternate session messages until one side has nothing more to say; that side must be done,
  // and so must the other (the same rule the libp2p wire protocol enforces).
  for (;;) {
    await hub.hop(toPeer)
    signal.throwIfAborted()
    const input: Uint8Array = outgoing
    const answer = await remoteCall(async () => responder.session.receive(input.slice()))
    if (answer.done) remoteDiff = answer.differing ?? []
    if (answer.reply === null) {
      if (!answer.done) throw new MendsyncError('REMOTE_ERROR', 'peer session stalled')
      if (localDiff === null) {
        throw new MendsyncError('PROTOCOL_ERROR', 'peer ended the session before this side')
      }
      break
    }
    const reply = answer.reply.slice()
    bytesReceived += reply.byteLength
    messages += 1
    await hub.hop(back)
    signal.throwIfAborted()
    const step = driver.session.receive(reply)
    if (step.done) localDiff = step.differing ?? []
    if (step.reply === null) {
      if (!step.done) {
        throw new MendsyncError('RECONCILE_PROTOCOL', 'the local session has nothing to send')
      }
      if (remoteDiff === null) {
        throw new MendsyncError('PROTOCOL_ERROR', 'this side ended before the peer was done')
      }
      break
    }
    outgoing = step.reply.slice()
    bytesSent += outgoing.byteLength
    rounds += 1
    messages += 1
    if (messages > hub.maxRounds) {
      throw new MendsyncError('PROTOCOL_ERROR', `reconciliation exceeded ${hub.maxRounds} messages`)
    }
  }
  const differing = [...(localDiff ?? [])]
  const mine = copyStates(await driver.statesFor(differing))
  bytesSent += stateBytes(mine)
  await hub.hop(toPeer)
  signal.throwIfAborted()
  // The responder reads its states before joining ours, so each side sends what it had.
  const theirs = copyStates(await remoteCall(() => responder.statesFor([...(remoteDiff ?? [])])))
  await remoteCall(() => responder.accept(joins() ? copyStates(mine) : []))
  bytesReceived += stateBytes(theirs)
  await hub.hop(back)
  return { differing, received: theirs, rounds, bytesSent, bytesReceived }
}
