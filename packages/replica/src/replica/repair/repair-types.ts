import type { CausalValue } from '@mendsync/core'
import type { PeerId } from '../../network/types.js'

/** What the engine gives the repairer: local digests, and where pulled states go. */
export interface RepairTarget {
  /** The digest of an encoded state, as peers compute it. */
  digestOf(state: Uint8Array): Uint8Array
  /** The local state hashes of `keys` (`null` for a key never written). */
  localDigests(keys: readonly string[]): Promise<(Uint8Array | null)[]>
  /** Decodes a peer's states; throws (`DECODE_ERROR`) when one is not a valid state. */
  decode(states: readonly { key: string; state: Uint8Array }[]): DecodedState[]
  /**
   * Joins states pulled from `peers` in one batch (one commit, whatever the number of peers);
   * returns the keys whose local state changed.
   */
  joinPulled(peers: readonly PeerId[], states: readonly DecodedState[]): Promise<string[]>
  /** The local encoded states of `keys`, to write back to peers that are behind. */
  localStates(keys: readonly string[]): Promise<(Uint8Array | null)[]>
  /** Runs work the repair does not wait for (tracked so that close() waits for it). */
  background(work: Promise<unknown>): void
  /** `key`'s divergence with `peer` is repaired (the hint is settled). */
  settled(peer: PeerId, keys: readonly string[]): void
  /** Waits `ms` before a retry; cut short when the replica closes. */
  sleep(ms: number): Promise<void>
}

/** A pulled state, decoded. */
export interface DecodedState {
  readonly key: string
  readonly value: CausalValue
}

/** Keys to repair with one peer: `true` when gossip says the peer is ahead for the key. */
export type RepairKeys = ReadonlyMap<string, boolean>

/** Outcome of one repair of some keys with some peers. */
export interface RepairOutcome {
  /** Peers that answered. */
  readonly answered: PeerId[]
  /** Peers that did not answer in time, failed, or were skipped (breaker open, overloaded). */
  readonly unanswered: PeerId[]
  /** Keys whose local state changed. */
  readonly repaired: string[]
}
