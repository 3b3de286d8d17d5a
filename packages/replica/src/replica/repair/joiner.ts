import type { Logger } from '@mendsync/core/toolbox'
import type { PeerId } from '../../network/types.js'
import { logFailure } from '../tasks/log-failure.js'
import type { DecodedState, RepairTarget } from './repair-types.js'

/**
 * Joins the states of one repair in as few batches as waiting allows. Once the first peer has
 * answered, the others get as long again (at most half the time left before the deadline) to
 * answer into the same batch; answers after that join as they come, several at once if they
 * arrive while a join runs. So peers answering together share one commit, and a slow peer never
 * holds back a fast peer's state, which a read that times out still returns.
 */
export class Joiner {
  private readonly target: RepairTarget
  private readonly logger: Logger
  private readonly now: () => number
  private readonly started: number
  private readonly deadline: number
  private outstanding: number
  private window: ReturnType<typeof setTimeout> | undefined
  private windowClosed = false
  private pending: DecodedState[] = []
  private pendingPeers = new Set<PeerId>()
  private chain: Promise<void> = Promise.resolve()
  private readonly repaired = new Set<string>()
  private readonly failed = new Set<PeerId>()

  constructor(
    target: RepairTarget,
    logger: Logger,
    peers: number,
    now: () => number,
    deadline: number,
  ) {
    this.target = target
    this.logger = logger
    this.now = now
    this.started = now()
    this.deadline = deadline
    this.outstanding = peers
  }

  /** `peer` answered with `states` to join (possibly none). */
  answered(peer: PeerId, states: readonly DecodedState[]): void {
    if (states.length > 0) {
      this.pending.push(...states)
      this.pendingPeers.add(peer)
    }
    this.settle()
  }

  /** A peer failed: nothing of it to wait for. */
  failedToAnswer(): void {
    this.settle()
  }

  /** Resolves when every added state is joined (or failed to be). */
  async done(): Promise<{ repaired: string[]; failed: ReadonlySet<PeerId> }> {
    await this.chain
    return { repaired: [...this.repaired], failed: this.failed }
  }

  private settle(): void {
    this.outstanding -= 1
    if (this.outstanding === 0 || this.windowClosed) {
      this.flush()
    } else if (this.window === undefined && this.pending.length > 0) {
      const now = this.now()
      const wait = Math.max(0, Math.min(now - this.started, (this.deadline - now) / 2))
      this.window = setTimeout(() => this.flush(), wait)
    }
  }

  private flush(): void {
    clearTimeout(this.window)
    this.windowClosed = true
    if (this.pending.length === 0) return
    this.chain = this.chain.then(() => this.joinPending())
  }

  private async joinPending(): Promise<void> {
    if (this.pending.length === 0) return
    const states = this.pending
    const peers = [...this.pendingPeers]
    this.pending = []
    this.pendingPeers = new Set()
    try {
      for (const key of await this.target.joinPulled(peers, states)) this.repaired.add(key)
    } catch (error) {
      // The replica is closing or its storage failed: the repair did not take effect.
      logFailure(this.logger, 'joining repaired states failed', error, {
        peers,
        keys: states.map((state) => state.key),
      })
      for (const peer of peers) this.failed.add(peer)
    }
  }
}
