// Peers of the replica benchmark in their own OS processes (figure 2), the bench's side of
// `remote-peer.ts`: each is forked with the same Node (it runs the built packages, `dist`), then
// driven by request/reply over IPC, every request with a timeout. A peer that exits while not
// asked to close fails the bench (`RemotePeers.watch`); `RemotePeers.close` closes them all and
// kills what is left, and none outlives the bench (killed on SIGINT and at exit; a peer whose bench
// process went away exits by itself).
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { reportIgnored } from '@mendsync/bench'
import type { PeerId } from '@mendsync/replica'

const SCRIPT = fileURLToPath(new URL('./remote-peer.ts', import.meta.url))

/** Until a forked peer is ready (Node start, imports, libp2p listening, storage open). */
const READY_TIMEOUT_MS = 30_000
/** Until a request's reply, unless the request says otherwise. */
const REQUEST_TIMEOUT_MS = 10_000
/** Until a peer asked to close has exited; then it is killed. */
const CLOSE_TIMEOUT_MS = 5_000

/** What a forked peer runs (its one command line argument, as JSON). */
export type RemoteOptions =
  /** A replica on file storage in `dir` and a libp2p network (pull-only, fast gossip). */
  | { readonly kind: 'replica'; readonly dir: string; readonly bootstrap: readonly string[] }
  /** A plain libp2p network; it answers pulls of `state` once asked to `serve`. */
  | { readonly kind: 'raw'; readonly bootstrap: readonly string[] }

/** Requests to a forked peer; byte strings travel as base64. */
export type RemoteRequest =
  /** → its listen multiaddr (with `/p2p/<peer id>`). */
  | { readonly op: 'address' }
  /** → the replica's `status().summary` once the put resolved. */
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  /**
   * → once the replica has no work in flight (`settled()`), its summary (`null` for a raw peer):
   * it changes after a put too, when the reader's write-back of a repair reaches the peer.
   */
  | { readonly op: 'settled' }
  /** → once its replica's status lists `peerId` with a replica id; an error after `waitMs`. */
  | { readonly op: 'knows'; readonly peerId: PeerId; readonly waitMs: number }
  /** → the stored state of `key` (`null` when absent). */
  | { readonly op: 'get-stored'; readonly key: string }
  /** Joins the space with raw handlers that answer pulls of the key `state` with `state`. */
  | { readonly op: 'serve'; readonly state: string }
  /** Closes the replica, its storage and the network, replies, then exits. */
  | { readonly op: 'close' }

/** Messages from a forked peer. */
export type RemoteMessage =
  | { readonly kind: 'ready'; readonly peerId: PeerId; readonly address: string }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: false; readonly error: string }

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
export const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))

interface Waiter {
  readonly resolve: (result: unknown) => void
  readonly reject: (error: Error) => void
}

/** One forked peer. */
export class RemotePeer {
  readonly name: string
  readonly child: ChildProcess
  peerId: PeerId = ''
  /** Listen multiaddr, with `/p2p/<peer id>`. */
  address = ''
  /** The replica's summary as of the last `put` or `settled` reply. */
  summary: Uint8Array = new Uint8Array()
  /** Asked to close: its exit is expected. */
  closing = false
  readonly exited: Promise<void>
  private onReady: () => void = () => {}
  private nextId = 0
  private readonly pending = new Map<number, Waiter>()

  constructor(name: string, options: RemoteOptions, onUnexpectedExit: (error: Error) => void) {
    this.name = name
    this.child = fork(SCRIPT, [JSON.stringify(options)], {
      execPath: process.execPath,
      // Not this process's flags: the peer loads the built packages (`dist`), like the bench.
      execArgv: [],
      // The peer's output goes to stderr, so `--json` keeps stdout to the figures.
      stdio: ['ignore', 2, 2, 'ipc'],
    })
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.child.on('message', (message: RemoteMessage) => this.receive(message))
    this.child.once('exit', (code, signal) => {
      const error = new Error(
        `bench: ${this.name} (pid ${this.child.pid}) exited unexpectedly (code ${code}, signal ${signal})`,
      )
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
      if (!this.closing) onUnexpectedExit(error)
    })
  }

