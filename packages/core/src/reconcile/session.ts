// The reconciliation session: a pure, transport-agnostic state machine. It compares the two
// trees' recency order first (the items changed most recently, where a partition or an offline
// device leaves its differences), settles those items with a Golomb-coded set instead of coded
// symbols, and runs the coded-symbol session (symbol-session.ts) only over what is left. Trees
// without times, and small sets, run the coded-symbol session alone. See docs/reconcile.md.
//
//   A (initiator)                               B (responder)
//   LADDER: cut times at A's 1, 2, 4, ... newest
//     items, A's suffix count and fingerprint,
//     a 16-bit sample of the item at each cut   ->
//                                               <-  CUT: the chosen cut, whether the older
//                                                   items are equal, B's suffix as a coded set
//                                                   [+ B's first symbols of the older items]
//   RUN: the leading run of A's suffix that all
//     matched (count + fingerprint), the ids of
//     A's later items that matched              ->
//     [+ A's reply to B's symbols]
//                                               <-  RESOLVE: which of those ids B holds; then the
//                                                   whole-set check, or symbols
//   INNER ... (the coded-symbol session, until done)

import { randomUint32 } from '../toolbox/random-id.js'
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
import { gcsValue, RICE_BITS, readGcs, writeGcs } from './gcs.js'
import { IdMap } from './idset.js'
import { firstAtOrAfter, type RecentSnapshot } from './recent.js'
import {
  type ReconcileSessionOptions,
  type ReconcileStats,
  type ReconcileStep,
  SymbolSession,
} from './symbol-session.js'
import { Lanes, type ReconcileTree, readLanes, treeInternals, writeLanes } from './tree.js'
import type { Reader, Writer } from './wire.js'

/** Version byte of the messages of a session that starts with the recency step. */
export const RECENCY_VERSION = 2

const T_LADDER = 1
const T_CUT = 2
const T_RUN = 3
const T_RESOLVE = 4
const T_INNER = 5
const TYPE_NAMES = ['?', 'LADDER', 'CUT', 'RUN', 'RESOLVE', 'INNER']

/** Sets this small go straight to the symbol session (it lists them). */
const SMALL_SET = 48
/** Smallest message limit with which the recency step runs (the symbol session gets half). */
const MIN_RECENCY_MESSAGE = 4 * MIN_MESSAGE_SIZE
const MAX_LEVELS = 64
/** The initiator starts the symbol session when it holds this many more older items. */
const PEER_STARTS_SURPLUS = 512
const MAX_TIME = Number.MAX_SAFE_INTEGER
/** After RESOLVE: the whole-set check follows / a symbol-session message follows / nothing. */
const NEXT_CHECK = 0
const NEXT_INNER = 1
const NEXT_NONE = 2

type Phase = 'idle' | 'active' | 'done' | 'failed'

/** Lanes of the snapshot items `[from, to)`. */
function lanesOf(snap: RecentSnapshot, from: number, to: number): Lanes {
  const lanes = new Lanes()
  for (let i = from; i < to; i++) lanes.addItem(snap.lo[i]!, snap.hi[i]!)
  return lanes
}

/** The ids of the snapshot items `[from, to)`, interleaved. */
function idsOf(snap: RecentSnapshot, from: number, to: number): Int32Array {
  const ids = new Int32Array(2 * (to - from))
  for (let i = from; i < to; i++) {
    ids[2 * (i - from)] = snap.lo[i]!
    ids[2 * (i - from) + 1] = snap.hi[i]!
  }
  return ids
}

/** One cut of the initiator's ladder. */
interface Level {
  readonly time: number
  /** The initiator's items at or after `time`. */
  readonly count: number
  readonly f0: number
  readonly f1: number
  readonly sample: number
}

