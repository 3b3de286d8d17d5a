// The symbol session: the coded-symbol part of a reconciliation, a pure, transport-agnostic
// state machine (ReconcileSession runs it alone, or after its recency step over the items that
// step left). See docs/reconcile.md for the protocol; in short, both sides stream rateless coded symbols of their sets, alternately,
// each peeling the difference of the other's symbols and its own, until one side decodes the
// whole symmetric difference (checked against the peer's whole-set fingerprint and count) and
// sends the other side the ids of the other side's differing items. A listing of every item id
// replaces the symbols when it is cheaper or when a decode fails its check.

import { MendsyncError } from '../errors.js'
import { randomUint32 } from '../toolbox/random-id.js'
import { Decoder } from './decoder.js'
import { Observations } from './estimate.js'
import {
  asSessionError,
  beginMessage,
  checkMaxMessageSize,
  endMessage,
  expectedSeq,
  MAX_MESSAGE_SIZE,
  MIN_MESSAGE_SIZE,
  openMessage,
  protocolError,
  Traffic,
} from './framing.js'
import { IdFilter, IdMap } from './idset.js'
import {
  applyItem,
  ESTIMATOR_CELLS,
  ESTIMATOR_WIRE_BITS,
  estimatorCell,
  estimatorCellProbability,
  estimatorValue,
  type Symbols,
  symbolProbability,
  Walk,
} from './symbols.js'
import {
  type Journal,
  Lanes,
  type LeafView,
  type ReconcileTree,
  readLanes,
  type TreeInternals,
  treeInternals,
  writeLanes,
} from './tree.js'
import type { Reader, Writer } from './wire.js'

/** Version byte of every session message. */
export const PROTOCOL_VERSION = 1

const T_SYMBOLS = 1
const T_LIST = 2
const T_ACK = 3
const T_DONE = 4
const T_LIST_REQUEST = 5
const TYPE_NAMES = ['?', 'SYMBOLS', 'LIST', 'ACK', 'DONE', 'LIST_REQUEST']

/** Symbols the initiator's first message carries (decodes differences of a few items at once). */
const FIRST_SYMBOLS = 12
/** The initiator lists its ids outright when that costs less than a first symbols message. */
const SMALL_SET = 48
/** Wire bytes per symbol: id (8), checksum (4), plus 2 bits of count. */
const SYMBOL_BYTES = 12.25
const ID_BYTES = 8
/** Upper bound of a message's header, intro and body fields other than the payload. */
const OVERHEAD = 80
const ESTIMATOR_BYTES = (ESTIMATOR_CELLS * ESTIMATOR_WIRE_BITS) / 8

/** Options of {@link ReconcileSession}. */
export interface ReconcileSessionOptions {
  /**
   * Largest message this side sends or accepts, in bytes (at least 1024; default unlimited).
   * Both sides use the smaller of their two limits. Smaller messages cost more round trips.
   */
  readonly maxMessageSize?: number
  /** The session tag (initiator only; default random). Tests use it for reproducibility. */
  readonly tag?: number
}

/** What {@link ReconcileSession.receive} returns. */
export interface ReconcileStep {
  /** The message to send back, or null when this side has nothing more to send. */
  readonly reply: Uint8Array | null
  /** True once this side knows its differing keys; it then accepts no more messages. */
  readonly done: boolean
  /** When done: the local keys whose state the peer lacks or holds differently, in key order. */
  readonly differing: readonly string[] | null
}

/** Traffic counters of a session. */
export interface ReconcileStats {
  readonly messagesSent: number
  readonly messagesReceived: number
  readonly bytesSent: number
  readonly bytesReceived: number
}

type Phase = 'idle' | 'active' | 'done' | 'failed'
/** The stream this side is sending, continued by the peer's ACKs. */
type Outgoing = 'none' | 'symbols' | 'list' | 'done'

/** Number of symbols needed to decode a difference of `d` items with high probability. */
export function symbolsFor(d: number): number {
  return Math.ceil(d * (1.38 + 2.5 / Math.sqrt(Math.max(1, d))) + 4)
}

/** The local side's coded symbols: the tree's cache at session start, extended by scans. */
class LocalSymbols {
  readonly #leaves: () => LeafView[]
  symbols: Symbols

