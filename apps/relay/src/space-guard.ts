// One space of the relay kept serving through a full disk. A write that cannot be committed
// (SQLITE_FULL, ENOSPC) fails the replica for good (its later batches derived from the lost one),
// so the guard reopens the replica from its file, which holds every committed batch, and marks
// the space degraded: pushes and the reconciliations peers start are refused with a typed error
// (the pusher keeps its change and retries), pulls are served, `/healthz` says `degraded`. The
// guard joins the network space once and hands each replica a view of that one channel, so the
// space stays joined across a reopen: a pull that arrives meanwhile waits for the new replica.
// Every DISK_RETRY_MS a probe checks whether space was freed; once it fits, pushes are accepted
// again, without a restart.
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { isMendsyncError, MendsyncError } from '@mendsync/core'
import type { Replica } from '@mendsync/replica'
import type { Network, SpaceChannel, SpaceHandlers, Storage } from '@mendsync/replica/adapter'
import { isDiskFull, openFileStorage } from '@mendsync/storage-file'
import type { RelayLogger as Logger } from './log.js'

/** How often a degraded space probes for free space, and retries a reopen that failed, ms. */
export const DISK_RETRY_MS = 1_000
/**
 * Bytes the probe must be able to write (and sync) before a degraded space accepts pushes again:
 * room for a few typical batches, so that the first push after recovery does not fail again.
 */
export const DISK_PROBE_BYTES = 256 * 1024

/** What `/healthz` reports for a space. */
export interface SpaceHealth {
  readonly state: 'ok' | 'degraded'
  /** Why it is degraded (the storage's message). */
  readonly reason?: string
  /** Since when, ms since the epoch. */
  readonly since?: number
}

/** Inputs of {@link SpaceGuard.open}. */
export interface SpaceGuardOptions {
  readonly space: string
  /** The directory of the spaces' files. */
  readonly directory: string
  readonly network: Network
  /** Opens the space's replica on `storage` and `network` (the guard's wrappers of them). */
  readonly openReplica: (storage: Storage, network: Network) => Promise<Replica>
  /** Called with each replica the guard opens (the first, then each reopened one). */
  readonly onReplica: (replica: Replica) => void
  readonly log: Logger
}

/** A space's replica, reopened after a full disk failed it; see the top of this file. */
export class SpaceGuard {
  private current: Replica | undefined
  private degraded: { readonly reason: string; readonly since: number } | undefined
  private reopening: Promise<void> | undefined
  private probeTimer: ReturnType<typeof setInterval> | undefined
  private closed = false
  private readonly options: SpaceGuardOptions
  /** The network space, joined once by the first replica, left when the guard closes. */
  private channel: SpaceChannel | undefined
  /** The handlers of the replica attached to the channel now (none while it is reopened). */
  private handlers: SpaceHandlers | undefined

  private constructor(options: SpaceGuardOptions) {
    this.options = options
  }

  /** Opens the space's storage and replica; fails as opening them fails. */
  static async open(options: SpaceGuardOptions): Promise<SpaceGuard> {
    const guard = new SpaceGuard(options)
    await guard.openReplica()
    return guard
  }

  /** Whether the space accepts pushes (`ok`) or refuses them on a full disk (`degraded`). */
  health(): SpaceHealth {
    return this.degraded === undefined ? { state: 'ok' } : { state: 'degraded', ...this.degraded }
  }

  /** Refuses a push while the disk is full: the pusher keeps its change and pushes it again. */
  private refusal(): MendsyncError | undefined {
    if (this.degraded === undefined) return undefined
    return new MendsyncError(
      'STORAGE_FAILURE',
      `the relay cannot store changes of space ${this.options.space}: ${this.degraded.reason} ` +
        'Nothing of this push was stored; keep it and push again later.',
    )
  }

  /** Stops probing and reopening, and closes the replica (and its storage). */
  async close(): Promise<void> {
    this.closed = true
    this.stopProbe()
    await this.reopening
    await this.current?.close()
  }

