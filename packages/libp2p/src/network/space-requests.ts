// Private spaces opened on demand (`onSpaceRequested`): a peer presented a proof for a space this
// network has not joined. The proof is verified first, with a throw-away verifier for the space
// it names (signature, chain, expiry), so an outsider can never make a relay open a space; then
// the hook runs, at most `spaceRequestConcurrency` at once with a bounded queue (`OVERLOADED`
// beyond), once per space however many peers ask at the same time. Requests for a space being
// opened wait for it (bounded) instead of failing `PEER_UNAVAILABLE`.
import { MendsyncError } from '@mendsync/core'
import {
  type AccessProof,
  AccessVerifier,
  publicKeyOfPeerId,
  READ,
  spaceIdOf,
  WRITE,
} from '@mendsync/core/access'
import { describeError, type Logger, Semaphore } from '@mendsync/core/toolbox'
import type { PeerId } from '@mendsync/replica/adapter'
import { ACCESS_DEFAULTS } from '../constants.defaults.js'
import type { SpaceRequest } from './options.js'

/** The `onSpaceRequested` hook, bounded and deduplicated per space. */
export class SpaceRequests {
  private readonly hook: (request: SpaceRequest) => Promise<boolean>
  /** Whether the network has joined a space (it may have while a proof was being verified). */
  private readonly joined: (spaceId: string) => boolean
  private readonly logger: Logger
  private readonly slots = new Semaphore({
    limit: ACCESS_DEFAULTS.spaceRequestConcurrency,
    maxQueued: ACCESS_DEFAULTS.maxQueuedSpaceRequests,
    overloadedMessage: 'too many spaces are being opened at once; retry later',
  })
  /** Spaces being opened: whether the hook accepted, once it answers. */
  private readonly opening = new Map<string, Promise<boolean>>()

  constructor(
    hook: (request: SpaceRequest) => Promise<boolean>,
    joined: (spaceId: string) => boolean,
    logger: Logger,
  ) {
    this.hook = hook
    this.joined = joined
    this.logger = logger
  }

  /** Spaces being opened now. */
  get pending(): number {
    return this.opening.size
  }

  /**
   * Verifies `proof` for `peer` and asks the hook to open `spaceId`; resolves once it is open.
   * `ACCESS_DENIED` for a proof that gives no right, `OVERLOADED` when too many spaces are being
   * opened, `PEER_UNAVAILABLE` when the hook refuses, fails or takes too long.
   */
  async open(spaceId: string, proof: AccessProof, peer: PeerId): Promise<void> {
    if (spaceIdOf(proof.space) !== spaceId) {
      throw new MendsyncError('ACCESS_DENIED', `the proof is for another space than ${spaceId}`)
    }
    const verified = await new AccessVerifier(proof.space, { logger: this.logger }).verify(
      proof,
      publicKeyOfPeerId(peer),
    )
    if ((verified.rights & (READ | WRITE)) === 0) {
      throw new MendsyncError('ACCESS_DENIED', `the proof gives no read or write in ${spaceId}`)
    }
    if (this.joined(spaceId)) return
    let opening = this.opening.get(spaceId)
    if (opening === undefined) {
      opening = this.run({ spaceId, space: proof.space, peer })
      this.opening.set(spaceId, opening)
      const done = (): void => {
        if (this.opening.get(spaceId) === opening) this.opening.delete(spaceId)
      }
      opening.then(done, done)
    }
    if (!(await opening)) {
      throw new MendsyncError('PEER_UNAVAILABLE', `space ${spaceId} is not served here`)
    }
  }

  /**
   * Resolves when `spaceId`, if being opened, is open or was refused (bounded by
   * `spaceOpenWaitMs`); at once when it is not being opened.
   */
  async settled(spaceId: string): Promise<void> {
    const opening = this.opening.get(spaceId)
    if (opening === undefined) return
    await opening.catch((error: unknown) => {
      // The request that started the opening reports the failure; a waiter only goes on.
      this.logger.debug('a space being opened failed', {
        space: spaceId,
        error: describeError(error),
      })
    })
  }

  private async run(request: SpaceRequest): Promise<boolean> {
    const release = await this.slots.acquire()
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          this.logger.warn('onSpaceRequested did not answer in time', {
            space: request.spaceId,
            peer: request.peer,
            waitedMs: ACCESS_DEFAULTS.spaceOpenWaitMs,
          })
          resolve(false)
        }, ACCESS_DEFAULTS.spaceOpenWaitMs)
      })
      return await Promise.race([this.hook(request), timeout])
    } catch (error) {
      this.logger.warn('onSpaceRequested failed', {
        space: request.spaceId,
        peer: request.peer,
        error: describeError(error),
      })
      return false
    } finally {
      clearTimeout(timer)
      release()
    }
  }
}
