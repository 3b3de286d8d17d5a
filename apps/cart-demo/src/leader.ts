// What only the leader tab runs: the IndexedDB replica, the libp2p node and its online/offline
// switch. Every tab loads this module, but only the tab elected leader calls `openLeaderReplica`;
// the others reach these functions through `tabs.call(...)` (the commands below).
import {
  createBrowserLibp2p,
  createLibp2pNetwork,
  generateIdentity,
  identityFromBytes,
  identityToBytes,
  keepConnectedOf,
  type MendsyncLibp2p,
  type PeerTransport,
  type PrivateKey,
  peerIdOf,
  peerTransports,
} from '@mendsync/libp2p'
import {
  type DeviceGrant,
  openReplica,
  type Replica,
  type ReplicaAccessStatus,
  type SyncProgress,
  signingKeyOf,
} from '@mendsync/replica'
import { openIdbStorage } from '@mendsync/storage-idb'
import type { LeaderContext } from '@mendsync/tabs'
import type { CartSpace } from './cart-space.js'
import { demoLogger } from './logger.js'
import { peerIdOfAddress } from './multiaddr.js'

/** What the status panel shows about the leader's network. */
export interface NetworkState {
  /** The switch: the user wants the network on. */
  readonly enabled: boolean
  /** The relay this profile dials (undefined: none configured, local only). */
  readonly relay: string | undefined
  readonly peerId: string | undefined
  /** Open libp2p connections (the relay, when connected). */
  readonly connections: number
  /** Per connected peer id, how it is reached (`webrtc` direct, `circuit-relay` through the relay). */
  readonly transports: Readonly<Record<string, PeerTransport>>
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

function unbase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0))
}

export function storageKey(space: string, name: string): string {
  return `mendsync-demo:${space}:${name}`
}

/** The switch is shared by the profile's tabs (a new leader keeps it as it was). */
export function readSwitch(space: string): boolean {
  return localStorage.getItem(storageKey(space, 'online')) !== 'off'
}

function writeSwitch(space: string, on: boolean): void {
  localStorage.setItem(storageKey(space, 'online'), on ? 'on' : 'off')
}

/** The scope of the one device identity every private cart of the profile uses. */
const DEVICE_SCOPE = 'device'

/** The identity scope of `cart`: a named space keeps its own, private carts share the device's. */
function identityScope(cart: CartSpace): string {
  return cart.kind === 'open' ? cart.space : DEVICE_SCOPE
}

/**
 * The peer id of this profile's device in private carts (its grants name it), made once per
 * profile; serialised across tabs so two tabs starting at once agree on it.
 */
export async function devicePeerId(): Promise<string> {
  return await navigator.locks.request('mendsync-demo:identity', async () =>
    peerIdOf(await identity(DEVICE_SCOPE)),
  )
}

/** The profile's libp2p identity, kept in localStorage so every leader tab has the same peer id. */
async function identity(space: string): Promise<PrivateKey> {
  const stored = localStorage.getItem(storageKey(space, 'identity'))
  if (stored !== null) {
    try {
      return identityFromBytes(unbase64(stored))
    } catch (error) {
      demoLogger.warn('the stored peer identity is unreadable; making a new one', { error })
    }
  }
  const key = await generateIdentity()
  localStorage.setItem(storageKey(space, 'identity'), base64(identityToBytes(key)))
  return key
}

/**
 * The libp2p node with an on/off switch. Off: the connection gater refuses every dial and the open
 * connections are closed (the replica keeps working locally, its outbox grows). On: the relay is
 * dialled again at once. Keeping it connected after that (redialling with backoff when it drops)
 * is the library's: `createBrowserLibp2p` keeps its bootstrap peers connected.
 */
class NetworkSwitch {
  readonly node: MendsyncLibp2p
  readonly relay: string | undefined
  readonly #space: string
  readonly #gate: { enabled: boolean }

  constructor(
    node: MendsyncLibp2p,
    space: string,
    relay: string | undefined,
    gate: { enabled: boolean },
  ) {
    this.node = node
    this.relay = relay
    this.#space = space
    this.#gate = gate
  }