  /** A write of the space's storage failed. */
  private failed(error: unknown): void {
    if (!isDiskFull(error) || this.closed) return
    if (this.degraded === undefined) {
      this.degraded = { reason: messageOf(error), since: Date.now() }
      this.options.log.warn(
        'the disk is full: refusing pushes to this space, serving reads, probing for free space',
        { space: this.options.space, error: messageOf(error) },
      )
      this.probeTimer = setInterval(() => this.probe(), DISK_RETRY_MS)
      this.probeTimer.unref()
    }
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined
    })
  }

  /** Replaces the failed replica by one opened from the file (every committed batch). */
  private async reopen(): Promise<void> {
    // A write failure only fails the replica when it was one of its batches (not, e.g., a
    // background bookkeeping write): keep a replica that still works.
    const { log, space } = this.options
    // The replica marks itself failed when the write's rejection reaches it, after this call.
    await new Promise((resolve) => setImmediate(resolve))
    if (this.current === undefined || !replicaFailed(this.current)) {
      log.debug('a write failed on a full disk; the replica still works', { space })
      return
    }
    try {
      await this.current.close()
    } catch (error) {
      log.debug('closing the failed replica failed (reopening its file anyway)', { space, error })
    }
    while (!this.closed) {
      try {
        await this.openReplica()
        log.info('reopened the space after a failed write; serving it again', { space })
        return
      } catch (error) {
        log.warn('reopening the space failed; retrying', { space, error: messageOf(error) })
        await new Promise((resolve) => setTimeout(resolve, DISK_RETRY_MS))
      }
    }
  }

  /** Opens the storage and a replica on it; the storage reports failed writes to the guard. */
  private async openReplica(): Promise<void> {
    const { directory, space, log } = this.options
    const storage = await openFileStorage({ directory, space })
    const watched: Storage = {
      get: (namespace, keys) => storage.get(namespace, keys),
      scan: (scan) => storage.scan(scan),
      close: () => storage.close(),
      write: (batch) =>
        storage.write(batch).catch((error: unknown) => {
          this.failed(error)
          throw error
        }),
    }
    let replica: Replica
    try {
      replica = await this.options.openReplica(watched, this.wrapNetwork(this.options.network))
    } catch (error) {
      await storage
        .close()
        .catch((closeError: unknown) =>
          log.debug('closing the storage after a failed open failed', { space, error: closeError }),
        )
      throw error
    }
    if (this.closed) {
      await replica.close()
      return
    }
    this.current = replica
    this.options.onReplica(replica)
  }

  /** Writes and syncs DISK_PROBE_BYTES next to the space's file; success ends the degraded state. */
  private probe(): void {
    const path = join(this.options.directory, `.probe-${process.pid}`)
    let fd: number | undefined
    try {
      fd = openSync(path, 'w', 0o600)
      writeSync(fd, Buffer.alloc(DISK_PROBE_BYTES))
      fsyncSync(fd)
    } catch (error) {
      this.options.log.debug('the disk is still full', {
        space: this.options.space,
        error: messageOf(error),
      })
      return
    } finally {
      if (fd !== undefined) closeSync(fd)
      rmSync(path, { force: true })
    }
    this.stopProbe()
    this.degraded = undefined
    this.options.log.info('disk space is available again: accepting pushes to this space', {
      space: this.options.space,
    })
  }

  private stopProbe(): void {
    clearInterval(this.probeTimer)
    this.probeTimer = undefined
  }

  /** The network a replica joins through: see {@link SpaceGuard.attach}. */
  private wrapNetwork(network: Network): Network {
    return {
      peerId: network.peerId,
      join: (space, handlers, joinOptions) => this.attach(network, space, handlers, joinOptions),
      close: () => network.close(),
    }
  }

  /**
   * Makes `handlers` the ones answering the space (joining it the first time) and returns the
   * replica's view of the channel: leaving it detaches the replica and drops its listeners, and
   * leaves the network space only when the guard closes.
   */
  private async attach(
    network: Network,
    space: string,
    handlers: SpaceHandlers,
    joinOptions: Parameters<Network['join']>[2],
  ): Promise<SpaceChannel> {
    this.channel ??= await network.join(space, this.stableHandlers(), joinOptions)
    const channel = this.channel
    this.handlers = handlers
    const listeners: (() => void)[] = []
    return {
      space: channel.space,
      peers: () => channel.peers(),
      publish: (message) => channel.publish(message),
      pull: (peer, keys, mode, callOptions) => channel.pull(peer, keys, mode, callOptions),
      push: (peer, states, callOptions) => channel.push(peer, states, callOptions),
      reconcile: (peer, driver, callOptions) => channel.reconcile(peer, driver, callOptions),
      on: (event, listener) => {
        const off = channel.on(event, listener)
        listeners.push(off)
        return off
      },
      leave: async () => {
        for (const off of listeners.splice(0)) off()
        if (this.handlers === handlers) this.handlers = undefined
        if (this.closed) await channel.leave()
      },
    }
  }

  /** The handlers of the attached replica; during a reopen, those of the reopened one. */
  private async answering(): Promise<SpaceHandlers> {
    if (this.handlers === undefined) await this.reopening
    if (this.handlers === undefined) {
      throw new MendsyncError('PEER_UNAVAILABLE', `space ${this.options.space} is not served now`)
    }
    return this.handlers
  }

  /** What the network space answers with: the attached replica's handlers, guarded. */
  private stableHandlers(): SpaceHandlers {
    return {
      pull: async (peer, keys, mode) => {
        const handlers = await this.answering()
        try {
          return await handlers.pull(peer, keys, mode)
        } catch (error) {
          // A write just failed the replica on a full disk: answer from the reopened one.
          if (!isDiskFull(error)) throw error
          await this.reopening
          const reopened = await this.answering()
          if (reopened === handlers) throw error
          return reopened.pull(peer, keys, mode)
        }
      },
      push: async (peer, states) => {
        const refused = this.refusal()
        if (refused !== undefined) throw refused
        const handlers = await this.answering()
        try {
          await handlers.push(peer, states)
        } catch (error) {
          // Reported to the pusher as STORAGE_FAILURE saying the disk is full.
          throw isDiskFull(error) ? (this.refusal() ?? error) : error
        }
      },
      // A reconciliation a peer starts stores what it brings: refused like a push (its outcome
      // would fail the replica again).
      reconcile: async (peer) => {
        const refused = this.refusal()
        if (refused !== undefined) throw refused
        return (await this.answering()).reconcile(peer)
      },
    }
  }
}

/**
 * Whether `replica` stopped after a failed write. The replica exposes no such state; every
 * public call checks it first, and `subscribe` is one without side effects.
 */
function replicaFailed(replica: Replica): boolean {
  try {
    replica.subscribe('\u0000failed?', () => {})()
    return false
  } catch (error) {
    return isMendsyncError(error, 'STORAGE_FAILURE')
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
