// The private spaces a relay serves on demand. A relay joins none at start: the network calls
// `request` when a peer presents a valid proof for a space it has not joined (the proof is
// verified before, so an outsider cannot make the relay open anything), and the directory opens
// the space's replica (storing its descriptor the first time, so the space is found again after
// a restart), at most `maxOpen` at once: past that the least recently used space is closed
// first. A space nobody used for `idleMs` and no peer of which is connected is closed by a sweep.
// Requests for one space are deduplicated; a request for a space being closed waits for the close
// and opens it again. Everything here is bounded: open spaces, stored spaces, new spaces per peer.
import { isMendsyncError } from '@mendsync/core'
import { type SpaceDescriptor, spaceIdOf } from '@mendsync/core/access'
import { KeyedRateLimiter, type Logger } from '@mendsync/core/toolbox'
import type { Replica } from '@mendsync/replica'
import type { DescriptorFiles } from './descriptor-files.js'

/** What the network asks for: see contract 2 (`onSpaceRequested`). */
export interface SpaceRequest {
  readonly spaceId: string
  readonly space: SpaceDescriptor
  /** The peer that presented the proof (the relay's own id for {@link SpaceDirectory.openStored}). */
  readonly peer: string
}

/** One open private space, as the {@link SpaceOpener} returns it. */
export interface ServedSpace {
  /** The space's replica now (a full disk may replace it; see SpaceGuard). */
  replica(): Replica | undefined
  /** The peers of the space connected now (in a private space: those that proved a right). */
  peers(): readonly string[]
  /** Closes the replica and leaves the network space. */
  close(): Promise<void>
}

/** What an opener gets besides the space: where to report what the directory counts. */
export interface SpaceUse {
  /** A peer used the space (a request, gossip, a peer joined or left): it is not idle. */
  touched(): void
  /** A write to the space was refused by its quota. */
  quotaRefused(): void
}

/** Opens one private space's replica, joined to the network. */
export type SpaceOpener = (
  spaceId: string,
  descriptor: SpaceDescriptor,
  use: SpaceUse,
) => Promise<ServedSpace>

/** Why a space was closed. */
export type CloseReason = 'idle' | 'evicted' | 'shutdown'

/** Why a request was refused. */
export type RefusalReason = 'closing' | 'full' | 'busy' | 'rate' | 'failed' | 'invalid'

/** Counts of {@link SpaceDirectory.stats}. */
export interface SpaceDirectoryStats {
  /** Spaces open now (being opened included). */
  readonly open: number
  /** Spaces with a descriptor on disk. */
  readonly stored: number
  readonly opened: number
  readonly closed: Readonly<Record<CloseReason, number>>
  readonly refused: Readonly<Record<RefusalReason, number>>
  /** Writes refused by a space's quota, over all spaces. */
  readonly quotaRefusals: number
}

/** Inputs of {@link SpaceDirectory}. */
export interface SpaceDirectoryOptions {
  readonly files: DescriptorFiles
  readonly open: SpaceOpener
  /** Most spaces open at once. */
  readonly maxOpen: number
  /** A space unused this long (ms) with no peer connected is closed. */
  readonly idleMs: number
  /** Most spaces stored (descriptor files); a new space past it is refused. */
  readonly maxStored: number
  /** New spaces (never stored before) one peer may create per second; burst of 10 times that. */
  readonly newSpacesPerPeerPerSecond: number
  readonly logger: Logger
  /** The clock, ms. Default `Date.now`. */
  readonly now?: () => number
}

interface Entry {
  state: 'opening' | 'open'
  /** Resolves true once open, false when the open failed. */
  ready: Promise<boolean>
  served: ServedSpace | undefined
  lastUsed: number
}

/** Peers remembered by the new-space rate limiter. */
const RATE_LIMITED_PEERS = 10_000

/** The private spaces the relay serves; see the top of this file. */
export class SpaceDirectory {
  private readonly options: SpaceDirectoryOptions
  private readonly now: () => number
  /** Open and opening spaces, least recently used first (a use moves a space to the end). */
  private readonly entries = new Map<string, Entry>()
  /** Spaces being closed, until their replica is closed. */
  private readonly closing = new Map<string, Promise<void>>()
  private readonly newSpaces: KeyedRateLimiter
  private stored = 0
  private opened = 0
  private quotaRefusals = 0
  private readonly closedCounts: Record<CloseReason, number> = {
    idle: 0,
    evicted: 0,
    shutdown: 0,
  }
  private readonly refusedCounts: Record<RefusalReason, number> = {
    closing: 0,
    full: 0,
    busy: 0,
    rate: 0,
    failed: 0,
    invalid: 0,
  }
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private shutDown = false

