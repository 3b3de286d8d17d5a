// The libp2p service that runs {@link KeepConnected} inside a node: it learns the node's
// connections from its events, dials through its connection manager, starts with the node and
// stops with it (no timer or dial outlives `node.stop()`). Both node factories install it as
// `services.keepConnected`; `keepConnectedOf(node)` reaches it.
import type {
  Connection,
  Libp2pEvents,
  PeerId,
  Startable,
  TypedEventTarget,
} from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { defaultLogger, describeError } from '@mendsync/core/toolbox'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { KeepConnected, type KeepConnectedOptions, type KeptPeer } from './keep-connected.js'

/** The service name the factories install {@link keepConnectedService} under. */
export const KEEP_CONNECTED_SERVICE = 'keepConnected'

/** What {@link keepConnectedOf} returns: the running reconnect component of a node. */
export interface KeepConnectedHandle {
  /** Every kept peer (bootstrap peers, then peers the node dialled) and its redial state. */
  peers(): KeptPeer[]
  /** Dials every kept peer that is not connected now, backoff reset. Resolves when settled. */
  redialNow(): Promise<void>
  /** Stops keeping a peer the node dialled connected (bootstrap peers stay). */
  forget(peer: string): void
}

/** Options of {@link keepConnectedService}. */
export interface KeepConnectedInit extends KeepConnectedOptions {
  /** Bootstrap multiaddrs (`.../p2p/<peer id>`), kept connected for the node's lifetime. */
  readonly bootstrap?: readonly string[]
}

/** The parts of libp2p's components the service uses. */
export interface KeepConnectedComponents {
  readonly connectionManager: {
    openConnection(
      peer: PeerId | Multiaddr | Multiaddr[],
      options?: { signal?: AbortSignal },
    ): Promise<Connection>
    getConnections(peer?: PeerId): Connection[]
  }
  readonly events: TypedEventTarget<Libp2pEvents>
}

class KeepConnectedService implements Startable, KeepConnectedHandle {
  readonly [Symbol.toStringTag] = '@mendsync/libp2p/keep-connected'
  readonly #components: KeepConnectedComponents
  readonly #keeper: KeepConnected
  /** Bootstrap peer id -> its addresses (dialled by address: the peer store may not have them). */
  readonly #addresses = new Map<string, Multiaddr[]>()

  constructor(components: KeepConnectedComponents, init: KeepConnectedInit) {
    this.#components = components
    const logger = init.logger ?? defaultLogger('mendsync:libp2p:reconnect')
    for (const text of init.bootstrap ?? []) {
      const address = parseBootstrap(text)
      if ('problem' in address) {
        logger.warn('ignored a bootstrap address', { address: text, problem: address.problem })
        continue
      }
      const list = this.#addresses.get(address.peer) ?? []
      list.push(address.multiaddr)
      this.#addresses.set(address.peer, list)
    }
    this.#keeper = new KeepConnected(
      {
        dial: async (peer, signal) => {
          const target = this.#addresses.get(peer) ?? peerIdFromString(peer)
          await this.#components.connectionManager.openConnection(target, { signal })
        },
        isConnected: (peer) =>
          this.#components.connectionManager.getConnections(peerIdFromString(peer)).length > 0,
      },
      { ...init, logger },
    )
    for (const peer of this.#addresses.keys()) this.#keeper.addBootstrap(peer)
  }

  readonly #onOpen = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    this.#keeper.connected(connection.remotePeer.toString(), connection.direction === 'outbound')
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#keeper.disconnected(event.detail.toString())
  }

  start(): void {
    this.#components.events.addEventListener('connection:open', this.#onOpen)
    this.#components.events.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  /** Dials once the transports listen (libp2p calls it after every component started). */
  afterStart(): void {
    this.#keeper.start()
  }

  stop(): void {
    this.#keeper.stop()
    this.#components.events.removeEventListener('connection:open', this.#onOpen)
    this.#components.events.removeEventListener('peer:disconnect', this.#onDisconnect)
  }

  peers(): KeptPeer[] {
    return this.#keeper.peers()
  }

  redialNow(): Promise<void> {
    return this.#keeper.redialNow()
  }

  forget(peer: string): void {
    this.#keeper.forget(peer)
  }
}

function parseBootstrap(
  text: string,
): { readonly peer: string; readonly multiaddr: Multiaddr } | { readonly problem: string } {
  let address: Multiaddr
  try {
    address = multiaddr(text)
  } catch (error) {
    return { problem: `not a multiaddr: ${describeError(error)}` }
  }
  const peer = address.getPeerId()
  return peer === null ? { problem: 'it has no /p2p/<peer id>' } : { peer, multiaddr: address }
}

/**
 * A libp2p service factory (for `services.keepConnected`) that keeps the node connected to
 * `init.bootstrap` and to the peers it dials, redialling with full-jitter exponential backoff
 * and never giving up; it stops with the node.
 */
export function keepConnectedService(
  init: KeepConnectedInit = {},
): (components: KeepConnectedComponents) => KeepConnectedHandle {
  return (components) => new KeepConnectedService(components, init)
}

/** The reconnect component of a node made by `createNodeLibp2p` / `createBrowserLibp2p`. */
export function keepConnectedOf(node: {
  readonly services: object
}): KeepConnectedHandle | undefined {
  const service = (node.services as Record<string, unknown>)[KEEP_CONNECTED_SERVICE]
  return service instanceof KeepConnectedService ? service : undefined
}

/**
 * Makes `node.hangUp(peer)` also forget `peer` as a known peer: a connection the app closed
 * itself is not redialled (bootstrap peers are kept connected regardless). Called by the
 * factories right after creating the node.
 */
export function forgetPeersOnHangUp(node: {
  readonly services: object
  hangUp(peer: PeerId | Multiaddr, options?: { signal?: AbortSignal }): Promise<void>
}): void {
  const handle = keepConnectedOf(node)
  if (handle === undefined) return
  const hangUp = node.hangUp.bind(node)
  node.hangUp = async (peer, options) => {
    const id = 'getPeerId' in peer ? peer.getPeerId() : peer.toString()
    if (id !== null) handle.forget(id)
    await hangUp(peer, options)
  }
}