  /** Resolves once the peer reported ready; rejects if it exits or takes too long first. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`bench: ${this.name} was not ready within ${READY_TIMEOUT_MS} ms`))
      }, READY_TIMEOUT_MS)
      this.onReady = () => {
        clearTimeout(timer)
        resolve()
      }
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`bench: ${this.name} exited before it was ready (${code ?? signal})`))
      })
    })
  }

  private receive(message: RemoteMessage): void {
    if (message.kind === 'ready') {
      this.peerId = message.peerId
      this.address = message.address
      this.onReady()
    } else {
      const waiter = this.pending.get(message.id)
      if (waiter === undefined) return
      this.pending.delete(message.id)
      if (message.ok) waiter.resolve(message.result)
      else waiter.reject(new Error(`bench: ${this.name}: ${message.error}`))
    }
  }

  /** Sends `request`; resolves with its result, rejects on an error reply, exit or timeout. */
  request<T>(request: RemoteRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const id = ++this.nextId
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`bench: ${this.name} did not answer ${request.op} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer)
          resolve(result as T)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.child.send({ id, ...request }, (error) => {
        if (error !== null) this.pending.get(id)?.reject(error)
      })
    })
  }

  /** Writes `value` at `key`; `summary` is the replica's once the put resolved. */
  async put(key: string, value: string): Promise<void> {
    this.summary = fromBase64(await this.request<string>({ op: 'put', key, value }))
  }

  /** Waits until the peer has no work in flight; a replica's `summary` is then its current one. */
  async settled(): Promise<void> {
    const summary = await this.request<string | null>({ op: 'settled' })
    if (summary !== null) this.summary = fromBase64(summary)
  }

  /** Resolves once the peer's replica knows `peerId` (by gossip); rejects after `waitMs`. */
  async knows(peerId: PeerId, waitMs: number): Promise<void> {
    await this.request({ op: 'knows', peerId, waitMs }, waitMs + REQUEST_TIMEOUT_MS)
  }

  /** The stored state of `key`. */
  async stored(key: string): Promise<Uint8Array | undefined> {
    const state = await this.request<string | null>({ op: 'get-stored', key })
    return state === null ? undefined : fromBase64(state)
  }

  /** Serves pulls of the key `state` with `state` (a raw peer). */
  async serve(state: Uint8Array): Promise<void> {
    await this.request({ op: 'serve', state: toBase64(state) })
  }

  /** Asks the peer to close and exit; kills it if it has not exited within the timeout. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.closing = true
    // A peer that does not answer is killed below.
    await this.request({ op: 'close' }, CLOSE_TIMEOUT_MS).catch(
      reportIgnored('asking a peer to close'),
    )
    const timer = setTimeout(() => this.kill(), CLOSE_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  kill(): void {
    this.closing = true
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

/** The forked peers of one figure. */
export class RemotePeers {
  private readonly peers: RemotePeer[] = []
  private fail: (error: Error) => void = () => {}
  /** Rejects when a peer exits unexpectedly. */
  private readonly failed: Promise<never>
  private readonly killAll = () => {
    for (const peer of this.peers) peer.kill()
  }
  // The `exit` listener kills the peers.
  private readonly interrupted = () => process.exit(130)

  constructor() {
    this.failed = new Promise<never>((_, reject) => {
      this.fail = reject
    })
    // Raced by `watch`; a failure nobody watched is not an unhandled rejection.
    this.failed.catch(() => undefined)
    process.on('SIGINT', this.interrupted)
    process.on('exit', this.killAll)
  }

  /** Forks a peer and waits until it is ready. */
  async start(name: string, options: RemoteOptions): Promise<RemotePeer> {
    const peer = new RemotePeer(name, options, (error) => this.fail(error))
    this.peers.push(peer)
    await this.watch(peer.ready())
    return peer
  }

  /** `work`, or the error of the first peer that exits unexpectedly before it settles. */
  watch<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed])
  }

  /** Closes every peer (killing those that do not exit in time). */
  async close(): Promise<void> {
    await Promise.all(this.peers.map((peer) => peer.close()))
    process.off('SIGINT', this.interrupted)
    process.off('exit', this.killAll)
  }
}
