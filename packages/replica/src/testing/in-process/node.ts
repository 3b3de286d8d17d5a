// One network attached to the hub: its peer id, its joined spaces, and the calls in flight per
// remote peer (failed when the link to that peer drops).
import { MendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'
import { rejecter } from '../../network/call.js'
import { checkSpaceAccess } from '../../network/space-access.js'
import type {
  JoinOptions,
  Network,
  PeerId,
  SpaceChannel,
  SpaceHandlers,
} from '../../network/types.js'
import { InProcessChannel } from './channel.js'
import type { InProcessNetworkOptions } from './options.js'
import type { ChannelPart, HubPart, NodePart } from './parts.js'

/** A network of the in-process hub. */
export class InProcessNode implements Network, NodePart {
  readonly peerId: PeerId
  readonly spaces = new Map<string, InProcessChannel>()
  readonly hub: HubPart
  readonly defaultTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly lifetime = new AbortController()
  readonly logger: Logger
  /** Calls in flight per remote peer: each entry fails its call when the link drops. */
  private readonly calls = new Map<PeerId, Set<(error: MendsyncError) => void>>()

  constructor(hub: HubPart, peerId: PeerId, logger: Logger, options: InProcessNetworkOptions) {
    this.hub = hub
    this.peerId = peerId
    this.logger = options.logger ?? logger.child(peerId)
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000
    this.reconcileTimeoutMs = options.reconcileTimeoutMs ?? 60_000
  }

  async join(space: string, handlers: SpaceHandlers, options?: JoinOptions): Promise<SpaceChannel> {
    if (this.lifetime.signal.aborted) throw new MendsyncError('CLOSED', 'the network is closed')
    if (typeof space !== 'string' || space.length === 0) {
      throw new MendsyncError('INVALID_ARGUMENT', 'space must be a non-empty string')
    }
    if (this.spaces.has(space)) {
      throw new MendsyncError('INVALID_ARGUMENT', `space ${space} is already joined`)
    }
    checkSpaceAccess(space, options?.access, options?.allow)
    const channel = new InProcessChannel(this, space, handlers, options)
    this.spaces.set(space, channel)
    this.hub.refresh()
    return channel
  }

  async close(): Promise<void> {
    if (this.lifetime.signal.aborted) return
    this.lifetime.abort(new MendsyncError('NETWORK_CLOSED', 'the network was closed'))
    for (const channel of [...this.spaces.values()]) channel.shutdown()
    this.spaces.clear()
    this.hub.detach(this.peerId)
  }

  forget(space: string, channel: ChannelPart): void {
    if (this.spaces.get(space) === channel) this.spaces.delete(space)
  }

  refreshSpaces(): void {
    for (const channel of this.spaces.values()) channel.refresh()
  }

  /** The link to `peer` went down: what it proved over the link is forgotten. */
  linkDown(peer: PeerId): void {
    for (const channel of this.spaces.values()) channel.linkDown(peer)
  }

  dropCalls(peer: PeerId, error: MendsyncError): void {
    const entries = this.calls.get(peer)
    if (!entries) return
    this.calls.delete(peer)
    for (const fail of entries) fail(error)
  }

  /**
   * Runs `exchange` as a call to `peer`: it fails with `NETWORK_CLOSED` when the link drops
   * (the signal passed by runCall covers deadline, abort and close).
   */
  async overLink<T>(peer: PeerId, signal: AbortSignal, exchange: () => Promise<T>): Promise<T> {
    const { promise: dropped, reject } = rejecter()
    let entries = this.calls.get(peer)
    if (!entries) {
      entries = new Set()
      this.calls.set(peer, entries)
    }
    entries.add(reject)
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      // Both promises are raced at once, which handles whichever rejects second.
      return await Promise.race([exchange(), dropped])
    } finally {
      signal.removeEventListener('abort', onAbort)
      entries.delete(reject)
      if (entries.size === 0 && this.calls.get(peer) === entries) this.calls.delete(peer)
    }
  }
}