  private constructor(options: SpaceDirectoryOptions) {
    this.options = options
    this.now = options.now ?? Date.now
    const rate = options.newSpacesPerPeerPerSecond
    this.newSpaces = new KeyedRateLimiter({
      perSecond: rate,
      burst: Math.max(1, rate * 10),
      capacity: RATE_LIMITED_PEERS,
      now: this.now,
    })
  }

  /** Counts the stored spaces and starts the idle sweep. */
  static async start(options: SpaceDirectoryOptions): Promise<SpaceDirectory> {
    const directory = new SpaceDirectory(options)
    directory.stored = (await options.files.list()).length
    const every = Math.max(100, Math.min(60_000, Math.floor(options.idleMs / 2)))
    directory.sweepTimer = setInterval(() => {
      directory.closeIdle().catch((error: unknown) => {
        options.logger.warn('closing idle spaces failed', { error })
      })
    }, every)
    directory.sweepTimer.unref()
    return directory
  }

  /**
   * The network's `onSpaceRequested`: opens the space (or finds it open) and resolves true once
   * it is served; false when it is refused (the directory is closing, the relay stores as many
   * spaces as allowed, every slot is being opened, the peer creates spaces too fast, the open
   * failed). Never rejects.
   */
  async request(request: SpaceRequest): Promise<boolean> {
    const { spaceId, space, peer } = request
    const { logger } = this.options
    if (this.shutDown) return this.refuse('closing', request)
    try {
      if (spaceIdOf(space) !== spaceId) return this.refuse('invalid', request)
    } catch (error) {
      logger.debug('a space request carries a malformed descriptor', { spaceId, peer, error })
      return this.refuse('invalid', request)
    }
    const open = this.entries.get(spaceId)
    if (open !== undefined) {
      this.touch(spaceId)
      return open.ready
    }
    const entry: Entry = {
      state: 'opening',
      ready: Promise.resolve(false),
      served: undefined,
      lastUsed: this.now(),
    }
    this.entries.set(spaceId, entry)
    entry.ready = this.openEntry(entry, spaceId, space, peer)
    return entry.ready
  }

  /** Opens a space stored earlier by its id alone (its descriptor file); false when none is. */
  async openStored(spaceId: string, peer: string): Promise<boolean> {
    const space = await this.options.files.load(spaceId)
    return space === undefined ? false : this.request({ spaceId, space, peer })
  }

  /** The replica of an open space. */
  replica(spaceId: string): Replica | undefined {
    return this.entries.get(spaceId)?.served?.replica()
  }

  /**
   * Whether `peer` is a peer of some open space: it proved a right there (what a circuit-relay
   * reservation asks of a peer on a relay serving private spaces).
   */
  servesPeer(peer: string): boolean {
    for (const entry of this.entries.values()) {
      if (entry.served?.peers().includes(peer)) return true
    }
    return false
  }

  /** The ids of the spaces open now, least recently used first. */
  openSpaces(): string[] {
    return [...this.entries].filter(([, entry]) => entry.state === 'open').map(([id]) => id)
  }

  /** What the directory counted; read by the metrics at every scrape. */
  stats(): SpaceDirectoryStats {
    return {
      open: this.entries.size,
      stored: this.stored,
      opened: this.opened,
      closed: { ...this.closedCounts },
      refused: { ...this.refusedCounts },
      quotaRefusals: this.quotaRefusals,
    }
  }

  /** Closes every open space unused for `idleMs` with no peer connected; resolves when closed. */
  async closeIdle(): Promise<void> {
    const now = this.now()
    const idle = [...this.entries].filter(
      ([, entry]) =>
        entry.state === 'open' &&
        now - entry.lastUsed >= this.options.idleMs &&
        (entry.served?.peers().length ?? 0) === 0,
    )
    await Promise.all(idle.map(([spaceId]) => this.close(spaceId, 'idle')))
  }

  /** Refuses new requests, waits for the spaces being opened, then closes every space. */
  async shutdown(): Promise<void> {
    this.shutDown = true
    clearInterval(this.sweepTimer)
    await Promise.all([...this.entries.values()].map((entry) => entry.ready))
    await Promise.all([...this.entries.keys()].map((spaceId) => this.close(spaceId, 'shutdown')))
    await Promise.all(this.closing.values())
  }

