// What the parts of the in-process network see of each other: the hub as its networks see it,
// a network as its channels see it, and a channel as a remote channel sees it. Declared apart so
// that hub, node and channel import these shapes and never each other in a circle.
import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId, SpaceEvents, SpaceHandlers } from '../../network/types.js'
import type { ChannelAccess } from './access.js'
import type { Route, ScheduledMessage } from './options.js'

/** The hub as its networks and channels use it. */
export interface HubPart {
  readonly nodes: ReadonlyMap<PeerId, NodePart>
  readonly maxRounds: number
  readonly schedule: ((message: ScheduledMessage) => void) | undefined
  isLinked(a: PeerId, b: PeerId): boolean
  /** Recomputes every channel's peer set. */
  refresh(): void
  /** Removes a closed network and takes its links down. */
  detach(peerId: PeerId): void
  /** Waits the one-way latency (at least one macrotask). */
  delay(): Promise<void>
  /** Carries one message along `route` (latency, or the test's delivery hook). */
  hop(route: Route): Promise<void>
}

/** A network as its channels use it. */
export interface NodePart {
  readonly peerId: PeerId
  readonly hub: HubPart
  readonly logger: Logger
  readonly spaces: ReadonlyMap<string, ChannelPart>
  readonly defaultTimeoutMs: number
  readonly reconcileTimeoutMs: number
  readonly lifetime: AbortController
  /** Runs `exchange` as a call to `peer`, failed when the link drops. */
  overLink<T>(peer: PeerId, signal: AbortSignal, exchange: () => Promise<T>): Promise<T>
  /** Forgets `channel` (it was left). */
  forget(space: string, channel: ChannelPart): void
}

/** A channel as the other channels of its space use it. */
export interface ChannelPart {
  readonly space: string
  readonly handlers: SpaceHandlers
  readonly closed: boolean
  readonly node: NodePart
  readonly access: ChannelAccess
  emit<E extends keyof SpaceEvents>(event: E, detail: SpaceEvents[E]): void
}
