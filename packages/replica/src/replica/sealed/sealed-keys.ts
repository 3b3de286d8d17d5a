import { type CausalValue, type DeltaMutation, MendsyncError } from '@mendsync/core'
import {
  keyedKeyId,
  type OpenedValue,
  openValue,
  type QuarantinedEntry,
  type SpaceKeyring,
  sealedMutation,
} from '@mendsync/core/sealed'
import { BoundedMap, Listeners, type Logger } from '@mendsync/core/toolbox'

/**
 * Names whose keyed id is kept, both ways (one HMAC saved per cached name, and the way back for
 * prefix subscriptions): bounds the memory of the name index.
 */
export const SEALED_NAME_INDEX_MAX = 65_536

/**
 * What `Replica.onQuarantine` reports: entries of a sealed key that failed to open (tampered,
 * or sealed with an epoch this device lacks) and were left out of a read or a change.
 */
export interface SealedQuarantine {
  /** The key's name (what the application asked for). */
  readonly key: string
  /** The keyed id it is stored and synced under. */
  readonly keyId: string
  readonly entries: readonly QuarantinedEntry[]
}

/**
 * A key holder's side of an encrypted space in a replica: maps key names to keyed ids, seals
 * each local delta once (the sealed delta is what is stored and shipped) and opens stored sealed
 * states for reads and subscribers, reporting what it had to quarantine. The replica's storage,
 * handoff, gossip, repair and reconciliation only ever see keyed ids and sealed states.
 */
export class SealedKeys {
  readonly keyring: SpaceKeyring
  private readonly ids = new BoundedMap<string, string>(SEALED_NAME_INDEX_MAX)
  /** The way back: keyed id to name, for the names this replica used since it opened. */
  private readonly names = new BoundedMap<string, string>(SEALED_NAME_INDEX_MAX)
  private readonly quarantines: Listeners<SealedQuarantine>
  private readonly logger: Logger
  private readonly counted: (entries: number) => void

  /**
   * @param space the replica's space: the keyring must be this space's (its ids and envelopes
   *   bind the space id), otherwise `INVALID_ARGUMENT`.
   * @param counted called with the number of entries each quarantine left out (the metric).
   */
  constructor(keyring: SpaceKeyring, space: string, logger: Logger, counted: (n: number) => void) {
    if (keyring?.spaceId !== space) {
      throw new MendsyncError(
        'INVALID_ARGUMENT',
        `option sealed: the keyring is for space "${String(keyring?.spaceId)}", not "${space}"`,
      )
    }
    this.keyring = keyring
    this.logger = logger
    this.counted = counted
    this.quarantines = new Listeners(logger)
  }

  /** The keyed id the key `name` is stored and synced under. */
  idOf(name: string): string {
    let id = this.ids.get(name)
    if (id === undefined) {
      id = keyedKeyId(this.keyring, name)
      this.ids.set(name, id)
    }
    this.names.set(id, name)
    return id
  }

  /**
   * The name of the keyed id `keyId` when this replica used that name since it opened (read,
   * wrote or subscribed to it; the most recent {@link SEALED_NAME_INDEX_MAX}), else `undefined`:
   * a keyed id is one-way, so a key only another device has named stays nameless here.
   */
  nameOf(keyId: string): string | undefined {
    return this.names.get(keyId)
  }

  /**
   * Opens the sealed state of `name`; entries that did not open are left out, logged, counted
   * and reported to the quarantine listeners (never thrown: see `requireIntact` for that).
   */
  open(name: string, sealed: CausalValue): OpenedValue {
    const keyId = this.idOf(name)
    const opened = openValue(this.keyring, keyId, sealed)
    if (opened.quarantined.length > 0) {
      this.logger.warn('sealed entries failed to open and were left out', {
        key: keyId,
        entries: opened.quarantined.length,
        reasons: [...new Set(opened.quarantined.map((q) => q.reason))],
      })
      this.counted(opened.quarantined.length)
      this.quarantines.emit({ key: name, keyId, entries: opened.quarantined })
    }
    return opened
  }

  /**
   * The sealed form of a plain operation on `name`, for the write path: it opens the sealed
   * state, runs `operation` on the plain view, seals only the delta (once, fresh nonces) and
   * joins it into the sealed state. Quarantined entries are invisible to `operation`, but
   * their dots stay in the context, so a write with a read context supersedes them.
   */
  mutation(
    name: string,
    operation: (plain: CausalValue) => DeltaMutation,
  ): (sealed: CausalValue) => DeltaMutation {
    return (sealed) => {
      // Never null: `operation` always returns a mutation.
      const sealedWrite = sealedMutation(this.keyring, this.idOf(name), sealed, operation)
      return sealedWrite as NonNullable<typeof sealedWrite>
    }
  }

  /** Calls `listener` at every quarantine; returns the function that unsubscribes. */
  onQuarantine(listener: (quarantine: SealedQuarantine) => void): () => void {
    return this.quarantines.add(listener)
  }
}