  async setEnabled(on: boolean): Promise<NetworkState> {
    this.#gate.enabled = on
    writeSwitch(this.#space, on)
    // While off, the library's redials were refused by the gate and backed off: dial now.
    if (on) await keepConnectedOf(this.node)?.redialNow()
    else await Promise.all(this.node.getPeers().map((peer) => this.node.hangUp(peer)))
    return this.state()
  }

  state(): NetworkState {
    return {
      enabled: this.#gate.enabled,
      relay: this.relay,
      peerId: this.node.peerId.toString(),
      connections: this.node.getConnections().length,
      transports: Object.fromEntries(peerTransports(this.node)),
    }
  }
}

let current: NetworkSwitch | undefined

/** What the panel shows of the sync progress: the round now, and what sync brought so far. */
export interface SyncState {
  /** The replica's progress now (`status().progress`). */
  readonly progress: SyncProgress
  /** Keys received by reconciliations and deliveries since this leader opened the replica. */
  readonly keysReceived: number
  /** Exchange rounds ended since this leader opened the replica. */
  readonly rounds: number
}

const received = { keys: 0, rounds: 0 }

/**
 * Opens the replica in the leader tab: IndexedDB (through the tabs' write journal) and libp2p.
 * The one place the cart's space is opened: a private cart passes this device's proof, and its
 * libp2p key signs the grants, invites and revocations it may give.
 */
export async function openLeaderReplica(
  leader: LeaderContext,
  cart: CartSpace,
  relay: string | undefined,
): Promise<Replica> {
  const options = { space: cart.space, relay }
  const privateKey = await identity(identityScope(cart))
  const storage = await openIdbStorage({
    space: options.space,
    onForcedClose: () => {
      document.body.dataset.forcedClose = 'true'
    },
  })
  const gate = { enabled: readSwitch(options.space) }
  const node = await createBrowserLibp2p({
    privateKey,
    bootstrap: options.relay === undefined ? [] : [options.relay],
    connectionGater: {
      denyDialMultiaddr: async () => !gate.enabled,
      denyDialPeer: async () => !gate.enabled,
    },
  })
  current = new NetworkSwitch(node, options.space, options.relay, gate)
  // Back from a browser-level outage: redial now rather than at the end of the backoff.
  addEventListener('online', () => {
    if (gate.enabled) {
      keepConnectedOf(node)
        ?.redialNow()
        .catch((error: unknown) =>
          demoLogger.debug('redialling after the browser came back online failed', { error }),
        )
    }
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  const replica = await openReplica({
    space: options.space,
    storage: leader.journal(storage),
    network,
    ...(cart.kind === 'private'
      ? {
          access: {
            proof: cart.proof,
            signer: signingKeyOf(privateKey),
            // The relay serves the space without a grant: this device trusts the one it dials.
            trustedPeers: [peerIdOfAddress(relay)].filter((peer) => peer !== undefined),
          },
        }
      : {}),
    // A demo should show convergence quickly: gossip every 2 s, anti-entropy every 10 s.
    gossipIntervalMs: 2_000,
    antiEntropyIntervalMs: 10_000,
  })
  // A round's last event is always delivered (inactive), with the round's counts.
  replica.onProgress((progress) => {
    if (progress.active) return
    received.keys += progress.keysReceived
    received.rounds += 1
  })
  return replica
}

/** Commands followers run in the leader (`tabs.call(name, ...args)`). */
export const leaderCommands = {
  network: (): NetworkState | undefined => current?.state(),
  sync: (replica: Replica): SyncState => ({
    progress: replica.status().progress,
    keysReceived: received.keys,
    rounds: received.rounds,
  }),
  setOnline: async (_replica: Replica, on: boolean): Promise<NetworkState | undefined> =>
    await current?.setEnabled(on),
  access: (replica: Replica): DeviceAccess => ({
    status: replica.access(),
    devices: replica.devices(),
    peerId: current?.node.peerId.toString(),
  }),
  /** A one-day invite for a device that joins with read and write. */
  invite: async (replica: Replica): Promise<string> =>
    await replica.invite({ rights: ['read', 'write'] }),
  revoke: async (replica: Replica, peer: string): Promise<void> => await replica.revoke(peer),
}

/** What the devices panel shows: this replica's rights and the devices the replica knows. */
export interface DeviceAccess {
  readonly status: ReplicaAccessStatus
  readonly devices: readonly DeviceGrant[]
  readonly peerId: string | undefined
}