  constructor(symbols: Symbols, leaves: () => LeafView[]) {
    this.symbols = symbols
    this.#leaves = leaves
  }

  /** Makes symbols [0, end) available (scanning the snapshot past the cache). */
  ensure(end: number): Symbols {
    const have = this.symbols.length
    if (end <= have) return this.symbols
    const target = Math.max(end, Math.min(2 * have, end + (1 << 16)))
    this.symbols.grow(target)
    const walk = new Walk()
    const s = this.symbols
    for (const leaf of this.#leaves()) {
      const ids = leaf.ids
      for (let i = 0; i < leaf.count; i++)
        applyItem(s, walk, ids[2 * i]!, ids[2 * i + 1]!, 1, have, target)
    }
    return s
  }
}

/**
 * The coded-symbol protocol over a {@link ReconcileTree} (what {@link ReconcileSession} runs):
 * one side of it. The initiator calls
 * {@link initiate} and sends the result; each side passes every message it receives to
 * {@link receive} and sends back the reply, if any. Each side reports `done` exactly once, with
 * its differing keys; a side whose step returns `reply: null` is done and the exchange is over.
 * Any malformed, truncated, out-of-order or replayed message ends the session with a
 * `MendsyncError('RECONCILE_PROTOCOL')`, after which the session refuses further use. The tree
 * may be written while the session runs: the session reconciles the set as it was when the
 * session was constructed (a snapshot kept by a journal of the keys written since).
 */
export class SymbolSession {
  readonly #internals: TreeInternals
  readonly #journal: Journal
  readonly #estimator: Int32Array
  #maxMessage: number
  #phase: Phase = 'idle'
  #role: 'initiator' | 'responder' | null = null
  #tag: number
  #sendSeq = 0
  #sendLimit: number

  // The two sets' totals.
  #myCount: number
  readonly #myLanes: Lanes
  /** Items of the snapshot this session leaves out (see {@link exclude}). */
  #excluded: IdMap | null = null
  readonly #excludedFilter = new IdFilter()
  #peerCount = -1
  readonly #peerLanes = new Lanes()

  // What may arrive next.
  #expect = 0
  // The outgoing stream (symbols / list / done chunks) and how far it got.
  #out: Outgoing = 'none'
  #sent = 0
  #target = 0
  #listIds: Int32Array | null = null
  #doneIds: Int32Array = new Int32Array(0)
  #doneCount = 0
  readonly #doneLanes = new Lanes()

  // Symbols.
  readonly #local: LocalSymbols
  readonly #decoder = new Decoder()
  #peerTarget = 0
  #estimatorObs: Observations | null = null
  // Incoming listings / done lists.
  #inIds: Int32Array | null = null
  #inTotal = 0
  #inReceived = 0
  #inDoneCount = 0
  readonly #inDoneLanes = new Lanes()

  #differing: string[] | null = null
  readonly #stats = new Traffic()

  constructor(tree: ReconcileTree, options: ReconcileSessionOptions = {}) {
    this.#maxMessage = checkMaxMessageSize(options.maxMessageSize)
    this.#sendLimit = this.#maxMessage
    const tag = options.tag
    if (tag !== undefined && (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff))
      throw new MendsyncError('INVALID_ARGUMENT', 'tag must be a 32-bit unsigned integer')
    this.#tag = tag ?? randomUint32()
    this.#internals = treeInternals(tree)
    this.#journal = this.#internals.openJournal()
    this.#myCount = tree.size
    this.#myLanes = this.#internals.lanes()
    this.#estimator = this.#internals.estimator.slice()
    this.#local = new LocalSymbols(this.#internals.symbols.clone(), () => this.#leaves())
  }

