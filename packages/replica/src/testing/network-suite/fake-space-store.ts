// A fake `SpaceHandlers` for transport tests: an in-memory key store that records every call.
import { toHex } from '@mendsync/core/toolbox'
import type {
  KeyState,
  PeerId,
  PullMode,
  PullResult,
  ReconcileDriver,
  ReconcileResponder,
  SpaceHandlers,
} from '../../network/types.js'
import { createListReconcileSession } from '../fake-reconcile.js'

/** An in-memory key store serving a space: states, digests, and a list reconciliation. */
export class FakeSpaceStore implements SpaceHandlers {
  readonly states = new Map<string, Uint8Array>()
  readonly pushed: { peer: PeerId; states: KeyState[] }[] = []
  readonly accepted: KeyState[] = []
  readonly pulls: { peer: PeerId; keys: string[]; mode: PullMode }[] = []
  /**
   * Every request as it arrives, before {@link gate} holds it: a test waits on this to know a
   * call is in flight at the peer.
   */
  readonly arrived: { call: 'pull' | 'push' | 'reconcile'; peer: PeerId }[] = []
  /** Items per reconciliation message of this side (more rounds when small). */
  chunk: number | undefined = undefined
  /** When set, pull/push/reconcile wait for it (to hold a call in flight) or throw it. */
  gate: Promise<void> | null = null
  failWith: unknown = null

  constructor(entries: Record<string, string> = {}) {
    for (const [key, value] of Object.entries(entries)) this.states.set(key, text(value))
  }

  async pull(peer: PeerId, keys: readonly string[], mode: PullMode): Promise<PullResult> {
    this.arrived.push({ call: 'pull', peer })
    this.pulls.push({ peer, keys: [...keys], mode })
    await this.hold()
    const found = keys.map((key) => this.states.get(key) ?? null)
    return mode === 'digest'
      ? { mode, digests: found.map((state) => (state ? digestOf(state) : null)) }
      : { mode, states: found }
  }

  async push(peer: PeerId, states: readonly KeyState[]): Promise<void> {
    this.arrived.push({ call: 'push', peer })
    await this.hold()
    this.pushed.push({ peer, states: [...states] })
    for (const { key, state } of states) this.states.set(key, state)
  }

  async reconcile(peer: PeerId): Promise<ReconcileResponder> {
    this.arrived.push({ call: 'reconcile', peer })
    await this.hold()
    const driver = this.driver()
    return {
      ...driver,
      accept: async (states) => {
        this.accepted.push(...states)
        for (const { key, state } of states) this.states.set(key, state)
      },
    }
  }

  /** The initiator's side of a reconciliation over this store. */
  driver(): ReconcileDriver {
    const items = new Map([...this.states].map(([key, state]) => [key, toHex(state)] as const))
    const options = this.chunk === undefined ? {} : { chunk: this.chunk }
    return {
      session: createListReconcileSession(items, options),
      statesFor: async (keys) =>
        keys.flatMap((key) => {
          const state = this.states.get(key)
          return state ? [{ key, state }] : []
        }),
    }
  }

  private async hold(): Promise<void> {
    if (this.failWith !== null) throw this.failWith
    if (this.gate) await this.gate
  }
}

/** Bytes of a string. */
export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value)
}

/** The digest the fake store answers a digest pull with. */
export function digestOf(state: Uint8Array): Uint8Array {
  return text(`digest:${toHex(state)}`)
}
