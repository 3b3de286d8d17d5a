// Caps on the inbound bytes buffered at once: a frame body is admitted (its bytes reserved) before
// the frame reader buffers it and released once the frame is handled. Each peer has a cap — the
// smallest for a peer without a grant in any space this node serves — peers without a grant share
// one more cap, and every peer shares the global cap. A frame that does not fit waits (the reader
// stops pulling, so the muxer's flow control slows the sender) for a bounded time in a bounded
// queue, then fails `OVERLOADED` and its stream is reset; one that could never fit fails at once.
import { MendsyncError } from '@mendsync/core'
import type { Release } from '@mendsync/core/toolbox'

const MiB = 1024 * 1024

/** Inbound bytes buffered at once for one peer with a grant in a space served here. */
export const DEFAULT_PER_PEER_INBOUND_BYTES = 4 * MiB
/** Inbound bytes buffered at once for one peer without a grant (enough for a request to be refused). */
export const DEFAULT_UNAUTHORISED_INBOUND_BYTES = 64 * 1024
/** Inbound bytes buffered at once for all peers without a grant together. */
export const DEFAULT_UNAUTHORISED_TOTAL_INBOUND_BYTES = 8 * MiB
/** Inbound bytes buffered at once for all peers together. */
export const DEFAULT_GLOBAL_INBOUND_BYTES = 64 * MiB
/** How long a frame may wait for room before its stream is reset `OVERLOADED`, ms. */
export const DEFAULT_INBOUND_WAIT_MS = 10_000
/** Frames that may wait for room at once; one more fails `OVERLOADED` at once. */
export const DEFAULT_MAX_INBOUND_WAITING = 1024

/** Options of {@link InboundBudget}; every one has a default. */
export interface InboundBudgetOptions {
  /**
   * Per peer with a grant, bytes. Default: the larger of {@link DEFAULT_PER_PEER_INBOUND_BYTES}
   * and `maxFrameBytes`; never less than `maxFrameBytes` (a largest frame must fit).
   */
  readonly perPeerBytes?: number
  /** Per peer without a grant, bytes. Default {@link DEFAULT_UNAUTHORISED_INBOUND_BYTES}. */
  readonly unauthorisedPeerBytes?: number
  /** All peers without a grant together, bytes. Default {@link DEFAULT_UNAUTHORISED_TOTAL_INBOUND_BYTES}. */
  readonly unauthorisedTotalBytes?: number
  /** All peers together, bytes. Default: the larger of {@link DEFAULT_GLOBAL_INBOUND_BYTES} and `perPeerBytes`. */
  readonly globalBytes?: number
  /** See {@link DEFAULT_INBOUND_WAIT_MS}. */
  readonly maxWaitMs?: number
  /** See {@link DEFAULT_MAX_INBOUND_WAITING}. */
  readonly maxWaiting?: number
}

/** The resolved caps of an {@link InboundBudget}. */
export interface InboundBudgetLimits {
  readonly perPeerBytes: number
  readonly unauthorisedPeerBytes: number
  readonly unauthorisedTotalBytes: number
  readonly globalBytes: number
  readonly maxWaitMs: number
  readonly maxWaiting: number
}

interface Request {
  readonly peer: string
  readonly bytes: number
  readonly authorised: boolean
}

interface Waiter extends Request {
  grant(): void
  fail(error: unknown): void
}

/** Fills in the defaults of `options` for frames of up to `maxFrameBytes`, and checks them. */
export function inboundBudgetLimits(
  options: InboundBudgetOptions,
  maxFrameBytes: number,
): InboundBudgetLimits {
  const positive = (name: keyof InboundBudgetOptions, value: number): number => {
    if (!(Number.isSafeInteger(value) && value > 0)) {
      throw new MendsyncError('INVALID_ARGUMENT', `${name} must be a positive integer: ${value}`)
    }
    return value
  }
  const perPeerBytes = positive(
    'perPeerBytes',
    options.perPeerBytes ?? Math.max(DEFAULT_PER_PEER_INBOUND_BYTES, maxFrameBytes),
  )
  if (perPeerBytes < maxFrameBytes) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `perPeerBytes (${perPeerBytes}) is below maxFrameBytes (${maxFrameBytes}): a largest frame could never be admitted`,
    )
  }
  const globalBytes = positive(
    'globalBytes',
    options.globalBytes ?? Math.max(DEFAULT_GLOBAL_INBOUND_BYTES, perPeerBytes),
  )
  if (globalBytes < perPeerBytes) {
    throw new MendsyncError(
      'INVALID_ARGUMENT',
      `globalBytes (${globalBytes}) is below perPeerBytes (${perPeerBytes})`,
    )
  }
  return {
    perPeerBytes,
    globalBytes,
    unauthorisedPeerBytes: positive(
      'unauthorisedPeerBytes',
      options.unauthorisedPeerBytes ?? DEFAULT_UNAUTHORISED_INBOUND_BYTES,
    ),
    unauthorisedTotalBytes: positive(
      'unauthorisedTotalBytes',
      options.unauthorisedTotalBytes ?? DEFAULT_UNAUTHORISED_TOTAL_INBOUND_BYTES,
    ),
    maxWaitMs: positive('maxWaitMs', options.maxWaitMs ?? DEFAULT_INBOUND_WAIT_MS),
    maxWaiting: options.maxWaiting ?? DEFAULT_MAX_INBOUND_WAITING,
  }
}