  /** Stops the snapshot of a session that will never start (its journal costs every write). */
  release(): void {
    if (this.#phase !== 'idle') return
    this.#fail()
  }

  /** Before {@link initiate}: the session tag to use (the recency step shares its own). */
  useTag(tag: number): void {
    if (this.#phase !== 'idle') throw new Error('internal: useTag() after the start')
    this.#tag = tag
  }

  /** Before the first message: lowers this side's message size limit to `max` bytes. */
  limitMessages(max: number): void {
    if (this.#phase !== 'idle') throw new Error('internal: limitMessages() after the start')
    this.#maxMessage = max
    this.#sendLimit = max
  }

  /**
   * Before the first message: reconciles the snapshot without the items `ids` (`[lo0, hi0, lo1,
   * ...]`, each in the snapshot, no duplicates), which the recency step settled already.
   */
  exclude(ids: Int32Array): void {
    if (this.#phase !== 'idle') throw new Error('internal: exclude() after the session started')
    const n = ids.length >> 1
    if (n === 0) return
    const map = new IdMap(n)
    const s = this.#local.symbols
    const walk = new Walk()
    const est = this.#estimator
    for (let i = 0; i < n; i++) {
      const lo = ids[2 * i]!
      const hi = ids[2 * i + 1]!
      if (!map.add(lo, hi, i)) throw new Error('internal: an item excluded twice')
      this.#excludedFilter.add(lo)
      this.#myLanes.subItem(lo, hi)
      applyItem(s, walk, lo, hi, -1, 0, s.length)
      const cell = estimatorCell(lo, hi)
      est[cell] = est[cell]! ^ estimatorValue(lo, hi)
    }
    this.#myCount -= n
    this.#excluded = map
  }

  /** 'idle' before the first message, then 'active', 'done' or 'failed'. */
  get state(): Phase {
    return this.#phase
  }

  /** Messages and bytes sent and received so far. */
  get stats(): ReconcileStats {
    return this.#stats.snapshot()
  }

  /** The initiator's first message. */
  initiate(): Uint8Array {
    if (this.#phase !== 'idle') {
      this.#fail()
      protocolError('initiate() on a session that already started')
    }
    this.#role = 'initiator'
    this.#phase = 'active'
    try {
      const reply =
        this.#myCount <= SMALL_SET ? this.#startList() : this.#sendSymbols(FIRST_SYMBOLS, true)
      return this.#count(reply)
    } catch (error) {
      this.#fail()
      throw error
    }
  }

  /** Processes one message of the peer; see {@link ReconcileStep}. */
  receive(message: Uint8Array): ReconcileStep {
    if (this.#phase === 'failed') protocolError('the session failed earlier and cannot be used')
    if (this.#phase === 'done') {
      this.#fail()
      protocolError('message after the session ended')
    }
    try {
      if (!(message instanceof Uint8Array)) protocolError('message must be a Uint8Array')
      if (this.#phase === 'idle') {
        this.#role = 'responder'
        this.#phase = 'active'
      }
      this.#stats.received(message)
      const reply = this.#handle(message)
      if (reply !== null) this.#count(reply)
      const done = this.#differing !== null && this.#out === 'none'
      if (done) {
        this.#phase = 'done'
        this.#internals.closeJournal(this.#journal)
      }
      return { reply, done, differing: done ? this.#differing : null }
    } catch (error) {
      this.#fail()
      throw asSessionError(error)
    }
  }

  #count(reply: Uint8Array): Uint8Array {
    return this.#stats.sent(reply)
  }

  #fail(): void {
    this.#phase = 'failed'
    this.#internals.closeJournal(this.#journal)
  }

  /**
   * The leaves of the session's snapshot, in key order: the tree's leaves, with each key written
   * since the session began put back in its state at that time.
   */
  #leaves(): LeafView[] {
    const leaves = this.#snapshotLeaves()
    const excluded = this.#excluded
    if (excluded === null) return leaves
    const filter = this.#excludedFilter
    return leaves.map((leaf) => {
      const ids = leaf.ids
      let keep: number[] | null = null
      for (let i = 0; i < leaf.count; i++) {
        const lo = ids[2 * i]!
        if (filter.mayHave(lo) && excluded.has(lo, ids[2 * i + 1]!)) {
          if (keep === null) {
            keep = []
            for (let j = 0; j < i; j++) keep.push(j)
          }
        } else keep?.push(i)
      }
      if (keep === null) return leaf
      const out = new Int32Array(2 * keep.length)
      keep.forEach((j, k) => {
        out[2 * k] = ids[2 * j]!
        out[2 * k + 1] = ids[2 * j + 1]!
      })
      return { keys: keep.map((j) => leaf.keys[j]!), ids: out, count: keep.length }
    })
  }

  /** The leaves of the snapshot, before any exclusion. */
  #snapshotLeaves(): LeafView[] {
    const leaves = this.#internals.leaves()
    const journal = this.#journal
    if (journal.size === 0) return leaves
    // Journaled keys by the leaf they belong to: the last leaf whose first key is <= key.
    const touched = new Map<number, string[]>()
    for (const key of journal.keys()) {
      let lo = 0
      let hi = leaves.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (leaves[mid]!.keys[0]! <= key) lo = mid + 1
        else hi = mid
      }
      const at = Math.max(0, lo - 1)
      const list = touched.get(at)
      if (list === undefined) touched.set(at, [key])
      else list.push(key)
    }
    const out: LeafView[] = []
    const count = Math.max(1, leaves.length)
    for (let l = 0; l < count; l++) {
      const leaf = leaves[l]
      const added = touched.get(l)
      if (added === undefined) {
        if (leaf !== undefined) out.push(leaf)
        continue
      }
      const items: [string, number, number][] = []
      if (leaf !== undefined) {
        for (let i = 0; i < leaf.count; i++) {
          const key = leaf.keys[i]!
          if (!journal.has(key)) items.push([key, leaf.ids[2 * i]!, leaf.ids[2 * i + 1]!])
        }
      }
      for (const key of added) {
        const entry = journal.get(key)
        if (entry) items.push([key, entry.lo, entry.hi])
      }
      items.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      const ids = new Int32Array(2 * items.length)
      items.forEach((item, i) => {
        ids[2 * i] = item[1]
        ids[2 * i + 1] = item[2]
      })
      out.push({ keys: items.map((item) => item[0]), ids, count: items.length })
    }
    return out
  }

  // ---- message framing -------------------------------------------------------------------

  #begin(type: number, sizeHint: number): Writer {
    const w = beginMessage(PROTOCOL_VERSION, type, this.#sendSeq, this.#tag, sizeHint + OVERHEAD)
    if (this.#sendSeq <= 1) {
      w.varint(this.#maxMessage)
      w.varint(this.#myCount)
      w.ensure(16)
      writeLanes(w.bytes, w.length, this.#myLanes)
      w.length += 16
    }
    return w
  }

  #end(w: Writer, expect: number): Uint8Array {
    const out = endMessage(w, this.#sendLimit)
    this.#sendSeq += 2
    this.#expect = expect
    return out
  }

  /** Payload bytes available in one message. */
  #room(extra: number): number {
    if (this.#sendLimit === 0) return Number.POSITIVE_INFINITY
    return this.#sendLimit - OVERHEAD - extra
  }

  #handle(message: Uint8Array): Uint8Array | null {
    const {
      reader: r,
      type,
      seq,
      tag,
    } = openMessage(message, this.#maxMessage, PROTOCOL_VERSION, T_LIST_REQUEST)
    const expected = expectedSeq(this.#role === 'responder', this.#sendSeq)
    if (seq !== expected) protocolError(`message ${seq} out of order (expected ${expected})`)
    if (seq === 0) {
      if (this.#role !== 'responder') protocolError('unexpected first message')
      this.#tag = tag
      this.#sendSeq = 1
      this.#expect = (1 << T_SYMBOLS) | (1 << T_LIST)
    } else if (tag !== this.#tag) protocolError('message from another session')
    if ((this.#expect & (1 << type)) === 0)
      protocolError(`unexpected ${TYPE_NAMES[type]} message in this state`)
    if (seq <= 1) {
      const peerMax = r.varint('maxMessageSize', MAX_MESSAGE_SIZE)
      if (peerMax !== 0 && peerMax < MIN_MESSAGE_SIZE)
        protocolError('peer maxMessageSize too small')
      if (peerMax !== 0 && (this.#sendLimit === 0 || peerMax < this.#sendLimit))
        this.#sendLimit = peerMax
      this.#peerCount = r.varint('count', 2 ** 40)
      readLanes(r.raw(16, 'fingerprint'), 0, this.#peerLanes)
    }
    switch (type) {
      case T_SYMBOLS:
        return this.#onSymbols(r, seq === 0)
      case T_LIST:
        return this.#onList(r)
      case T_ACK:
        r.done()
        return this.#continue()
      case T_DONE:
        return this.#onDone(r)
      default:
        r.done()
        return this.#startList()
    }
  }

  // ---- symbols ---------------------------------------------------------------------------

  /** Sends my symbols up to a new target `target` (the first chunk of it). */
  #sendSymbols(target: number, first: boolean): Uint8Array {
    this.#out = 'symbols'
    this.#target = Math.max(target, this.#sent + 1)
    return this.#symbolsChunk(first)
  }

  #symbolsChunk(first: boolean): Uint8Array {
    const room = this.#room(first ? ESTIMATOR_BYTES : 0)
    let n = this.#target - this.#sent
    if (room !== Number.POSITIVE_INFINITY) n = Math.min(n, Math.floor(((room - 1) * 4) / 49))
    if (n < 1) throw new Error('internal: no room for symbols')
    const start = this.#sent
    const s = this.#local.ensure(start + n)
    const w = this.#begin(T_SYMBOLS, Math.ceil(n * SYMBOL_BYTES) + (first ? ESTIMATOR_BYTES : 0))
    if (first) {
      const est = this.#estimator
      w.ensure(ESTIMATOR_BYTES)
      for (let c = 0; c < ESTIMATOR_CELLS; c += 4) {
        w.bytes[w.length++] =
          (est[c]! & 3) |
          ((est[c + 1]! & 3) << 2) |
          ((est[c + 2]! & 3) << 4) |
          ((est[c + 3]! & 3) << 6)
      }
    }
    w.varint(start)
    w.varint(n)
    w.varint(this.#target)
    w.ensure(12 * n + (n >> 2) + 1)
    for (let i = start; i < start + n; i++) {
      w.u32(s.lo[i]!)
      w.u32(s.hi[i]!)
      w.u32(s.check[i]!)
    }
    for (let i = 0; i < n; i += 4) {
      let b = 0
      for (let k = 0; k < 4 && i + k < n; k++) b |= (s.count[start + i + k]! & 3) << (2 * k)
      w.bytes[w.length++] = b
    }
    this.#sent = start + n
    const open = this.#sent < this.#target
    const expect =
      (open ? 1 << T_ACK : 1 << T_SYMBOLS) | (1 << T_DONE) | (1 << T_LIST) | (1 << T_LIST_REQUEST)
    if (!open) this.#out = 'none'
    return this.#end(w, expect)
  }

  #onSymbols(r: Reader, first: boolean): Uint8Array {
    if (first) {
      const bytes = r.raw(ESTIMATOR_BYTES, 'estimator')
      const mine = this.#estimator
      const obs = new Observations()
      for (let c = 0; c < ESTIMATOR_CELLS; c++) {
        const theirs = (bytes[c >> 2]! >>> (2 * (c & 3))) & 3
        obs.add(estimatorCellProbability(c), ((mine[c]! ^ theirs) & 3) === 0, 1 / 4)
      }
      this.#estimatorObs = obs
    }
    const dec = this.#decoder
    const start = r.varint('symbol start', 2 ** 31)
    if (start !== dec.length) protocolError(`symbols start at ${start}, expected ${dec.length}`)
    const limit = 2 * (this.#myCount + this.#peerCount) + 4096
    const n = r.varint('symbol count', limit - start)
    if (n < 1) protocolError('empty symbols message')
    const target = r.varint('symbol target', limit)
    if (target < start + n) protocolError('symbol target below what was sent')
    r.need(12 * n + ((n + 3) >> 2), 'symbols')
    const lo = new Int32Array(n)
    const hi = new Int32Array(n)
    const check = new Int32Array(n)
    const count = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      lo[i] = r.i32('symbol')
      hi[i] = r.i32('symbol')
      check[i] = r.i32('symbol')
    }
    for (let i = 0; i < n; i += 4) {
      const b = r.u8('symbol counts')
      for (let k = 0; k < 4; k++) {
        if (i + k < n) count[i + k] = (b >>> (2 * k)) & 3
        else if (((b >>> (2 * k)) & 3) !== 0) protocolError('nonzero padding in symbol counts')
      }
    }
    r.done()
    this.#peerTarget = target
    const local = this.#local.ensure(start + n)
    dec.extend(n, local, lo, hi, check, count)
    if (dec.complete) {
      const reply = this.#finishDecoded()
      if (reply !== null) return reply
      return this.#fallBackToList()
    }
    if (dec.corrupt) return this.#fallBackToList()
    if (dec.length < this.#peerTarget) {
      // The peer has more symbols on the way (message size limit): pull them.
      return this.#ack(T_SYMBOLS)
    }
    return this.#plan()
  }

  /** After a failed decode: send more of my symbols, or fall back to a listing when cheaper. */
  #plan(): Uint8Array {
    const dec = this.#decoder
    const obs = new Observations()
    const est = this.#estimatorObs
    if (est !== null) {
      for (let i = 0; i < est.length; i++)
        obs.add(est.q[i]!, est.empty[i] === 1, est.falseEmpty[i]!, est.weight[i]!)
    }
    const p = dec.length
    const dense = Math.min(p, 256)
    for (let i = 0; i < dense; i++) obs.add(symbolProbability(i), dec.rawEmpty[i] === 1, 0)
    if (p > dense) {
      const stride = Math.ceil((p - dense) / 2048)
      for (let i = dense; i < p; i += stride)
        obs.add(symbolProbability(i), dec.rawEmpty[i] === 1, 0, Math.min(stride, p - i))
    }
    const lower = Math.max(1, dec.recovered, Math.abs(this.#myCount - this.#peerCount))
    const upper = Math.max(lower, this.#myCount + this.#peerCount)
    const estimate = obs.estimate(lower, upper)
    const wanted = Math.max(symbolsFor(1.25 * estimate), Math.ceil(1.3 * p) + 8, this.#sent + 1)
    const symbolsCost = (wanted - this.#sent) * SYMBOL_BYTES
    const listCost = ID_BYTES * Math.min(this.#myCount, this.#peerCount)
    if (listCost < symbolsCost) {
      return this.#fallBackToList()
    }
    return this.#sendSymbols(wanted, false)
  }

  /** The smaller side lists its ids (asking the peer to, when the peer is smaller). */
  #fallBackToList(): Uint8Array {
    if (this.#peerCount < this.#myCount) {
      this.#out = 'none'
      return this.#end(this.#begin(T_LIST_REQUEST, 0), 1 << T_LIST)
    }
    return this.#startList()
  }

  #ack(kind: number): Uint8Array {
    const w = this.#begin(T_ACK, 0)
    return this.#end(w, 1 << kind)
  }

  /** Continues my open stream after the peer's ACK. */
  #continue(): Uint8Array {
    switch (this.#out) {
      case 'symbols':
        return this.#symbolsChunk(false)
      case 'list':
        return this.#listChunk()
      case 'done':
        return this.#doneChunk()
      default:
        return protocolError('ACK with nothing to continue')
    }
  }

  // ---- the decoded difference ------------------------------------------------------------

  /**
   * The decoder peeled every symbol: checks the candidate difference against the peer's count
   * and fingerprint, maps my ids to keys, then starts the DONE stream. Null when the check fails.
   */
  #finishDecoded(): Uint8Array | null {
    const dec = this.#decoder
    const lanes = new Lanes().copy(this.#myLanes)
    let count = this.#myCount
    const ids = new IdMap(dec.recovered)
    const filter = new IdFilter()
    let mine = 0
    for (let r = 0; r < dec.recovered; r++) {
      const lo = dec.recLo[r]!
      const hi = dec.recHi[r]!
      if (dec.recSign[r] === 1) {
        lanes.subItem(lo, hi)
        count--
        mine++
      } else {
        lanes.addItem(lo, hi)
        count++
      }
      ids.add(lo, hi, r)
      filter.add(lo)
    }
    if (count !== this.#peerCount || !lanes.equals(this.#peerLanes)) return null
    // Map my differing ids to keys; a peer-only id must not be mine.
    const differing: string[] = []
    const leaves = dec.recovered > 0 ? this.#leaves() : []
    for (const leaf of leaves) {
      const leafIds = leaf.ids
      for (let i = 0; i < leaf.count; i++) {
        const lo = leafIds[2 * i]!
        if (!filter.mayHave(lo)) continue
        const r = ids.get(lo, leafIds[2 * i + 1]!)
        if (r < 0) continue
        if (dec.recSign[r] !== 1) return null
        differing.push(leaf.keys[i]!)
      }
    }
    if (differing.length !== mine) return null
    const theirs = new Int32Array(2 * (dec.recovered - mine))
    const mineLanes = new Lanes()
    let t = 0
    for (let r = 0; r < dec.recovered; r++) {
      if (dec.recSign[r] === 1) mineLanes.addItem(dec.recLo[r]!, dec.recHi[r]!)
      else {
        theirs[t++] = dec.recLo[r]!
        theirs[t++] = dec.recHi[r]!
      }
    }
    return this.#startDone(differing, theirs, mine, mineLanes)
  }

  #startDone(differing: string[], theirs: Int32Array, mine: number, mineLanes: Lanes): Uint8Array {
    this.#differing = differing
    this.#doneIds = theirs
    this.#doneCount = mine
    this.#doneLanes.copy(mineLanes)
    this.#out = 'done'
    this.#sent = 0
    return this.#doneChunk()
  }

  #doneChunk(): Uint8Array {
    const total = this.#doneIds.length / 2
    const offset = this.#sent
    const first = offset === 0
    let n = total - offset
    const room = this.#room(first ? 26 : 0)
    if (room !== Number.POSITIVE_INFINITY) n = Math.min(n, Math.floor(room / ID_BYTES))
    const w = this.#begin(T_DONE, n * ID_BYTES + 32)
    w.varint(total)
    w.varint(offset)
    w.varint(n)
    if (first) {
      w.varint(this.#doneCount)
      w.ensure(16)
      writeLanes(w.bytes, w.length, this.#doneLanes)
      w.length += 16
    }
    w.ensure(8 * n)
    for (let i = offset; i < offset + n; i++) {
      w.u32(this.#doneIds[2 * i]!)
      w.u32(this.#doneIds[2 * i + 1]!)
    }
    this.#sent = offset + n
    const open = this.#sent < total
    if (!open) this.#out = 'none'
    return this.#end(w, open ? 1 << T_ACK : 0)
  }

  #onDone(r: Reader): Uint8Array | null {
    const total = r.varint('done total', 2 ** 40)
    const offset = r.varint('done offset', total)
    if (offset === 0) {
      if (this.#inIds !== null) protocolError('done list restarted')
      // Each of my ids can be listed once: at most my count.
      if (total > this.#myCount) protocolError('done list longer than my set')
      this.#inIds = new Int32Array(2 * total)
      this.#inTotal = total
      this.#inReceived = 0
    } else if (this.#inIds === null || total !== this.#inTotal || offset !== this.#inReceived) {
      protocolError('done chunk out of sequence')
    }
    const n = r.varint('done chunk', total - offset)
    if (n === 0 && offset + n < total) protocolError('empty done chunk')
    if (offset === 0) {
      this.#inDoneCount = r.varint('peer differing count', this.#peerCount)
      readLanes(r.raw(16, 'peer differing fingerprint'), 0, this.#inDoneLanes)
    }
    r.need(8 * n, 'done ids')
    const ids = this.#inIds!
    for (let i = offset; i < offset + n; i++) {
      ids[2 * i] = r.i32('id')
      ids[2 * i + 1] = r.i32('id')
    }
    r.done()
    this.#inReceived = offset + n
    if (this.#inReceived < total) return this.#ack(T_DONE)
    // Map and verify: my count and fingerprint minus the listed items plus the peer's
    // differing items must be the peer's.
    const map = new IdMap(total)
    const filter = new IdFilter()
    for (let i = 0; i < total; i++) {
      if (!map.add(ids[2 * i]!, ids[2 * i + 1]!, i)) protocolError('duplicate id in done list')
      filter.add(ids[2 * i]!)
    }
    const lanes = new Lanes().copy(this.#myLanes)
    const differing: string[] = []
    const leaves = total > 0 ? this.#leaves() : []
    for (const leaf of leaves) {
      const leafIds = leaf.ids
      for (let i = 0; i < leaf.count; i++) {
        const lo = leafIds[2 * i]!
        if (!filter.mayHave(lo)) continue
        const hi = leafIds[2 * i + 1]!
        if (!map.has(lo, hi)) continue
        differing.push(leaf.keys[i]!)
        lanes.subItem(lo, hi)
      }
    }
    if (differing.length !== total) protocolError('done list names ids I do not hold')
    lanes.f0 = (lanes.f0 + this.#inDoneLanes.f0) | 0
    lanes.f1 = (lanes.f1 + this.#inDoneLanes.f1) | 0
    lanes.f2 = (lanes.f2 + this.#inDoneLanes.f2) | 0
    lanes.f3 = (lanes.f3 + this.#inDoneLanes.f3) | 0
    if (
      this.#myCount - total + this.#inDoneCount !== this.#peerCount ||
      !lanes.equals(this.#peerLanes)
    )
      protocolError('done list fails the whole-set check')
    this.#differing = differing
    this.#out = 'none'
    this.#expect = 0
    return null
  }

  // ---- full listings ---------------------------------------------------------------------

  #startList(): Uint8Array {
    const ids = new Int32Array(2 * this.#myCount)
    let k = 0
    for (const leaf of this.#leaves()) {
      ids.set(leaf.ids.subarray(0, 2 * leaf.count), k)
      k += 2 * leaf.count
    }
    this.#listIds = ids
    this.#out = 'list'
    this.#sent = 0
    return this.#listChunk()
  }

  #listChunk(): Uint8Array {
    const ids = this.#listIds!
    const total = ids.length / 2
    const offset = this.#sent
    let n = total - offset
    const room = this.#room(0)
    if (room !== Number.POSITIVE_INFINITY) n = Math.min(n, Math.floor(room / ID_BYTES))
    const w = this.#begin(T_LIST, n * ID_BYTES)
    w.varint(total)
    w.varint(offset)
    w.varint(n)
    w.ensure(8 * n)
    for (let i = offset; i < offset + n; i++) {
      w.u32(ids[2 * i]!)
      w.u32(ids[2 * i + 1]!)
    }
    this.#sent = offset + n
    const open = this.#sent < total
    if (!open) this.#out = 'none'
    return this.#end(w, open ? 1 << T_ACK : 1 << T_DONE)
  }

  #onList(r: Reader): Uint8Array {
    const total = r.varint('list total', 2 ** 40)
    if (total !== this.#peerCount) protocolError('listing size differs from the peer count')
    const offset = r.varint('list offset', total)
    if (offset === 0 && this.#inReceived === 0 && this.#inIds === null) {
      this.#inIds = new Int32Array(0)
      this.#inTotal = total
    } else if (this.#inIds === null || offset !== this.#inReceived) {
      protocolError('list chunk out of sequence')
    }
    const n = r.varint('list chunk', total - offset)
    if (n === 0 && offset < total) protocolError('empty list chunk')
    r.need(8 * n, 'list ids')
    // Grow with what actually arrived (the announced total is only a claim).
    let ids = this.#inIds!
    if (ids.length < 2 * (offset + n)) {
      const grown = new Int32Array(Math.min(2 * total, Math.max(2 * (offset + n), 2 * ids.length)))
      grown.set(ids)
      ids = grown
      this.#inIds = ids
    }
    for (let i = offset; i < offset + n; i++) {
      ids[2 * i] = r.i32('id')
      ids[2 * i + 1] = r.i32('id')
    }
    r.done()
    this.#inReceived = offset + n
    if (this.#inReceived < total) return this.#ack(T_LIST)
    // The whole listing: check it against the peer's fingerprint, then diff it with my set.
    const map = new IdMap(total)
    const lanes = new Lanes()
    for (let i = 0; i < total; i++) {
      const lo = ids[2 * i]!
      const hi = ids[2 * i + 1]!
      if (!map.add(lo, hi, 0)) protocolError('duplicate id in listing')
      lanes.addItem(lo, hi)
    }
    if (!lanes.equals(this.#peerLanes)) protocolError('listing fails the fingerprint check')
    const differing: string[] = []
    const mineLanes = new Lanes()
    for (const leaf of this.#leaves()) {
      const leafIds = leaf.ids
      for (let i = 0; i < leaf.count; i++) {
        const lo = leafIds[2 * i]!
        const hi = leafIds[2 * i + 1]!
        if (map.set(lo, hi, 1)) continue
        differing.push(leaf.keys[i]!)
        mineLanes.addItem(lo, hi)
      }
    }
    let t = 0
    for (let i = 0; i < total; i++) if (map.get(ids[2 * i]!, ids[2 * i + 1]!) === 0) t++
    const theirs = new Int32Array(2 * t)
    t = 0
    for (let i = 0; i < total; i++) {
      const lo = ids[2 * i]!
      const hi = ids[2 * i + 1]!
      if (map.get(lo, hi) !== 0) continue
      theirs[t++] = lo
      theirs[t++] = hi
    }
    this.#inIds = null
    return this.#startDone(differing, theirs, differing.length, mineLanes)
  }
}
