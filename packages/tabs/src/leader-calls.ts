// What the leader does with a call: runs it on its replica, at most once per call id. A write id
// already applied (here, by an earlier leader whose answer every tab heard, or recorded in the
// journal) is acknowledged without running it again; writes on one key run one after another
// (the journal needs that).
import { MendsyncError } from '@mendsync/core'
import { BoundedSet } from '@mendsync/core/toolbox'
import type { Replica } from '@mendsync/replica'
import type { WriteJournal } from './journal.js'
import type { LeaderCommand } from './options.js'
import { createsDot, isWrite, type Operation } from './protocol.js'

/** The calls a tab runs while it leads, and the write ids it knows were applied. */
export class LeaderCalls {
  readonly #applied: BoundedSet<string>
  readonly #inFlight = new Map<string, Promise<unknown>>()
  readonly #keyTails = new Map<string, Promise<unknown>>()
  readonly #commands: Readonly<Record<string, LeaderCommand>> | undefined
  #replica: Replica | undefined
  #journal: WriteJournal | undefined

  /** @param recentWrites how many applied write ids are remembered. */
  constructor(recentWrites: number, commands: Readonly<Record<string, LeaderCommand>> | undefined) {
    this.#applied = new BoundedSet(recentWrites)
    this.#commands = commands
  }

  /** Runs later calls on `replica` (this tab now leads). */
  lead(replica: Replica, journal: WriteJournal | undefined): void {
    this.#replica = replica
    this.#journal = journal
  }

  /** Stops leading: calls still queued fail with `CLOSED`. */
  stopLeading(): void {
    this.#replica = undefined
    this.#journal = undefined
  }

  /** Remembers that write `id` was applied (every tab hears the leader's answers). */
  acknowledged(id: string): void {
    this.#applied.add(id)
  }

  /** Whether call `id` is running here (a copy of it needs no second run). */
  isRunning(id: string): boolean {
    return this.#inFlight.has(id)
  }

  /** Resolves once every call running now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()])
  }

  /** Runs call `id` (or joins its run, when a copy of it is running). */
  execute(id: string, operation: Operation): Promise<unknown> {
    const running = this.#inFlight.get(id)
    if (running !== undefined) return running
    const work = isWrite(operation)
      ? this.#serialized((operation as { key: string }).key, () => this.#write(id, operation))
      : this.#read(operation)
    const tracked = work.finally(() => this.#inFlight.delete(id))
    this.#inFlight.set(id, tracked)
    return tracked
  }

  async #write(id: string, operation: Operation): Promise<void> {
    const replica = this.#leaderReplica()
    if (this.#applied.has(id)) return
    const journal = this.#journal
    if (journal !== undefined && (await journal.has(id))) {
      this.#applied.add(id)
      return
    }
    if (journal !== undefined && createsDot(operation)) {
      await journal.arm(id, (operation as { key: string }).key, replica.replicaId)
    }
    try {
      switch (operation.op) {
        case 'put':
          await replica.put(operation.key, operation.value, operation.context)
          break
        case 'delete':
          await replica.delete(operation.key, operation.context)
          break
        case 'cart': {
          const cart = replica.cart(operation.key)
          if (operation.action === 'add')
            await cart.add(operation.sku, operation.qty, operation.meta)
          else if (operation.action === 'setQty') await cart.setQty(operation.sku, operation.qty!)
          else if (operation.action === 'remove') await cart.remove(operation.sku)
          else await cart.setMeta(operation.sku, operation.meta)
          break
        }
        default:
          throw new MendsyncError('INVALID_ARGUMENT', `not a write: ${operation.op}`)
      }
    } finally {
      journal?.disarm(id)
    }
    this.#applied.add(id)
  }

  async #read(operation: Operation): Promise<unknown> {
    const replica = this.#leaderReplica()
    switch (operation.op) {
      case 'getMany':
        return await replica.getMany(operation.keys, operation.options)
      case 'status':
        return replica.status()
      case 'metrics':
        return replica.metrics()
      case 'sync':
        return await replica.sync()
      case 'settled':
        return await replica.settled()
      case 'call': {
        const command = this.#commands?.[operation.name]
        if (command === undefined) {
          throw new MendsyncError('INVALID_ARGUMENT', `no leader command named ${operation.name}`)
        }
        return await command(replica, ...(operation.args as never[]))
      }
      default:
        throw new MendsyncError('INVALID_ARGUMENT', `unknown operation ${operation.op}`)
    }
  }

  /** Runs `work` after every earlier write of `key` has settled. */
  #serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#keyTails.get(key) ?? Promise.resolve()
    const result = previous.then(work)
    // The tail only orders the next write of the key; `result` carries the outcome to the caller.
    const tail = Promise.allSettled([result])
    this.#keyTails.set(key, tail)
    void tail.then(() => {
      if (this.#keyTails.get(key) === tail) this.#keyTails.delete(key)
    })
    return result
  }

  #leaderReplica(): Replica {
    const replica = this.#replica
    if (replica === undefined) throw new MendsyncError('CLOSED', 'this tab no longer leads')
    return replica
  }
}
