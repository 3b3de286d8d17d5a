// The status panel: what the engine knows and did, drawn as badges and small bars. It reads the
// leader's status, metrics and network state (through the tabs, in any tab) and turns metric
// events into a short activity log of read repairs, reconciliations and handoffs.

import type { PeerTransport } from '@mendsync/libp2p'
import type { ReplicaMetricValues, ReplicaStatus } from '@mendsync/replica'
import type { MetricEvent, Tabs } from '@mendsync/tabs'
import { escapeHtml } from './html.js'
import type { NetworkState, SyncState } from './leader.js'
import { peerIdOfAddress } from './multiaddr.js'

type ActivityKind = 'repair' | 'reconcile' | 'handoff' | 'repair-failure' | 'reconcile-failure'

/** One line of the activity log: every event of its kind in a row, summed. */
interface Activity {
  /** When the line was last added to. */
  readonly at: number
  readonly kind: ActivityKind
  /** Keys pulled, rounds, changes delivered or failures, summed over the events of the line. */
  readonly count: number
  /** Reconciled bytes (reconcile lines only). */
  readonly bytes: number
}

const REFRESH_MS = 1_000
/** While a sync round runs the panel reads more often, so the progress bar moves. */
const SYNC_REFRESH_MS = 200
const MAX_ACTIVITY = 10
/**
 * Events of one kind that follow each other within this many ms add to one line: a burst of
 * handed-off changes is one "12 changes delivered", not twelve lines.
 */
const AGGREGATE_MS = 10_000

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

function describeActivity(entry: Activity): string {
  switch (entry.kind) {
    case 'repair':
      return `read repair: ${plural(entry.count, 'key')} pulled`
    case 'repair-failure':
      return `read repair failed ${plural(entry.count, 'time')} (a peer did not answer)`
    case 'reconcile':
      return `reconciliation: ${plural(entry.count, 'round')}${entry.bytes > 0 ? `, ${bytes(entry.bytes)}` : ''}`
    case 'reconcile-failure':
      return `reconciliation failed ${plural(entry.count, 'time')}`
    case 'handoff':
      return `handoff: ${plural(entry.count, 'change')} delivered`
  }
}

/** Keys to receive from which an exchange in flight shows a progress bar. */
const PROGRESS_SHOWN_FROM_KEYS = 50

/** What a peer or replica is to this device, as the panel labels it. */
type PeerRole = 'relay' | 'direct' | 'direct (WebRTC)' | 'this device' | 'via relay'

/**
 * How a connected peer other than the relay is reached, from its connection's transport:
 * WebRTC is direct, a circuit-relay connection goes through the relay, anything else
 * (websockets, tcp) is a direct dial.
 */
function connectedRole(transport: PeerTransport | undefined): PeerRole {
  if (transport === 'webrtc') return 'direct (WebRTC)'
  if (transport === 'circuit-relay') return 'via relay'
  return 'direct'
}

function short(id: string | undefined, length = 8): string {
  if (id === undefined) return '—'
  return id.length > length ? `${id.slice(0, length)}…` : id
}

