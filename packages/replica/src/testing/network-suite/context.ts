import type { Network, PeerId, SpaceChannel } from '../../network/types.js'
import type { FakeSpaceStore } from './fake-space-store.js'

/** What an adapter's test file hands the network acceptance suite for each test. */
export interface NetworkTestHarness {
  /** A new, started network (a new peer), not yet connected to anything. */
  createNetwork(): Promise<Network>
  /** Connects two networks of this harness (a dial, a link up); resolves once connected. */
  connect(a: Network, b: Network): Promise<void>
  /** Severs the connection between two networks (a hang-up, a link down). */
  disconnect(a: Network, b: Network): Promise<void>
  /** Closes every network this harness created and releases what it holds. */
  teardown(): Promise<void>
}

/** Creates one harness; called once per test. */
export type NetworkTestSetup = () => Promise<NetworkTestHarness>

/** Options of {@link runNetworkAdapterTests}. */
export interface NetworkSuiteOptions {
  /** Name of the describe block. Default `'Network adapter'`. */
  readonly name?: string
  /** How long the suite waits for an event (connect, gossip) before failing, ms. Default 10_000. */
  readonly eventTimeoutMs?: number
  /** Deadline the suite uses for calls that must time out, ms. Default 300. */
  readonly shortTimeoutMs?: number
}

/** Two connected networks that joined one space and see each other. */
export interface ConnectedPair {
  readonly a: Network
  readonly b: Network
  readonly channelA: SpaceChannel
  readonly channelB: SpaceChannel
  readonly storeA: FakeSpaceStore
  readonly storeB: FakeSpaceStore
}

/** What each concern's tests of the network suite share: the harness and event waits. */
export interface NetworkSuiteContext {
  /** The current test's harness. */
  readonly harness: NetworkTestHarness
  /** Deadline the suite uses for calls that must time out, ms. */
  readonly shortTimeoutMs: number
  /** Resolves once `check()` holds (polled); fails after the suite's event timeout. */
  waitFor(what: string, check: () => boolean): Promise<void>
  /** Resolves once `channel.peers()` includes every one of `peers`. */
  sees(channel: SpaceChannel, ...peers: PeerId[]): Promise<void>
  /** Two connected networks that joined `space` (default `space-a`) and see each other. */
  pair(space?: string, stores?: [FakeSpaceStore, FakeSpaceStore]): Promise<ConnectedPair>
}
