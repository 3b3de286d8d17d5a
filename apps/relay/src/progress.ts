// Progress of long reconciliations. The engine reports which reconciliations a replica is
// running (`status().reconciling`) and how far its sync round got (`status().progress`: keys to
// receive, received, bytes); this polls both and, for a reconciliation that runs longer than the
// interval, keeps a live line on a terminal (updated every second) or logs a line every
// interval otherwise, plus a closing line with its duration.
import { IDLE_PROGRESS, type Replica, type SyncProgress } from '@mendsync/replica'
import type { RelayLogger } from './log.js'

/** What the reporter needs of a replica. */
export type ProgressSource = Pick<Replica, 'status' | 'metrics'>

interface Running {
  readonly space: string
  readonly peer: string
  readonly since: number
  readonly changesAtStart: number
  lastLine: number
}

export class ProgressReporter {
  private readonly replicas: ReadonlyMap<string, ProgressSource>
  private readonly log: RelayLogger
  private readonly intervalMs: number
  private readonly now: () => number
  private readonly running = new Map<string, Running>()
  private readonly timer: ReturnType<typeof setInterval> | undefined

  constructor(
    replicas: ReadonlyMap<string, ProgressSource>,
    log: RelayLogger,
    intervalMs: number,
    options: { readonly now?: () => number; readonly timer?: boolean } = {},
  ) {
    this.replicas = replicas
    this.log = log
    this.intervalMs = intervalMs
    this.now = options.now ?? Date.now
    if (options.timer ?? true) {
      this.timer = setInterval(() => this.tick(), Math.min(1_000, intervalMs))
      this.timer.unref()
    }
  }

  /** One poll (the timer calls it; tests call it with their own clock). */
  tick(): void {
    const now = this.now()
    const seen = new Set<string>()
    for (const [space, replica] of this.replicas) {
      let reconciling: readonly string[]
      try {
        reconciling = replica.status().reconciling
      } catch (error) {
        // A replica that closed (the relay is stopping) has nothing left to report.
        this.log.debug('no reconciliation status of a space', { space, error })
        continue
      }
      for (const peer of reconciling) {
        const key = `${space}\n${peer}`
        seen.add(key)
        if (!this.running.has(key)) {
          this.running.set(key, {
            space,
            peer,
            since: now,
            changesAtStart: this.changes(space),
            lastLine: now,
          })
        }
      }
    }
    for (const [key, entry] of this.running) {
      if (seen.has(key)) continue
      this.running.delete(key)
      const ms = now - entry.since
      if (ms >= this.intervalMs) {
        this.log.info('reconciliation finished', {
          space: entry.space,
          peer: entry.peer,
          seconds: Math.round(ms / 100) / 10,
          changes: this.changes(entry.space) - entry.changesAtStart,
          ...this.received(entry.space),
        })
      }
    }
    const long = [...this.running.values()].filter((entry) => now - entry.since >= this.intervalMs)
    if (this.log.live) {
      this.log.progress(long.length === 0 ? null : this.line(long, now))
      return
    }
    for (const entry of long) {
      if (now - entry.lastLine < this.intervalMs) continue
      entry.lastLine = now
      this.log.info('reconciliation in progress', {
        space: entry.space,
        peer: entry.peer,
        seconds: Math.round((now - entry.since) / 1000),
        changes: this.changes(entry.space) - entry.changesAtStart,
        keys: this.keys(entry.space),
        ...this.received(entry.space),
      })
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.running.clear()
    this.log.progress(null)
  }

  private line(long: Running[], now: number): string {
    const [first] = long
    if (first === undefined) return ''
    const seconds = Math.round((now - first.since) / 1000)
    const more = long.length > 1 ? ` (+${long.length - 1} more)` : ''
    const progress = this.progress(first.space)
    const received =
      progress.keysToReceive > 0
        ? `, received ${progress.keysReceived}/${progress.keysToReceive} keys (${formatBytes(progress.bytesReceived)})`
        : ''
    return (
      `reconciling ${first.space} with ${shortPeer(first.peer)}: ${seconds} s, ` +
      `${this.changes(first.space) - first.changesAtStart} changes, ${this.keys(first.space)} keys` +
      `${received}${more}`
    )
  }

  /** The fields of a line from the space's sync progress (none before the round knows its keys). */
  private received(space: string): Record<string, number> {
    const progress = this.progress(space)
    if (progress.keysToReceive === 0) return {}
    return {
      keysToReceive: progress.keysToReceive,
      keysReceived: progress.keysReceived,
      bytesReceived: progress.bytesReceived,
    }
  }

  /** The space's sync round: `status().progress` (the last round's counts once it ended). */
  private progress(space: string): SyncProgress {
    try {
      return this.replicas.get(space)?.status().progress ?? IDLE_PROGRESS
    } catch (error) {
      this.log.debug('no sync progress of a space', { space, error })
      return IDLE_PROGRESS
    }
  }

  private changes(space: string): number {
    try {
      return this.replicas.get(space)?.metrics().remote_changes_total ?? 0
    } catch (error) {
      this.log.debug('no change count of a space', { space, error })
      return 0
    }
  }

  private keys(space: string): number {
    try {
      return this.replicas.get(space)?.status().keys ?? 0
    } catch (error) {
      this.log.debug('no key count of a space', { space, error })
      return 0
    }
  }
}

function shortPeer(peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 8)}…${peer.slice(-6)}` : peer
}

/** `bytes` for a person: `512 B`, `1.5 kB`, `12.3 MB`. */
function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`
  if (bytes < 1_000_000) return `${Math.round(bytes / 100) / 10} kB`
  return `${Math.round(bytes / 100_000) / 10} MB`
}