/** Per-peer, unauthorised and global caps on inbound bytes buffered at once. */
export class InboundBudget {
  readonly limits: InboundBudgetLimits
  private readonly isAuthorised: (peer: string) => boolean
  private readonly byPeer = new Map<string, number>()
  private readonly waiters: Waiter[] = []
  private total = 0
  private unauthorised = 0
  private closed: Error | null = null

  /**
   * @param isAuthorised whether `peer` has a grant in a space served here (it gets the per-peer
   *   cap; otherwise the unauthorised caps); asked once per frame.
   */
  constructor(
    options: InboundBudgetOptions,
    maxFrameBytes: number,
    isAuthorised: (peer: string) => boolean,
  ) {
    this.limits = inboundBudgetLimits(options, maxFrameBytes)
    this.isAuthorised = isAuthorised
  }

  /** Bytes reserved now, all peers. */
  get inUse(): number {
    return this.total
  }

  /** Frames waiting for room now. */
  get waiting(): number {
    return this.waiters.length
  }

  /** Bytes reserved now by `peer`. */
  usedBy(peer: string): number {
    return this.byPeer.get(peer) ?? 0
  }

  /**
   * Reserves `bytes` for a frame of `peer`; resolves with the release once they fit. Rejects
   * `OVERLOADED` at once when they could never fit or too many frames wait, after
   * `maxWaitMs` of waiting, and with the signal's reason when it aborts.
   */
  reserve(peer: string, bytes: number, signal?: AbortSignal): Promise<Release> {
    if (this.closed) return Promise.reject(this.closed)
    if (signal?.aborted) return Promise.reject(signal.reason)
    const authorised = this.isAuthorised(peer)
    const cap = authorised
      ? this.limits.perPeerBytes
      : Math.min(this.limits.unauthorisedPeerBytes, this.limits.unauthorisedTotalBytes)
    if (bytes > cap || bytes > this.limits.globalBytes) {
      return Promise.reject(
        new MendsyncError(
          'OVERLOADED',
          `a ${bytes}-byte frame exceeds the ${cap}-byte inbound budget of ${authorised ? 'a peer' : 'a peer without a grant in any space served here'}`,
        ),
      )
    }
    const request: Request = { peer, bytes, authorised }
    if (this.fits(request) === 'yes' && !this.waiters.some((w) => this.fits(w) === 'global')) {
      return Promise.resolve(this.take(request))
    }
    if (this.waiters.length >= this.limits.maxWaiting) {
      return Promise.reject(
        new MendsyncError(
          'OVERLOADED',
          `over ${this.limits.maxWaiting} inbound frames wait for room`,
        ),
      )
    }
    return new Promise<Release>((resolve, reject) => {
      const leave = (error: unknown): void => {
        const index = this.waiters.indexOf(queued)
        if (index < 0) return
        this.waiters.splice(index, 1)
        cleanup()
        reject(error)
        // A waiter at the head may have held back the ones behind it.
        this.pump()
      }
      const onAbort = (): void => leave(signal?.reason)
      const timer = setTimeout(
        () =>
          leave(
            new MendsyncError(
              'OVERLOADED',
              `no room for a ${bytes}-byte inbound frame within ${this.limits.maxWaitMs} ms`,
            ),
          ),
        this.limits.maxWaitMs,
      )
      const cleanup = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const queued: Waiter = {
        ...request,
        grant: () => {
          cleanup()
          resolve(this.take(request))
        },
        fail: leave,
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(queued)
    })
  }

  /** Fails every waiter and every later reservation with `error` (on shutdown). */
  close(error: Error): void {
    this.closed = error
    for (const waiter of [...this.waiters]) waiter.fail(error)
  }

  /** 'yes', 'peer' (the peer's own caps block it) or 'global' (the global cap blocks it). */
  private fits(waiter: Request): 'yes' | 'peer' | 'global' {
    if (this.total + waiter.bytes > this.limits.globalBytes) return 'global'
    const used = this.usedBy(waiter.peer)
    if (waiter.authorised) {
      return used + waiter.bytes <= this.limits.perPeerBytes ? 'yes' : 'peer'
    }
    return used + waiter.bytes <= this.limits.unauthorisedPeerBytes &&
      this.unauthorised + waiter.bytes <= this.limits.unauthorisedTotalBytes
      ? 'yes'
      : 'peer'
  }

  private take(waiter: Request): Release {
    const { peer, bytes, authorised } = waiter
    this.total += bytes
    if (!authorised) this.unauthorised += bytes
    this.byPeer.set(peer, this.usedBy(peer) + bytes)
    let released = false
    return () => {
      if (released) return
      released = true
      this.total -= bytes
      if (!authorised) this.unauthorised -= bytes
      const left = this.usedBy(peer) - bytes
      if (left > 0) this.byPeer.set(peer, left)
      else this.byPeer.delete(peer)
      this.pump()
    }
  }

  /**
   * Grants waiters in arrival order. One blocked by its own peer's caps is passed over (it must
   * not hold back other peers); one blocked by the global cap stops the pass (first come, first
   * served for the shared room).
   */
  private pump(): void {
    let index = 0
    while (index < this.waiters.length) {
      const waiter = this.waiters[index] as Waiter
      const fit = this.fits(waiter)
      if (fit === 'global') return
      if (fit === 'peer') {
        index += 1
        continue
      }
      this.waiters.splice(index, 1)
      waiter.grant()
    }
  }
}
