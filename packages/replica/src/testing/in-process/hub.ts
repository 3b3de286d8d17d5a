// The hub that in-process networks attach to: which pairs are linked, and the test's controls
// over them (link, unlink, partition, heal). A link going down fails the calls in flight over
// it and makes each side forget what the other proved.
import { MendsyncError } from '@mendsync/core'
import { defaultLogger, type Logger } from '@mendsync/core/toolbox'
import type { Network, PeerId } from '../../network/types.js'
import { latency, scheduledLeg } from './fault-injection.js'
import { InProcessNode } from './node.js'
import type {
  InProcessHub,
  InProcessHubOptions,
  InProcessNetworkOptions,
  Route,
  ScheduledMessage,
} from './options.js'
import type { HubPart } from './parts.js'

/** Creates a hub that in-process networks attach to. */
export function createInProcessHub(options: InProcessHubOptions = {}): InProcessHub {
  return new Hub(options)
}

/** Attaches a new in-process network to `hub`; the same as `hub.createNetwork(options)`. */
export function createInProcessNetwork(
  hub: InProcessHub,
  options?: InProcessNetworkOptions,
): Network {
  return hub.createNetwork(options)
}

class Hub implements InProcessHub, HubPart {
  readonly nodes = new Map<PeerId, InProcessNode>()
  readonly links = new Set<string>()
  readonly latencyMs: number
  readonly autoLink: boolean
  readonly maxRounds: number
  readonly schedule: ((message: ScheduledMessage) => void) | undefined
  readonly logger: Logger
  private counter = 0

  constructor(options: InProcessHubOptions) {
    this.logger = options.logger ?? defaultLogger('mendsync:in-process')
    this.latencyMs = options.latencyMs ?? 0
    this.schedule = options.schedule
    this.autoLink = options.autoLink ?? true
    this.maxRounds = options.maxReconcileRounds ?? 10_000
    if (!(this.latencyMs >= 0 && Number.isFinite(this.latencyMs))) {
      throw new MendsyncError('INVALID_ARGUMENT', 'latencyMs must be a non-negative number')
    }
  }

  createNetwork(options: InProcessNetworkOptions = {}): Network {
    this.counter += 1
    const peerId = options.peerId ?? `peer-${this.counter}`
    if (typeof peerId !== 'string' || peerId.length === 0) {
      throw new MendsyncError('INVALID_ARGUMENT', 'peerId must be a non-empty string')
    }
    if (this.nodes.has(peerId)) {
      throw new MendsyncError('INVALID_ARGUMENT', `a network with peer id ${peerId} is attached`)
    }
    const node = new InProcessNode(this, peerId, this.logger, options)
    if (this.autoLink) for (const other of this.nodes.keys()) this.links.add(linkKey(peerId, other))
    this.nodes.set(peerId, node)
    this.refresh()
    return node
  }

  link(a: PeerId, b: PeerId): void {
    this.require(a)
    this.require(b)
    if (a === b) return
    this.links.add(linkKey(a, b))
    this.refresh()
  }

  unlink(a: PeerId, b: PeerId): void {
    if (!this.links.delete(linkKey(a, b))) return
    const error = () => new MendsyncError('NETWORK_CLOSED', `the link ${a} <-> ${b} went down`)
    this.nodes.get(a)?.dropCalls(b, error())
    this.nodes.get(b)?.dropCalls(a, error())
    this.nodes.get(a)?.linkDown(b)
    this.nodes.get(b)?.linkDown(a)
    this.refresh()
  }

  isLinked(a: PeerId, b: PeerId): boolean {
    return this.nodes.has(a) && this.nodes.has(b) && this.links.has(linkKey(a, b))
  }

  partition(...groups: readonly (readonly PeerId[])[]): void {
    const groupOf = new Map<PeerId, number>()
    groups.forEach((group, index) => {
      for (const peer of group) groupOf.set(peer, index)
    })
    const ids = [...this.nodes.keys()]
    for (const a of ids) {
      for (const b of ids) {
        if (a >= b) continue
        const ga = groupOf.get(a)
        const gb = groupOf.get(b)
        if (ga !== undefined && ga === gb) this.links.add(linkKey(a, b))
        else if (ga !== undefined || gb !== undefined) this.unlink(a, b)
      }
    }
    this.refresh()
  }

  heal(): void {
    const ids = [...this.nodes.keys()]
    for (const a of ids) for (const b of ids) if (a < b) this.links.add(linkKey(a, b))
    this.refresh()
  }

  peers(): PeerId[] {
    return [...this.nodes.keys()]
  }

  detach(peerId: PeerId): void {
    if (!this.nodes.delete(peerId)) return
    for (const other of [...this.nodes.keys()]) {
      if (this.links.delete(linkKey(peerId, other))) {
        const node = this.nodes.get(other)
        node?.dropCalls(peerId, new MendsyncError('NETWORK_CLOSED', `${peerId} closed its network`))
        node?.linkDown(peerId)
      }
    }
    this.refresh()
  }

  /** Recomputes every channel's peer set; channels emit the differences. */
  refresh(): void {
    for (const node of this.nodes.values()) node.refreshSpaces()
  }

  delay(): Promise<void> {
    return latency(this.latencyMs)
  }

  /**
   * Carries one message along `route`: waits the configured one-way latency (at least one
   * macrotask), or, with a `schedule` hook, until the test delivers it (rejects when it drops it).
   */
  hop(route: Route): Promise<void> {
    return this.schedule === undefined ? this.delay() : scheduledLeg(this.schedule, route)
  }

  private require(peer: PeerId): void {
    if (!this.nodes.has(peer)) {
      throw new MendsyncError('INVALID_ARGUMENT', `no network with peer id ${peer} is attached`)
    }
  }
}

function linkKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}