/**
 * One side of a reconciliation over a {@link ReconcileTree}. The initiator calls
 * {@link initiate} and sends the result; each side passes every message it receives to
 * {@link receive} and sends back the reply, if any. Each side reports `done` exactly once, with
 * its differing keys; a side whose step returns `reply: null` is done and the exchange is over.
 * Any malformed, truncated, out-of-order or replayed message ends the session with a
 * `MendsyncError('RECONCILE_PROTOCOL')`, after which the session refuses further use. The tree
 * may be written while the session runs: the session reconciles the set as it was when the
 * session was constructed.
 */
export class ReconcileSession {
  readonly #inner: SymbolSession
  readonly #snap: RecentSnapshot
  readonly #myCount: number
  readonly #myLanes: Lanes
  readonly #maxMessage: number
  #mode: 'unknown' | 'symbols' | 'recency' = 'unknown'
  #phase: Phase = 'idle'
  #role: 'initiator' | 'responder' | null = null
  #tag: number
  #sendSeq = 0
  #expect = 0
  #limit: number
  #peerCount = -1
  readonly #peerLanes = new Lanes()
  readonly #stats = new Traffic()

  // The recency step.
  #levels: Level[] = []
  /** Per level (initiator): the first index of its suffix in my snapshot. */
  #levelFirst: number[] = []
  /** The cut: first index of my suffix, its time, whether the older items are equal. */
  #cutFirst = 0
  #cutTime = 0
  #olderEqual = false
  #peerSuffix = 0
  /** First index of my items after the leading run (the run is [#cutFirst, #runEnd)). */
  #runEnd = 0
  /** Initiator: indices of its items after the run that matched the peer's set, as sent. */
  #maybe: number[] = []
  /** Initiator: my recent items certainly missing on the peer, until RESOLVE adds the rest. */
  #recentPending: number[] = []
  /** My settled recent differing items (indices into the snapshot); null until known. */
  #recentDiffering: number[] | null = null
  #innerUsed = false
  #innerDone = false
  #innerDiffering: readonly string[] = []
  #differing: string[] | null = null

  constructor(tree: ReconcileTree, options: ReconcileSessionOptions = {}) {
    this.#maxMessage = checkMaxMessageSize(options.maxMessageSize)
    this.#inner = new SymbolSession(tree, options)
    this.#limit = this.#maxMessage
    this.#tag = options.tag ?? randomUint32()
    const internals = treeInternals(tree)
    this.#snap = internals.recent()
    this.#myCount = tree.size
    this.#myLanes = internals.lanes()
  }

  /** 'idle' before the first message, then 'active', 'done' or 'failed'. */
  get state(): Phase {
    return this.#mode === 'symbols' ? this.#inner.state : this.#phase
  }

  /** Messages and bytes sent and received so far. */
  get stats(): ReconcileStats {
    return this.#mode === 'symbols' ? this.#inner.stats : this.#stats.snapshot()
  }