  private refuse(reason: RefusalReason, request: SpaceRequest): false {
    this.refusedCounts[reason] += 1
    this.options.logger.debug('refused to open a space', {
      reason,
      spaceId: request.spaceId,
      peer: request.peer,
    })
    return false
  }

  /** Marks a space used now: it becomes the most recently used. */
  private touch(spaceId: string): void {
    const entry = this.entries.get(spaceId)
    if (entry === undefined) return
    entry.lastUsed = this.now()
    this.entries.delete(spaceId)
    this.entries.set(spaceId, entry)
  }

  private async openEntry(
    entry: Entry,
    spaceId: string,
    space: SpaceDescriptor,
    peer: string,
  ): Promise<boolean> {
    const { files, logger } = this.options
    const request = { spaceId, space, peer }
    const fail = (reason: RefusalReason): false => {
      if (this.entries.get(spaceId) === entry) this.entries.delete(spaceId)
      return this.refuse(reason, request)
    }
    try {
      // A space closed a moment ago is reopened once its file is closed.
      await this.closing.get(spaceId)
      if (!(await this.makeRoom(entry))) return fail('busy')
      const stored = await this.storedState(spaceId)
      if (stored === 'new') {
        if (this.stored >= this.options.maxStored) return fail('full')
        if (!this.newSpaces.take(peer)) return fail('rate')
      }
      if (stored !== 'stored') {
        await files.save(space)
        if (stored === 'new') this.stored += 1
        logger.info('stored the descriptor of a private space', { spaceId, peer, was: stored })
      }
      const use: SpaceUse = {
        touched: () => this.touch(spaceId),
        quotaRefused: () => {
          this.quotaRefusals += 1
        },
      }
      entry.served = await this.options.open(spaceId, space, use)
    } catch (error) {
      logger.warn('opening a private space failed', { spaceId, peer, error })
      return fail('failed')
    }
    if (this.shutDown || this.entries.get(spaceId) !== entry) {
      if (this.entries.get(spaceId) === entry) this.entries.delete(spaceId)
      await this.closeServed(spaceId, entry.served, 'shutdown')
      return false
    }
    entry.state = 'open'
    this.opened += 1
    logger.debug('opened a private space', { spaceId, peer, open: this.entries.size })
    return true
  }

  /**
   * Whether the descriptor of `spaceId` is on disk; `damaged` when its file is (the descriptor
   * of the request, verified by the network, then replaces it).
   */
  private async storedState(spaceId: string): Promise<'stored' | 'new' | 'damaged'> {
    try {
      return (await this.options.files.load(spaceId)) === undefined ? 'new' : 'stored'
    } catch (error) {
      if (!isMendsyncError(error, 'STORAGE_CORRUPT')) throw error
      this.options.logger.warn('replacing a damaged descriptor file by the one a peer presented', {
        spaceId,
        error,
      })
      return 'damaged'
    }
  }

  /**
   * Closes least recently used open spaces until `entry` fits within `maxOpen` (one with no
   * peer connected first); false when every other slot is a space being opened.
   */
  private async makeRoom(entry: Entry): Promise<boolean> {
    while (this.entries.size > this.options.maxOpen) {
      const victim = this.leastRecentlyUsed(entry)
      if (victim === undefined) return false
      await this.close(victim, 'evicted')
    }
    return true
  }

  private leastRecentlyUsed(except: Entry): string | undefined {
    let withPeers: string | undefined
    for (const [spaceId, entry] of this.entries) {
      if (entry === except || entry.state !== 'open') continue
      if ((entry.served?.peers().length ?? 0) === 0) return spaceId
      withPeers ??= spaceId
    }
    return withPeers
  }

  private async close(spaceId: string, reason: CloseReason): Promise<void> {
    const entry = this.entries.get(spaceId)
    if (entry === undefined || entry.state !== 'open') return
    this.entries.delete(spaceId)
    await this.closeServed(spaceId, entry.served, reason)
  }

  private async closeServed(
    spaceId: string,
    served: ServedSpace | undefined,
    reason: CloseReason,
  ): Promise<void> {
    if (served === undefined) return
    const closed = served
      .close()
      .then(
        () => {
          this.closedCounts[reason] += 1
          this.options.logger.debug('closed a private space', { spaceId, reason })
        },
        (error: unknown) => {
          this.options.logger.warn('closing a private space failed', { spaceId, reason, error })
        },
      )
      .finally(() => {
        if (this.closing.get(spaceId) === closed) this.closing.delete(spaceId)
      })
    this.closing.set(spaceId, closed)
    await closed
  }
}