function bytes(count: number): string {
  if (count < 1024) return `${count} B`
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KB`
  return `${(count / 1024 / 1024).toFixed(1)} MB`
}

function hex(data: Uint8Array): string {
  return [...data.slice(-6)].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** One labelled horizontal bar: `value` against `max`. */
function bar(label: string, value: number, max: number, shown = String(value), tone = ''): string {
  const width = max <= 0 ? 0 : Math.max(value > 0 ? 2 : 0, Math.round((value / max) * 100))
  return `<div class="bar ${tone}"><span class="label">${label}</span><span class="track"><span class="fill" style="width:${width}%"></span></span><span class="value">${shown}</span></div>`
}

export class Panel {
  readonly #tabs: Tabs
  readonly #root: HTMLElement
  readonly #networkListeners = new Set<(network: NetworkState | undefined) => void>()
  readonly #activity: Activity[] = []
  /** Last absolute value of each counter, to turn metric events into deltas. */
  readonly #last = new Map<string, number>()
  #status: ReplicaStatus | undefined
  #metrics: ReplicaMetricValues | undefined
  #network: NetworkState | undefined
  #sync: SyncState | undefined
  #conflicts: readonly string[] = []
  #error: string | undefined
  #scheduled = false
  #refreshing = false

  constructor(tabs: Tabs, root: HTMLElement) {
    this.#tabs = tabs
    this.#root = root
  }

  start(): void {
    this.#tabs.onMetric((event) => this.#onMetric(event))
    this.#tabs.onLeaderChange(() => {
      this.#last.clear() // a new leader's replica counts from zero
      this.refresh()
    })
    this.#tabs.subscribe({ prefix: '' }, () => this.refresh())
    setInterval(() => this.refresh(), REFRESH_MS)
    addEventListener('online', () => this.refresh())
    addEventListener('offline', () => this.refresh())
    this.refresh()
  }

  onNetwork(listener: (network: NetworkState | undefined) => void): void {
    this.#networkListeners.add(listener)
  }

  setConflicts(conflicts: readonly string[]): void {
    this.#conflicts = conflicts
    this.#render()
  }

  /** Re-reads the leader's state soon (coalesces bursts of events into one read). */
  refresh(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setTimeout(() => {
      this.#scheduled = false
      void this.#read()
    }, 50)
  }

  async #read(): Promise<void> {
    if (this.#refreshing) {
      this.refresh()
      return
    }
    this.#refreshing = true
    try {
      const [status, metrics, network, sync] = await Promise.all([
        this.#tabs.status(),
        this.#tabs.metrics(),
        this.#tabs.call<NetworkState | undefined>('network'),
        this.#tabs.call<SyncState>('sync'),
      ])
      this.#status = status
      this.#metrics = metrics
      this.#network = network
      this.#sync = sync
      if (sync.progress.active) setTimeout(() => this.refresh(), SYNC_REFRESH_MS)
      this.#error = undefined
      for (const name of Object.keys(metrics) as (keyof ReplicaMetricValues)[]) {
        const value = metrics[name]
        if (typeof value === 'number' && !this.#last.has(name)) this.#last.set(name, value)
      }
      for (const listener of this.#networkListeners) listener(network)
    } catch (error) {
      this.#error = error instanceof Error ? error.message : String(error)
    } finally {
      this.#refreshing = false
    }
    this.#render()
  }

  #onMetric(event: MetricEvent): void {
    const previous = this.#last.get(event.name)
    this.#last.set(event.name, event.value)
    const delta = previous === undefined ? 0 : event.value - previous
    if (delta > 0) {
      switch (event.name) {
        case 'keys_repaired':
          this.#log('repair', delta)
          break
        case 'repairs_failed':
          this.#log('repair-failure', delta)
          break
        case 'reconcile_rounds':
          this.#log('reconcile', delta)
          break
        case 'reconcile_bytes':
          this.#log('reconcile', 0, delta)
          break
        case 'reconcile_failures':
          this.#log('reconcile-failure', delta)
          break
        case 'handoff_delivered':
          this.#log('handoff', delta)
          break
      }
    }
    this.refresh()
  }

  /** Adds to the latest line when it is of the same kind and recent, else starts a new line. */
  #log(kind: ActivityKind, count: number, byteCount = 0): void {
    const now = Date.now()
    const latest = this.#activity[0]
    if (latest?.kind === kind && now - latest.at < AGGREGATE_MS) {
      this.#activity[0] = {
        at: now,
        kind,
        count: latest.count + count,
        bytes: latest.bytes + byteCount,
      }
    } else {
      // Bytes counted before the rounds of their session arrive start its line with 0 rounds.
      this.#activity.unshift({ at: now, kind, count, bytes: byteCount })
      this.#activity.length = Math.min(this.#activity.length, MAX_ACTIVITY)
    }
    this.#render()
  }

  #connection(): { state: string; text: string; tone: string } {
    const network = this.#network
    const peers = this.#status?.peers.length ?? 0
    if (this.#error !== undefined)
      return { state: 'unknown', text: 'no leader tab answers', tone: 'warn' }
    if (network === undefined) return { state: 'unknown', text: 'starting', tone: 'info' }
    if (network.relay === undefined)
      return { state: 'local', text: 'local only (no relay)', tone: 'info' }
    if (!network.enabled) return { state: 'offline', text: 'offline (switched off)', tone: 'bad' }
    // The browser knows it has no network (a connection to the relay may linger a while).
    if (!navigator.onLine) return { state: 'offline', text: 'offline (no network)', tone: 'bad' }
    if (peers > 0) return { state: 'online', text: 'online', tone: 'good' }
    return { state: 'connecting', text: 'connecting…', tone: 'warn' }
  }

  #render(): void {
    const status = this.#status
    const metrics = this.#metrics
    const connection = this.#connection()
    const body = document.body.dataset
    body.net = connection.state
    body.peers = String(status?.peers.length ?? 0)
    // Changes queued for peers: those connected drain at once; others wait for them (or, for
    // peers only ever seen through the relay's gossip, for the outbox's age limit).
    const outbox = status?.outbox ?? 0
    const queuedConnected = (status?.peers ?? []).reduce((sum, peer) => sum + peer.outbox, 0)
    body.outbox = String(outbox)
    body.outboxConnected = String(queuedConnected)
    body.keys = String(status?.keys ?? 0)
    body.conflicts = String(this.#conflicts.length)

    const relayPeer = peerIdOfAddress(this.#network?.relay)
    const transports = this.#network?.transports ?? {}
    const peerRole = (peer: string): PeerRole =>
      peer === relayPeer ? 'relay' : connectedRole(transports[peer])
    // A replica id is labelled by the connected peer that holds it; the others reach this
    // device's replica through the relay (or reached it once).
    const replicaRoles = new Map<string, PeerRole>()
    for (const peer of status?.peers ?? []) {
      if (peer.replicaId !== undefined) replicaRoles.set(peer.replicaId, peerRole(peer.peer))
    }
    if (status !== undefined) replicaRoles.set(status.replicaId, 'this device')
    const replicaRole = (replica: string): PeerRole => replicaRoles.get(replica) ?? 'via relay'
    const roleBadge = (role: PeerRole) =>
      `<span class="badge ${role === 'this device' ? 'good' : 'info'}" data-role="${role}">${role}</span>`

    const peers = (status?.peers ?? [])
      .map(
        (peer) => `<li data-role="${peerRole(peer.peer)}">
          ${roleBadge(peerRole(peer.peer))}
          <span class="mono" title="${escapeHtml(peer.peer)}">${escapeHtml(short(peer.peer, 14))}</span>
          <span class="badge ${peer.inSync ? 'good' : 'warn'}">${peer.inSync ? 'in sync' : 'differs'}</span>
          ${peer.outbox > 0 ? `<span class="badge info">${peer.outbox} queued</span>` : ''}
          ${peer.breaker !== 'closed' ? `<span class="badge bad">breaker ${peer.breaker}</span>` : ''}
          ${status?.reconciling.includes(peer.peer) ? '<span class="badge info">reconciling</span>' : ''}
        </li>`,
      )
      .join('')

    const vector = [...(status?.versionVector ?? new Map<string, number>())].sort((a, b) =>
      a[0] < b[0] ? -1 : 1,
    )
    const vectorMax = Math.max(1, ...vector.map(([, count]) => count))
    const vectorBars = vector
      .map(([replica, count]) =>
        bar(
          `<span class="mono" title="${escapeHtml(replica)}">${escapeHtml(short(replica, 6))}</span> ${roleBadge(replicaRole(replica))}`,
          count,
          vectorMax,
          String(count),
          replica === status?.replicaId ? 'own' : '',
        ),
      )
      .join('')

    const counters: [string, number, string?][] = metrics
      ? [
          ['writes', metrics.writes_total],
          ['remote changes', metrics.remote_changes_total],
          ['read repairs', metrics.repairs_completed],
          ['keys repaired', metrics.keys_repaired],
          ['repairs failed', metrics.repairs_failed, 'bad'],
          ['reconciliations', metrics.reconcile_sessions],
          ['reconcile rounds', metrics.reconcile_rounds],
          ['handoff delivered', metrics.handoff_delivered],
          ['gossip sent', metrics.gossip_sent],
          ['gossip received', metrics.gossip_received],
        ]
      : []
    const counterMax = Math.max(1, ...counters.map(([, value]) => value))
    const counterBars = counters
      .map(([label, value, tone]) => bar(label, value, counterMax, String(value), tone ?? ''))
      .join('')

    const histogram = metrics?.repair_latency_ms
    const histogramMax = Math.max(1, ...(histogram?.counts ?? [0]))
    const histogramBars = histogram
      ? histogram.counts
          .map((count, i) => {
            const label = i < histogram.buckets.length ? `≤${histogram.buckets[i]}` : '>5000'
            const height = Math.round((count / histogramMax) * 100)
            // Every other bucket is labelled, so the labels fit.
            const tick = i % 2 === 0 ? `<span class="tick">${label.replace('000', 'k')}</span>` : ''
            return `<span class="column" title="${label} ms: ${count}"><span class="column-fill" style="height:${height}%"></span>${tick}</span>`
          })
          .join('')
      : ''

    const activity = this.#activity
      .map((entry) => {
        const seconds = Math.max(0, Math.round((Date.now() - entry.at) / 1000))
        return `<li class="${entry.kind.endsWith('failure') ? 'failure' : entry.kind}" data-kind="${entry.kind}" data-count="${entry.count}"><span class="dot"></span>${escapeHtml(describeActivity(entry))}<span class="ago">${seconds} s ago</span></li>`
      })
      .join('')

    const sync = this.#sync
    const progress = sync?.progress
    // A reconnect that brings many keys shows how far it got; a few keys arrive too fast to watch.
    const syncing = progress?.active === true && progress.keysToReceive >= PROGRESS_SHOWN_FROM_KEYS
    body.syncing = String(syncing)
    body.syncKeysReceived = String(sync?.keysReceived ?? 0)
    body.syncRounds = String(sync?.rounds ?? 0)
    const progressBar =
      progress !== undefined && syncing
        ? `<div id="sync-progress" class="sync-progress" data-testid="sync-progress" data-received="${progress.keysReceived}" data-to-receive="${progress.keysToReceive}">
            <h4>Catching up</h4>
            ${bar('keys received', progress.keysReceived, progress.keysToReceive, `${progress.keysReceived} / ${progress.keysToReceive}`)}
            <p class="muted">${bytes(progress.bytesReceived)} from ${plural(progress.peers.length, 'peer')}</p>
          </div>`
        : ''

    const outboxMax = Math.max(10, outbox)
    this.#root.innerHTML = `
      <section>
        <h3>Connection</h3>
        <p><span id="net-badge" class="badge big ${connection.tone}">${connection.text}</span>
           <span class="badge ${this.#tabs.role === 'leader' ? 'good' : 'info'}">${this.#tabs.role === 'leader' ? 'leader tab' : 'follower tab'}</span></p>
        <dl>
          <dt>relay</dt><dd class="mono" title="${escapeHtml(this.#network?.relay ?? '')}">${escapeHtml(short(this.#network?.relay, 28))}</dd>
          <dt>peer id</dt><dd class="mono">${escapeHtml(short(this.#network?.peerId ?? status?.peerId, 16))}</dd>
          <dt>leader tab</dt><dd class="mono">${escapeHtml(short(this.#tabs.leaderTabId, 8))}${this.#tabs.leaderTabId === this.#tabs.tabId ? ' (this one)' : ''}</dd>
        </dl>
        ${progressBar}
        <h4>Connected peers <span class="badge info">${status?.peers.length ?? 0}</span></h4>
        <ul class="peers">${peers || '<li class="muted">none</li>'}</ul>
      </section>
      <section>
        <h3>Replica</h3>
        <dl>
          <dt>replica id</dt><dd class="mono">${escapeHtml(short(status?.replicaId, 12))}</dd>
          <dt>keys</dt><dd>${status?.keys ?? 0}</dd>
          <dt>fingerprint</dt><dd class="mono">${status ? hex(status.summary) : '—'}</dd>
        </dl>
        <h4>Pending outbox (hinted handoff)</h4>
        ${bar('for connected peers', queuedConnected, outboxMax, String(queuedConnected), queuedConnected > 0 ? 'warn' : '')}
        ${bar('for peers out of reach', outbox - queuedConnected, outboxMax, String(outbox - queuedConnected), 'warn')}
        <h4>Version vector</h4>
        <div class="vector">${vectorBars || '<p class="muted">empty</p>'}</div>
      </section>
      <section>
        <h3>Activity</h3>
        <ul class="activity">${activity || '<li class="muted">nothing yet: go offline, edit, come back</li>'}</ul>
        ${counterBars}
        <h4>Read repair latency (ms)</h4>
        <div class="histogram">${histogramBars}</div>
        ${metrics ? `<p class="muted">reconciled ${bytes(metrics.reconcile_bytes)} in ${metrics.reconcile_rounds} rounds over ${metrics.reconcile_sessions} sessions</p>` : ''}
      </section>
      <section>
        <h3>Conflicts <span class="badge ${this.#conflicts.length > 0 ? 'warn' : 'good'}">${this.#conflicts.length}</span></h3>
        ${this.#conflicts.length > 0 ? `<ul>${this.#conflicts.map((text) => `<li>${escapeHtml(text)}</li>`).join('')}</ul>` : '<p class="muted">none: every replica agrees on one value per key</p>'}
      </section>`
  }
}