  /** The initiator's first message. */
  initiate(): Uint8Array {
    if (this.#mode === 'symbols' || this.#phase !== 'idle') {
      this.#phase = 'failed'
      protocolError('initiate() on a session that already started')
    }
    this.#role = 'initiator'
    const recency =
      this.#snap.keys.length > 0 &&
      this.#myCount > SMALL_SET &&
      (this.#maxMessage === 0 || this.#maxMessage >= MIN_RECENCY_MESSAGE)
    if (!recency) {
      this.#mode = 'symbols'
      return this.#inner.initiate()
    }
    this.#mode = 'recency'
    this.#phase = 'active'
    if (this.#maxMessage > 0) this.#inner.limitMessages(this.#maxMessage >> 1)
    return this.#count(this.#ladder())
  }

  /** Processes one message of the peer; see {@link ReconcileStep}. */
  receive(message: Uint8Array): ReconcileStep {
    if (this.#mode === 'unknown' && message instanceof Uint8Array && message[0] !== RECENCY_VERSION)
      this.#mode = 'symbols'
    if (this.#mode === 'symbols') return this.#inner.receive(message)
    if (this.#phase === 'failed') protocolError('the session failed earlier and cannot be used')
    if (this.#phase === 'done') {
      this.#phase = 'failed'
      protocolError('message after the session ended')
    }
    try {
      if (!(message instanceof Uint8Array)) protocolError('message must be a Uint8Array')
      if (this.#phase === 'idle') {
        this.#role = 'responder'
        this.#mode = 'recency'
        this.#phase = 'active'
      }
      this.#stats.received(message)
      const reply = this.#handle(message)
      const done = this.#recentDiffering !== null && (!this.#innerUsed || this.#innerDone)
      if (reply === null && !done) protocolError('nothing to send but not done')
      if (reply !== null) this.#count(reply)
      if (done) {
        this.#phase = 'done'
        if (!this.#innerUsed) this.#inner.release()
        const keys = this.#recentDiffering!.map((i) => this.#snap.keys[i]!)
        const all = [...keys, ...this.#innerDiffering]
        this.#differing = all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      }
      return { reply, done, differing: done ? this.#differing : null }
    } catch (error) {
      this.#phase = 'failed'
      this.#inner.release()
      throw asSessionError(error)
    }
  }

  #count(reply: Uint8Array): Uint8Array {
    return this.#stats.sent(reply)
  }

  // ---- framing ---------------------------------------------------------------------------

  #begin(type: number): Writer {
    return beginMessage(RECENCY_VERSION, type, this.#sendSeq, this.#tag, 256)
  }

  #end(w: Writer, expect: number): Uint8Array {
    const out = endMessage(w, this.#limit)
    this.#sendSeq += 2
    this.#expect = expect
    return out
  }

  #writeIntro(w: Writer): void {
    w.varint(this.#maxMessage)
    w.varint(this.#myCount)
    w.ensure(16)
    writeLanes(w.bytes, w.length, this.#myLanes)
    w.length += 16
  }

  #readIntro(r: Reader): void {
    const peerMax = r.varint('maxMessageSize', MAX_MESSAGE_SIZE)
    if (peerMax !== 0 && peerMax < MIN_RECENCY_MESSAGE)
      protocolError('peer maxMessageSize too small for the recency step')
    if (peerMax !== 0 && (this.#limit === 0 || peerMax < this.#limit)) this.#limit = peerMax
    this.#peerCount = r.varint('count', 2 ** 40)
    readLanes(r.raw(16, 'fingerprint'), 0, this.#peerLanes)
  }

  /** Appends a symbol-session message (length first; 0: none). */
  #writeInner(w: Writer, message: Uint8Array | null): void {
    w.varint(message === null ? 0 : message.length)
    if (message !== null) w.raw(message)
  }

  #readInner(r: Reader): Uint8Array | null {
    const length = r.varint('inner length', r.remaining)
    return length === 0 ? null : r.raw(length, 'inner message').slice()
  }

  /** Starts the symbol session from this side, under this session's tag. */
  #innerInitiate(): Uint8Array {
    this.#inner.useTag(this.#tag)
    return this.#inner.initiate()
  }

  /** Passes a symbol-session message on; returns its reply. */
  #innerStep(message: Uint8Array): Uint8Array | null {
    const step = this.#inner.receive(message)
    if (step.done) {
      this.#innerDone = true
      this.#innerDiffering = step.differing ?? []
    }
    return step.reply
  }

  #handle(message: Uint8Array): Uint8Array | null {
    const {
      reader: r,
      type,
      seq,
      tag,
    } = openMessage(message, this.#maxMessage, RECENCY_VERSION, T_INNER)
    const expected = expectedSeq(this.#role === 'responder', this.#sendSeq)
    if (seq !== expected) protocolError(`message ${seq} out of order (expected ${expected})`)
    if (seq === 0) {
      this.#tag = tag
      this.#sendSeq = 1
      this.#expect = 1 << T_LADDER
    } else if (tag !== this.#tag) protocolError('message from another session')
    if ((this.#expect & (1 << type)) === 0)
      protocolError(`unexpected ${TYPE_NAMES[type]} message in this state`)
    switch (type) {
      case T_LADDER:
        return this.#onLadder(r)
      case T_CUT:
        return this.#onCut(r)
      case T_RUN:
        return this.#onRun(r)
      case T_RESOLVE:
        return this.#onResolve(r)
      default: {
        const inner = this.#readInner(r)
        r.done()
        if (inner === null) protocolError('empty inner message')
        return this.#innerReply(this.#innerStep(inner))
      }
    }
  }

  /** Wraps a symbol-session reply (null: none). */
  #innerReply(reply: Uint8Array | null): Uint8Array | null {
    if (reply === null) return null
    const w = this.#begin(T_INNER)
    this.#writeInner(w, reply)
    return this.#end(w, 1 << T_INNER)
  }

  // ---- initiator: the ladder ---------------------------------------------------------------

  /** Cuts at my 1st, 2nd, 4th, ... newest item, down to my oldest recent item. */
  #ladder(): Uint8Array {
    const snap = this.#snap
    const size = snap.times.length
    const levels: Level[] = []
    const firsts: number[] = []
    const lanes = new Lanes()
    let summed = size
    for (let k = 0; ; k++) {
      const at = 2 ** k >= size ? 0 : size - 2 ** k
      const time = snap.times[at]!
      const first = firstAtOrAfter(snap.times, time)
      if (firsts.length === 0 || first < firsts[firsts.length - 1]!) {
        while (summed > first) {
          summed--
          lanes.addItem(snap.lo[summed]!, snap.hi[summed]!)
        }
        levels.push({ time, count: size - first, f0: lanes.f0, f1: lanes.f1, sample: snap.lo[at]! })
        firsts.push(first)
      }
      if (at === 0) break
    }
    this.#levels = levels
    this.#levelFirst = firsts
    const w = this.#begin(T_LADDER)
    this.#writeIntro(w)
    w.varint(levels.length)
    let prevTime = 0
    let prevCount = 0
    levels.forEach((level, k) => {
      w.varint(k === 0 ? level.time : prevTime - level.time)
      w.varint(level.count - prevCount)
      w.u32(level.f0)
      w.u32(level.f1)
      w.u8(level.sample & 0xff)
      w.u8((level.sample >>> 8) & 0xff)
      prevTime = level.time
      prevCount = level.count
    })
    return this.#end(w, 1 << T_CUT)
  }

  // ---- responder: choosing the cut ---------------------------------------------------------

  #onLadder(r: Reader): Uint8Array {
    this.#readIntro(r)
    const count = r.varint('levels', MAX_LEVELS)
    if (count < 1) protocolError('empty ladder')
    const levels: Level[] = []
    let time = 0
    let suffix = 0
    for (let k = 0; k < count; k++) {
      const delta = r.varint('cut time', MAX_TIME)
      time = k === 0 ? delta : time - delta
      if (time < 0) protocolError('cut time below zero')
      const more = r.varint('cut count', this.#peerCount)
      if (more < 1) protocolError('ladder counts must increase')
      suffix += more
      if (suffix > this.#peerCount) protocolError('ladder count above the peer count')
      const f0 = r.i32('cut fingerprint')
      const f1 = r.i32('cut fingerprint')
      const sample = r.u8('sample') | (r.u8('sample') << 8)
      levels.push({ time, count: suffix, f0, f1, sample })
    }
    r.done()
    this.#levels = levels
    const snap = this.#snap
    const size = snap.times.length
    const lanes = new Lanes()
    let summed = size
    let chosen = -1
    let chosenFirst = 0
    let equal = false
    for (let k = 0; k < count; k++) {
      const level = levels[k]!
      // My window must hold every item at or after the cut.
      if (level.time < snap.floor) break
      const first = firstAtOrAfter(snap.times, level.time)
      while (summed > first) {
        summed--
        lanes.addItem(snap.lo[summed]!, snap.hi[summed]!)
      }
      let present = false
      for (let i = first; i < size && snap.times[i] === level.time && !present; i++)
        present = (snap.lo[i]! & 0xffff) === level.sample
      const olderEqual =
        this.#peerCount - level.count === this.#myCount - (size - first) &&
        ((this.#peerLanes.f0 - level.f0) | 0) === ((this.#myLanes.f0 - lanes.f0) | 0) &&
        ((this.#peerLanes.f1 - level.f1) | 0) === ((this.#myLanes.f1 - lanes.f1) | 0)
      chosen = k
      chosenFirst = first
      equal = olderEqual
      // The newest cut whose sample I hold: the recent differences end there.
      if (present) break
    }
    if (chosen >= 0 && this.#limit > 0) {
      const cost = 8 * levels[chosen]!.count + ((RICE_BITS + 3) * (size - chosenFirst)) / 8
      if (cost + 512 > this.#limit / 2) chosen = -1
    }
    if (this.#limit > 0) this.#inner.limitMessages(this.#limit >> 1)
    const w = this.#begin(T_CUT)
    this.#writeIntro(w)
    if (chosen < 0) {
      // No usable cut: the symbol session over everything.
      w.varint(0)
      this.#recentDiffering = []
      this.#innerUsed = true
      this.#writeInner(w, this.#innerInitiate())
      return this.#end(w, 1 << T_INNER)
    }
    this.#cutFirst = chosenFirst
    this.#cutTime = levels[chosen]!.time
    this.#olderEqual = equal
    this.#peerSuffix = levels[chosen]!.count
    w.varint(chosen + 1)
    w.u8(equal ? 1 : 0)
    w.varint(size - chosenFirst)
    writeGcs(w, snap.lo, snap.hi, chosenFirst, size)
    // The older items differ too: the symbol session over them starts now (saves a round),
    // unless the peer holds many more older items than I do. The side that starts decodes and
    // lists the other side's differing ids (8 bytes each), so the peer had better start then.
    const peerOlderSurplus =
      this.#peerCount - levels[chosen]!.count - (this.#myCount - (size - chosenFirst))
    if (equal || peerOlderSurplus > PEER_STARTS_SURPLUS) this.#writeInner(w, null)
    else {
      this.#innerUsed = true
      this.#inner.exclude(idsOf(snap, chosenFirst, size))
      this.#writeInner(w, this.#innerInitiate())
    }
    return this.#end(w, 1 << T_RUN)
  }

  // ---- initiator: matching my recent items against the peer's set ---------------------------

  #onCut(r: Reader): Uint8Array | null {
    this.#readIntro(r)
    const level = r.varint('cut level', this.#levels.length)
    const snap = this.#snap
    const size = snap.times.length
    if (level === 0) {
      const inner = this.#readInner(r)
      r.done()
      if (inner === null) protocolError('no symbols without a cut')
      this.#recentDiffering = []
      this.#innerUsed = true
      return this.#innerReply(this.#innerStep(inner))
    }
    const equalByte = r.u8('older equal')
    if (equalByte > 1) protocolError('bad older-equal flag')
    const equal = equalByte === 1
    const peerSuffix = r.varint('peer suffix count', this.#peerCount)
    const set = readGcs(r, peerSuffix)
    const inner = this.#readInner(r)
    r.done()
    if (equal && inner !== null) protocolError('symbols although the older items are equal')
    const first = this.#levelFirst[level - 1]!
    this.#cutFirst = first
    this.#cutTime = this.#levels[level - 1]!.time
    this.#olderEqual = equal
    const matched = (i: number) =>
      peerSuffix > 0 && set.has(gcsValue(snap.lo[i]!, snap.hi[i]!, peerSuffix))
    // The leading run of matches settles as one fingerprint, when the older items are equal.
    let runEnd = first
    let tau = 0
    if (equal) {
      let i = first
      while (i < size && matched(i)) i++
      if (i === size) runEnd = size
      else {
        tau = snap.times[i]! - this.#cutTime + 1
        runEnd = firstAtOrAfter(snap.times, snap.times[i]!)
      }
    } else tau = 1
    this.#runEnd = runEnd
    const mine: number[] = []
    const maybe: number[] = []
    for (let i = runEnd; i < size; i++) (matched(i) ? maybe : mine).push(i)
    this.#maybe = maybe
    this.#recentPending = mine
    const w = this.#begin(T_RUN)
    w.varint(tau)
    w.varint(runEnd - first)
    const run = lanesOf(snap, first, runEnd)
    w.ensure(16)
    writeLanes(w.bytes, w.length, run)
    w.length += 16
    w.varint(maybe.length)
    for (const i of maybe) {
      w.u32(snap.lo[i]!)
      w.u32(snap.hi[i]!)
    }
    if (equal) this.#writeInner(w, null)
    else {
      this.#innerUsed = true
      this.#inner.exclude(idsOf(snap, first, size))
      // The peer started the symbol session, or left it to me.
      const reply = inner === null ? this.#innerInitiate() : this.#innerStep(inner)
      if (reply === null) protocolError('the symbol session has no reply to its first message')
      this.#writeInner(w, reply)
    }
    return this.#end(w, 1 << T_RESOLVE)
  }

  // ---- responder: settling the recent items ------------------------------------------------

  #onRun(r: Reader): Uint8Array {
    const snap = this.#snap
    const size = snap.times.length
    const tau = r.varint('run end', MAX_TIME)
    const run = r.varint('run count', this.#peerSuffix)
    const runLanes = readLanes(r.raw(16, 'run fingerprint'), 0, new Lanes())
    const m = r.varint('matched count', this.#peerSuffix - run)
    r.need(8 * m, 'matched ids')
    const ids = new IdMap(m)
    const order: [number, number][] = []
    for (let i = 0; i < m; i++) {
      const lo = r.i32('id')
      const hi = r.i32('id')
      if (!ids.add(lo, hi, i)) protocolError('duplicate matched id')
      order.push([lo, hi])
    }
    const inner = this.#readInner(r)
    r.done()
    if (!this.#olderEqual && (tau !== 1 || run !== 0))
      protocolError('a run only when the older items are equal')
    if ((inner !== null) !== !this.#olderEqual)
      protocolError('symbols must come exactly when older items differ')
    const end = tau === 0 ? Number.POSITIVE_INFINITY : this.#cutTime + tau - 1
    if (tau !== 0 && end > MAX_TIME) protocolError('run end out of range')
    const runEnd = end === Number.POSITIVE_INFINITY ? size : firstAtOrAfter(snap.times, end)
    // My items after the run: held by the peer exactly when it sent their id.
    const mineAfter = new IdMap(size - runEnd)
    const differing: number[] = []
    for (let i = runEnd; i < size; i++) {
      mineAfter.add(snap.lo[i]!, snap.hi[i]!, i)
      if (!ids.has(snap.lo[i]!, snap.hi[i]!)) differing.push(i)
    }
    const bitmap = new Uint8Array((m + 7) >> 3)
    order.forEach(([lo, hi], i) => {
      if (mineAfter.has(lo, hi)) bitmap[i >> 3] = bitmap[i >> 3]! | (1 << (i & 7))
    })
    const w = this.#begin(T_RESOLVE)
    w.raw(bitmap)
    if (!this.#olderEqual) {
      this.#recentDiffering = differing
      if (!this.#innerUsed) {
        this.#innerUsed = true
        this.#inner.exclude(idsOf(snap, this.#cutFirst, size))
      }
      const reply = this.#innerStep(inner!)
      w.u8(reply === null ? NEXT_NONE : NEXT_INNER)
      if (reply !== null) this.#writeInner(w, reply)
      return this.#end(w, reply === null ? 0 : 1 << T_INNER)
    }
    // The older items are equal: the run is settled if my run's first `run` items are the
    // peer's run (then my later items in the run are mine alone).
    const extra = runEnd - this.#cutFirst - run
    if (extra >= 0 && lanesOf(snap, this.#cutFirst, this.#cutFirst + run).equals(runLanes)) {
      for (let i = this.#cutFirst + run; i < runEnd; i++) differing.push(i)
      this.#recentDiffering = differing
      const lanes = new Lanes()
      for (const i of differing) lanes.addItem(snap.lo[i]!, snap.hi[i]!)
      w.u8(NEXT_CHECK)
      w.varint(differing.length)
      w.ensure(16)
      writeLanes(w.bytes, w.length, lanes)
      w.length += 16
      return this.#end(w, 0)
    }
    // The run does not match: the symbol session settles everything before the run's end.
    this.#recentDiffering = differing
    this.#innerUsed = true
    this.#inner.exclude(idsOf(snap, runEnd, size))
    w.u8(NEXT_INNER)
    this.#writeInner(w, this.#innerInitiate())
    return this.#end(w, 1 << T_INNER)
  }

  // ---- initiator: the outcome --------------------------------------------------------------

  #onResolve(r: Reader): Uint8Array | null {
    const snap = this.#snap
    const size = snap.times.length
    const m = this.#maybe.length
    const bitmap = r.raw((m + 7) >> 3, 'held bitmap')
    if ((m & 7) !== 0 && bitmap[m >> 3]! >>> (m & 7) !== 0)
      protocolError('nonzero padding in the held bitmap')
    const differing = this.#recentPending
    this.#maybe.forEach((index, i) => {
      if (((bitmap[i >> 3]! >>> (i & 7)) & 1) === 0) differing.push(index)
    })
    const next = r.u8('next')
    if (next === NEXT_CHECK) {
      if (this.#innerUsed) protocolError('whole-set check while symbols run')
      const peerDiffering = r.varint('peer differing count', this.#peerCount)
      const peerLanes = readLanes(r.raw(16, 'peer differing fingerprint'), 0, new Lanes())
      r.done()
      // My set minus my differing items plus the peer's must be the peer's set.
      const lanes = new Lanes().copy(this.#myLanes)
      for (const i of differing) lanes.subItem(snap.lo[i]!, snap.hi[i]!)
      lanes.f0 = (lanes.f0 + peerLanes.f0) | 0
      lanes.f1 = (lanes.f1 + peerLanes.f1) | 0
      lanes.f2 = (lanes.f2 + peerLanes.f2) | 0
      lanes.f3 = (lanes.f3 + peerLanes.f3) | 0
      if (
        this.#myCount - differing.length + peerDiffering !== this.#peerCount ||
        !lanes.equals(this.#peerLanes)
      )
        protocolError('recent items fail the whole-set check')
      this.#recentDiffering = differing
      return null
    }
    if (next === NEXT_NONE) {
      r.done()
      if (!this.#innerDone) protocolError('the symbol session is not done')
      this.#recentDiffering = differing
      return null
    }
    if (next !== NEXT_INNER) protocolError(`unknown step ${next}`)
    const inner = this.#readInner(r)
    r.done()
    if (inner === null) protocolError('missing symbols')
    if (!this.#innerUsed) {
      // The peer's run did not match: the symbol session over everything before its end.
      this.#innerUsed = true
      this.#inner.exclude(idsOf(snap, this.#runEnd, size))
    }
    this.#recentDiffering = differing
    return this.#innerReply(this.#innerStep(inner))
  }
}

/** Version byte of the messages of a session that runs the coded-symbol protocol alone. */
export { PROTOCOL_VERSION } from './symbol-session.js'
export type { ReconcileSessionOptions, ReconcileStats, ReconcileStep }
export { MIN_MESSAGE_SIZE }
