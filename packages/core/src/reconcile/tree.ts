// The reconciliation tree: a key-ordered B+-tree over items `(key, stateHash)`. Leaves keep keys
// in a plain array and the 64-bit item ids in an Int32Array (no per-item objects, no stored state
// hashes). Every node keeps its item count and an additive fingerprint: four 32-bit lanes, each
// the sum mod 2^32 of an independent 32-bit hash of the item ids below it (a 128-bit group sum).
// A write adds the item's change (new minus old lanes) to the nodes on its path: O(log N), no
// rehash of siblings, no rescans, no periodic rebuild. The tree also keeps, updated on each write,
// the first `symbolCache` rateless coded symbols of the whole set and the difference estimator,
// so a reconciliation with a small difference costs O(symbols), not O(N).

import { MendsyncError } from '../errors.js'
import { lowerBound, upperBound } from '../toolbox/lower-bound.js'
import {
  bytesHash32,
  type IdOut,
  itemIdInto,
  mix2,
  SEED_FP0,
  SEED_FP1,
  SEED_FP2,
  SEED_FP3,
} from './hash.js'
import { DEFAULT_RECENT_WINDOW, type RecentSnapshot, RecentWindow } from './recent.js'
import {
  applyItem,
  ESTIMATOR_CELLS,
  estimatorCell,
  estimatorValue,
  Symbols,
  Walk,
} from './symbols.js'
import { Reader, Writer } from './wire.js'

const LEAF_MAX = 128
const LEAF_MIN = 32
const BRANCH_MAX = 64
const BRANCH_MIN = 16
/** Bulk loads fill leaves and branches to 7/8, leaving room for inserts. */
const LEAF_FILL = 112
const BRANCH_FILL = 56

/** Default number of coded symbols the tree maintains on every write. */
export const DEFAULT_SYMBOL_CACHE = 4096
/** Largest accepted `symbolCache`. */
export const MAX_SYMBOL_CACHE = 1 << 20

/** Options of {@link ReconcileTree}. */
export interface ReconcileTreeOptions {
  /**
   * How many rateless coded symbols the tree maintains incrementally (default 4096, 64 KiB). A
   * session whose difference needs at most this many symbols (about 2,800 differing items) never
   * scans the tree; larger differences scan it once or a few times. Each write costs about
   * 2 ln(symbolCache) symbol updates. A local performance knob: peers need not agree on it.
   */
  readonly symbolCache?: number
  /**
   * How many of the most recently changed items (by the `time` given to {@link ReconcileTree.set})
   * the tree keeps in time order for the recency step of a session (default 131,072; it holds
   * between this many and twice as many). A local knob: peers need not agree on it.
   */
  readonly recentWindow?: number
  /**
   * False for a tree whose items may have times it was not given (e.g. built from stored state
   * hashes before the states' times are read): it then never offers the recency step, whose
   * answer relies on every peer giving the same state the same time. Default true.
   */
  readonly recency?: boolean
}

/** Options of {@link ReconcileTree.fromSorted}. */
export interface ReconcileTreeBuildOptions extends ReconcileTreeOptions {
  /** The time of last change of `keys[i]` (see {@link ReconcileTree.set}); NaN for none. */
  readonly times?: ArrayLike<number>
}

/** Count and additive fingerprint of a range of items. */
export interface RangeFingerprint {
  readonly count: number
  /** 16 bytes: the four 32-bit lanes, little-endian. */
  readonly fingerprint: Uint8Array
}

const TREE_MAGIC = [0x4d, 0x53, 0x52, 0x54] // "MSRT"
const TREE_FORMAT_VERSION = 1
/** Version byte of the gossip summary. */
export const SUMMARY_VERSION = 1

class Node {
  leaf: boolean
  /** Leaf: the item keys, ascending. Branch: separators; keys[i] = smallest key of children[i+1]. */
  keys: string[]
  /** Leaf: item ids, [lo0, hi0, lo1, hi1, ...]; capacity LEAF_MAX + 1 items. */
  ids: Int32Array
  /** Branch: the children. */
  children: Node[]
  count: number
  f0 = 0
  f1 = 0
  f2 = 0
  f3 = 0

  constructor(leaf: boolean, keys: string[], ids: Int32Array, children: Node[], count: number) {
    this.leaf = leaf
    this.keys = keys
    this.ids = ids
    this.children = children
    this.count = count
  }
}

const NO_IDS = new Int32Array(0)

function newLeaf(keys: string[]): Node {
  return new Node(true, keys, new Int32Array(2 * (LEAF_MAX + 1)), [], keys.length)
}

/** Fingerprint lanes of one item, or a sum of items. */
export class Lanes {
  f0 = 0
  f1 = 0
  f2 = 0
  f3 = 0

  /** Sets the lanes to those of item id `(lo, hi)`. */
  of(lo: number, hi: number): this {
    this.f0 = mix2(lo, hi, SEED_FP0)
    this.f1 = mix2(lo, hi, SEED_FP1)
    this.f2 = mix2(lo, hi, SEED_FP2)
    this.f3 = mix2(lo, hi, SEED_FP3)
    return this
  }

  clear(): this {
    this.f0 = 0
    this.f1 = 0
    this.f2 = 0
    this.f3 = 0
    return this
  }

  /** Adds the lanes of item `(lo, hi)`. */
  addItem(lo: number, hi: number): void {
    this.f0 = (this.f0 + mix2(lo, hi, SEED_FP0)) | 0
    this.f1 = (this.f1 + mix2(lo, hi, SEED_FP1)) | 0
    this.f2 = (this.f2 + mix2(lo, hi, SEED_FP2)) | 0
    this.f3 = (this.f3 + mix2(lo, hi, SEED_FP3)) | 0
  }

  /** Subtracts the lanes of item `(lo, hi)`. */
  subItem(lo: number, hi: number): void {
    this.f0 = (this.f0 - mix2(lo, hi, SEED_FP0)) | 0
    this.f1 = (this.f1 - mix2(lo, hi, SEED_FP1)) | 0
    this.f2 = (this.f2 - mix2(lo, hi, SEED_FP2)) | 0
    this.f3 = (this.f3 - mix2(lo, hi, SEED_FP3)) | 0
  }

  equals(o: { f0: number; f1: number; f2: number; f3: number }): boolean {
    return this.f0 === o.f0 && this.f1 === o.f1 && this.f2 === o.f2 && this.f3 === o.f3
  }

  copy(o: { f0: number; f1: number; f2: number; f3: number }): this {
    this.f0 = o.f0
    this.f1 = o.f1
    this.f2 = o.f2
    this.f3 = o.f3
    return this
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(16)
    writeLanes(out, 0, this)
    return out
  }
}

export function writeLanes(
  out: Uint8Array,
  at: number,
  l: { f0: number; f1: number; f2: number; f3: number },
): void {
  const words = [l.f0, l.f1, l.f2, l.f3]
  for (let w = 0; w < 4; w++) {
    const v = words[w]!
    out[at + 4 * w] = v
    out[at + 4 * w + 1] = v >>> 8
    out[at + 4 * w + 2] = v >>> 16
    out[at + 4 * w + 3] = v >>> 24
  }
}

export function readLanes(bytes: Uint8Array, at: number, out: Lanes): Lanes {
  const w = (p: number) =>
    bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)
  out.f0 = w(at)
  out.f1 = w(at + 4)
  out.f2 = w(at + 8)
  out.f3 = w(at + 12)
  return out
}

function addNode(to: Node, from: { f0: number; f1: number; f2: number; f3: number }): void {
  to.f0 = (to.f0 + from.f0) | 0
  to.f1 = (to.f1 + from.f1) | 0
  to.f2 = (to.f2 + from.f2) | 0
  to.f3 = (to.f3 + from.f3) | 0
}

function subNode(to: Node, from: { f0: number; f1: number; f2: number; f3: number }): void {
  to.f0 = (to.f0 - from.f0) | 0
  to.f1 = (to.f1 - from.f1) | 0
  to.f2 = (to.f2 - from.f2) | 0
  to.f3 = (to.f3 - from.f3) | 0
}

/** Sum of the lanes of leaf items [from, to). */
function sumLeaf(leaf: Node, from: number, to: number, out: Lanes): Lanes {
  out.clear()
  const ids = leaf.ids
  for (let i = from; i < to; i++) out.addItem(ids[2 * i]!, ids[2 * i + 1]!)
  return out
}

/** A leaf as the session sees it. */
export interface LeafView {
  readonly keys: readonly string[]
  readonly ids: Int32Array
  readonly count: number
}

/** An item id, or absent. */
export type JournalEntry = { readonly lo: number; readonly hi: number } | null

/**
 * The state, when the journal was opened, of every key written since: a session's snapshot is
 * the current tree with these keys restored.
 */
export type Journal = Map<string, JournalEntry>

/** What the reconciliation session reads from a tree (not part of the public API). */
export interface TreeInternals {
  readonly symbols: Symbols
  readonly estimator: Int32Array
  /** The leaves in key order. */
  leaves(): LeafView[]
  lanes(): Lanes
  /** The recent items in time order. */
  recent(): RecentSnapshot
  /** Starts recording the prior state of every key written from now on. */
  openJournal(): Journal
  closeJournal(journal: Journal): void
}

let internalsOf: (tree: ReconcileTree) => TreeInternals

/** The session's view of a tree. */
export function treeInternals(tree: ReconcileTree): TreeInternals {
  return internalsOf(tree)
}

function invalid(message: string): never {
  throw new MendsyncError('INVALID_ARGUMENT', message)
}

function checkStateHash(stateHash: unknown): asserts stateHash is Uint8Array {
  if (!(stateHash instanceof Uint8Array) || stateHash.length !== 32)
    invalid('stateHash must be a 32-byte Uint8Array')
}

function checkTime(time: unknown): asserts time is number | undefined {
  if (time !== undefined && (!Number.isSafeInteger(time) || (time as number) < 0))
    invalid('time must be a non-negative safe integer')
}

/** Largest accepted `recentWindow`. */
export const MAX_RECENT_WINDOW = 1 << 22

function checkSymbolCache(options: ReconcileTreeOptions | undefined): number {
  const m = options?.symbolCache ?? DEFAULT_SYMBOL_CACHE
  if (!Number.isInteger(m) || m < 1 || m > MAX_SYMBOL_CACHE)
    invalid(`symbolCache must be an integer in [1, ${MAX_SYMBOL_CACHE}]`)
  return m
}

/**
 * A key-ordered set of items `(key, stateHash)` with O(log N) writes, counts, rank/select and
 * additive range fingerprints, plus the incrementally maintained symbols that
 * {@link ReconcileSession} uses. Writes may continue while sessions run: each session
 * reconciles the set as it was when the session was created.
 */
export class ReconcileTree {
  #root: Node = newLeaf([])
  #version = 0
  readonly #symbols: Symbols
  readonly #estimator = new Int32Array(ESTIMATOR_CELLS)
  readonly #walk = new Walk()
  readonly #path: Node[] = []
  readonly #pathIndex = new Int32Array(64)
  #depth = 0
  readonly #id: IdOut = { lo: 0, hi: 0 }
  readonly #lanes = new Lanes()
  readonly #lanes2 = new Lanes()
  /** Journals of running sessions (weakly held: an abandoned session costs nothing). */
  readonly #journals = new Set<WeakRef<Journal>>()
  readonly #recent: RecentWindow

  static {
    internalsOf = (tree) => tree.#internals()
  }

  constructor(options?: ReconcileTreeOptions) {
    this.#symbols = new Symbols(checkSymbolCache(options))
    const window = options?.recentWindow ?? DEFAULT_RECENT_WINDOW
    if (!Number.isInteger(window) || window < 1 || window > MAX_RECENT_WINDOW)
      invalid(`recentWindow must be an integer in [1, ${MAX_RECENT_WINDOW}]`)
    this.#recent = new RecentWindow(options?.recency === false ? 0 : window)
  }

  /** Number of items. */
  get size(): number {
    return this.#root.count
  }

  /** Incremented by every write that changes the set. */
  get version(): number {
    return this.#version
  }

  /** Number of coded symbols maintained on every write. */
  get symbolCache(): number {
    return this.#symbols.length
  }

  #internals(): TreeInternals {
    return {
      symbols: this.#symbols,
      estimator: this.#estimator,
      leaves: () => {
        const out: Node[] = []
        this.#collectLeaves(this.#root, out)
        return out
      },
      lanes: () => new Lanes().copy(this.#root),
      recent: () => this.#recent.snapshot(),
      openJournal: () => {
        const journal: Journal = new Map()
        this.#journals.add(new WeakRef(journal))
        return journal
      },
      closeJournal: (journal) => {
        for (const ref of this.#journals) {
          const j = ref.deref()
          if (j === undefined || j === journal) this.#journals.delete(ref)
        }
      },
    }
  }

  /** Records the state of `key` before a write, in every open journal that lacks it. */
  #record(key: string, entry: JournalEntry): void {
    for (const ref of this.#journals) {
      const journal = ref.deref()
      if (journal === undefined) this.#journals.delete(ref)
      else if (!journal.has(key)) journal.set(key, entry)
    }
  }

  #collectLeaves(node: Node, out: Node[]): void {
    if (node.leaf) {
      if (node.count > 0) out.push(node)
      return
    }
    for (const child of node.children) this.#collectLeaves(child, out)
  }

  #index(lo: number, hi: number, sign: number): void {
    const s = this.#symbols
    applyItem(s, this.#walk, lo, hi, sign, 0, s.length)
    const cell = estimatorCell(lo, hi)
    this.#estimator[cell] = this.#estimator[cell]! ^ estimatorValue(lo, hi)
  }

  #descend(key: string): Node {
    let node = this.#root
    let d = 0
    while (!node.leaf) {
      const i = upperBound(node.keys, key)
      this.#path[d] = node
      this.#pathIndex[d] = i
      d++
      node = node.children[i]!
    }
    this.#depth = d
    return node
  }

  /** True when `key` is present. */
  has(key: string): boolean {
    if (typeof key !== 'string') invalid('key must be a string')
    const leaf = this.#descend(key)
    const pos = lowerBound(leaf.keys, key)
    return pos < leaf.count && leaf.keys[pos] === key
  }

  /**
   * Inserts `key` with `stateHash` (32 bytes), or updates its state hash. Returns true when the
   * set changed. O(log N). `time` (a non-negative safe integer, e.g. the milliseconds of the
   * newest clock reading in the state) is the time of the state's last change: it must be a
   * function of the state, so that every peer holding the same state gives it the same time.
   * Items with a time are also kept in time order, which lets a session find differences among
   * the most recent changes almost for free; items without one are reconciled as before.
   */
  set(key: string, stateHash: Uint8Array, time?: number): boolean {
    if (typeof key !== 'string') invalid('key must be a string')
    checkStateHash(stateHash)
    checkTime(time)
    itemIdInto(key, stateHash, 0, this.#id)
    const { lo, hi } = this.#id
    const changed = this.#setId(key, lo, hi)
    this.#recent.set(key, lo, hi, time)
    return changed
  }

  #setId(key: string, lo: number, hi: number): boolean {
    const leaf = this.#descend(key)
    const pos = lowerBound(leaf.keys, key)
    const depth = this.#depth
    const path = this.#path
    const ids = leaf.ids
    const lanes = this.#lanes
    if (pos < leaf.count && leaf.keys[pos] === key) {
      const oldLo = ids[2 * pos]!
      const oldHi = ids[2 * pos + 1]!
      if (oldLo === lo && oldHi === hi) return false
      if (this.#journals.size > 0) this.#record(key, { lo: oldLo, hi: oldHi })
      ids[2 * pos] = lo
      ids[2 * pos + 1] = hi
      const old = this.#lanes2.of(oldLo, oldHi)
      lanes.of(lo, hi)
      lanes.f0 = (lanes.f0 - old.f0) | 0
      lanes.f1 = (lanes.f1 - old.f1) | 0
      lanes.f2 = (lanes.f2 - old.f2) | 0
      lanes.f3 = (lanes.f3 - old.f3) | 0
      addNode(leaf, lanes)
      for (let d = 0; d < depth; d++) addNode(path[d]!, lanes)
      this.#index(oldLo, oldHi, -1)
      this.#index(lo, hi, 1)
      this.#version++
      return true
    }
    if (this.#journals.size > 0) this.#record(key, null)
    leaf.keys.splice(pos, 0, key)
    ids.copyWithin(2 * pos + 2, 2 * pos, 2 * leaf.count)
    ids[2 * pos] = lo
    ids[2 * pos + 1] = hi
    leaf.count++
    lanes.of(lo, hi)
    addNode(leaf, lanes)
    for (let d = 0; d < depth; d++) {
      const node = path[d]!
      node.count++
      addNode(node, lanes)
    }
    this.#index(lo, hi, 1)
    this.#version++
    if (leaf.count > LEAF_MAX) this.#splitLeaf(leaf)
    return true
  }

  /** Removes `key`; returns true when it was present. O(log N). */
  delete(key: string): boolean {
    if (typeof key !== 'string') invalid('key must be a string')
    const leaf = this.#descend(key)
    const pos = lowerBound(leaf.keys, key)
    if (pos >= leaf.count || leaf.keys[pos] !== key) return false
    const depth = this.#depth
    const ids = leaf.ids
    const lo = ids[2 * pos]!
    const hi = ids[2 * pos + 1]!
    if (this.#journals.size > 0) this.#record(key, { lo, hi })
    this.#recent.delete(key)
    leaf.keys.splice(pos, 1)
    ids.copyWithin(2 * pos, 2 * pos + 2, 2 * leaf.count)
    leaf.count--
    ids[2 * leaf.count] = 0
    ids[2 * leaf.count + 1] = 0
    const lanes = this.#lanes.of(lo, hi)
    subNode(leaf, lanes)
    for (let d = 0; d < depth; d++) {
      const node = this.#path[d]!
      node.count--
      subNode(node, lanes)
    }
    this.#index(lo, hi, -1)
    this.#version++
    if (depth > 0 && leaf.count < LEAF_MIN) this.#rebalance(leaf, depth)
    return true
  }

  #splitLeaf(leaf: Node): void {
    const mid = leaf.count >> 1
    const right = newLeaf(leaf.keys.splice(mid))
    right.ids.set(leaf.ids.subarray(2 * mid, 2 * leaf.count))
    leaf.ids.fill(0, 2 * mid, 2 * leaf.count)
    leaf.count = mid
    const moved = sumLeaf(right, 0, right.count, this.#lanes)
    addNode(right, moved)
    subNode(leaf, moved)
    this.#insertChild(this.#depth - 1, right, right.keys[0]!)
  }

  /** Inserts `right` after the path child at `level` (a new root above the old one at -1). */
  #insertChild(level: number, right: Node, separator: string): void {
    if (level < 0) {
      const left = this.#root
      const root = new Node(false, [separator], NO_IDS, [left, right], left.count + right.count)
      addNode(root, left)
      addNode(root, right)
      this.#root = root
      return
    }
    const parent = this.#path[level]!
    const i = this.#pathIndex[level]!
    parent.children.splice(i + 1, 0, right)
    parent.keys.splice(i, 0, separator)
    if (parent.children.length <= BRANCH_MAX) return
    const mid = parent.children.length >> 1
    const children = parent.children.splice(mid)
    const keys = parent.keys.splice(mid)
    const up = parent.keys.pop()!
    const branch = new Node(false, keys, NO_IDS, children, 0)
    for (const child of children) {
      branch.count += child.count
      addNode(branch, child)
    }
    parent.count -= branch.count
    subNode(parent, branch)
    this.#insertChild(level - 1, branch, up)
  }

  /** Restores the minimum fill of `node` (at `depth` > 0 on the current path). */
  #rebalance(node: Node, depth: number): void {
    const parent = this.#path[depth - 1]!
    const i = this.#pathIndex[depth - 1]!
    const sep = i > 0 ? i - 1 : 0
    const left = parent.children[sep]!
    const right = parent.children[sep + 1]!
    const lanes = this.#lanes
    if (node.leaf) {
      if (left.count + right.count <= LEAF_MAX) {
        left.keys.push(...right.keys)
        left.ids.set(right.ids.subarray(0, 2 * right.count), 2 * left.count)
        left.count += right.count
        addNode(left, right)
        this.#removeChild(parent, depth - 1, sep)
        return
      }
      const target = (left.count + right.count) >> 1
      if (left.count < target) {
        const m = target - left.count
        const moved = sumLeaf(right, 0, m, lanes)
        left.ids.set(right.ids.subarray(0, 2 * m), 2 * left.count)
        right.ids.copyWithin(0, 2 * m, 2 * right.count)
        right.ids.fill(0, 2 * (right.count - m), 2 * right.count)
        left.keys.push(...right.keys.splice(0, m))
        left.count += m
        right.count -= m
        addNode(left, moved)
        subNode(right, moved)
      } else {
        const m = left.count - target
        const from = left.count - m
        const moved = sumLeaf(left, from, left.count, lanes)
        right.ids.copyWithin(2 * m, 0, 2 * right.count)
        right.ids.set(left.ids.subarray(2 * from, 2 * left.count), 0)
        left.ids.fill(0, 2 * from, 2 * left.count)
        right.keys.unshift(...left.keys.splice(from, m))
        left.count -= m
        right.count += m
        subNode(left, moved)
        addNode(right, moved)
      }
      parent.keys[sep] = right.keys[0]!
      return
    }
    if (left.children.length + right.children.length <= BRANCH_MAX) {
      left.keys.push(parent.keys[sep]!, ...right.keys)
      left.children.push(...right.children)
      left.count += right.count
      addNode(left, right)
      this.#removeChild(parent, depth - 1, sep)
      return
    }
    const target = (left.children.length + right.children.length) >> 1
    while (left.children.length < target) {
      const child = right.children.shift()!
      left.children.push(child)
      left.keys.push(parent.keys[sep]!)
      parent.keys[sep] = right.keys.shift()!
      left.count += child.count
      right.count -= child.count
      addNode(left, child)
      subNode(right, child)
    }
    while (left.children.length > target) {
      const child = left.children.pop()!
      right.children.unshift(child)
      right.keys.unshift(parent.keys[sep]!)
      parent.keys[sep] = left.keys.pop()!
      left.count -= child.count
      right.count += child.count
      subNode(left, child)
      addNode(right, child)
    }
  }

  /** Removes child `sep + 1` (merged into child `sep`) of `parent` at `depth`. */
  #removeChild(parent: Node, depth: number, sep: number): void {
    parent.children.splice(sep + 1, 1)
    parent.keys.splice(sep, 1)
    if (depth === 0) {
      if (parent.children.length === 1) this.#root = parent.children[0]!
      return
    }
    if (parent.children.length < BRANCH_MIN) this.#rebalance(parent, depth)
  }

  /** Number of keys strictly less than `key`. O(log N). */
  rank(key: string): number {
    if (typeof key !== 'string') invalid('key must be a string')
    let node = this.#root
    let r = 0
    while (!node.leaf) {
      const i = upperBound(node.keys, key)
      for (let c = 0; c < i; c++) r += node.children[c]!.count
      node = node.children[i]!
    }
    return r + lowerBound(node.keys, key)
  }

  /** The key of rank `rank` (0-based, in key order). O(log N). */
  select(rank: number): string {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size)
      invalid(`rank must be an integer in [0, ${this.size})`)
    let node = this.#root
    let r = rank
    while (!node.leaf) {
      for (const child of node.children) {
        if (r < child.count) {
          node = child
          break
        }
        r -= child.count
      }
    }
    return node.keys[r]!
  }

  /** Lanes of the first `rank` items. */
  #prefix(rank: number, out: Lanes): Lanes {
    out.clear()
    let node = this.#root
    let r = rank
    if (r >= node.count) return out.copy(node)
    while (!node.leaf) {
      for (const child of node.children) {
        if (r < child.count) {
          node = child
          break
        }
        r -= child.count
        out.f0 = (out.f0 + child.f0) | 0
        out.f1 = (out.f1 + child.f1) | 0
        out.f2 = (out.f2 + child.f2) | 0
        out.f3 = (out.f3 + child.f3) | 0
      }
    }
    const ids = node.ids
    if (r <= node.count >> 1) {
      for (let i = 0; i < r; i++) out.addItem(ids[2 * i]!, ids[2 * i + 1]!)
    } else {
      out.f0 = (out.f0 + node.f0) | 0
      out.f1 = (out.f1 + node.f1) | 0
      out.f2 = (out.f2 + node.f2) | 0
      out.f3 = (out.f3 + node.f3) | 0
      for (let i = r; i < node.count; i++) out.subItem(ids[2 * i]!, ids[2 * i + 1]!)
    }
    return out
  }

  /** The 16-byte additive fingerprint of the whole set. O(1). */
  fingerprint(): Uint8Array {
    return new Lanes().copy(this.#root).toBytes()
  }

  /** Count and fingerprint of the items of ranks `[fromRank, toRank)`. O(log N). */
  rangeFingerprint(fromRank: number, toRank: number): RangeFingerprint {
    const n = this.size
    if (!Number.isInteger(fromRank) || !Number.isInteger(toRank)) invalid('ranks must be integers')
    if (fromRank < 0 || fromRank > toRank || toRank > n)
      invalid(`need 0 <= fromRank <= toRank <= ${n}`)
    const a = this.#prefix(toRank, new Lanes())
    const b = this.#prefix(fromRank, new Lanes())
    a.f0 = (a.f0 - b.f0) | 0
    a.f1 = (a.f1 - b.f1) | 0
    a.f2 = (a.f2 - b.f2) | 0
    a.f3 = (a.f3 - b.f3) | 0
    return { count: toRank - fromRank, fingerprint: a.toBytes() }
  }

  /**
   * Count and fingerprint of the items with `lower <= key < upper` (`null`: unbounded).
   * O(log N).
   */
  keyRangeFingerprint(lower: string | null, upper: string | null): RangeFingerprint {
    const from = lower === null ? 0 : this.rank(lower)
    const to = upper === null ? this.size : this.rank(upper)
    return this.rangeFingerprint(from, Math.max(from, to))
  }

  /**
   * The gossip summary: version byte, 16-byte fingerprint, varint count (at most 22 bytes).
   * Equal summaries mean equal sets (up to a 2^-128 fingerprint collision): nothing to do.
   */
  summary(): Uint8Array {
    const w = new Writer(24)
    w.u8(SUMMARY_VERSION)
    w.raw(this.fingerprint())
    w.varint(this.size)
    return w.finish()
  }

  /** The keys in ascending order. */
  *keys(): IterableIterator<string> {
    const leaves: Node[] = []
    this.#collectLeaves(this.#root, leaves)
    for (const leaf of leaves) for (let i = 0; i < leaf.count; i++) yield leaf.keys[i]!
  }

  /**
   * The tree as bytes: keys (front-coded, UTF-16 code units as varints) and 64-bit item ids,
   * with a checksum. {@link ReconcileTree.load} rebuilds the tree from them in O(N). Times are
   * not part of it: a loaded tree has none until they are set again.
   */
  serialize(): Uint8Array {
    const leaves: Node[] = []
    this.#collectLeaves(this.#root, leaves)
    const w = new Writer(Math.max(64, this.size * 24))
    for (const b of TREE_MAGIC) w.u8(b)
    w.u8(TREE_FORMAT_VERSION)
    w.varint(this.#symbols.length)
    w.varint(this.size)
    let prev = ''
    for (const leaf of leaves) {
      for (let i = 0; i < leaf.count; i++) {
        const key = leaf.keys[i]!
        let shared = 0
        const max = Math.min(prev.length, key.length)
        while (shared < max && prev.charCodeAt(shared) === key.charCodeAt(shared)) shared++
        w.varint(shared)
        w.varint(key.length - shared)
        w.ensure(3 * (key.length - shared))
        for (let c = shared; c < key.length; c++) {
          const u = key.charCodeAt(c)
          if (u < 0x80) w.bytes[w.length++] = u
          else w.varint(u)
        }
        w.u32(leaf.ids[2 * i]!)
        w.u32(leaf.ids[2 * i + 1]!)
        prev = key
      }
    }
    w.u32(bytesHash32(w.bytes, 0, w.length))
    return w.finish()
  }

  /** Rebuilds a tree from {@link ReconcileTree.serialize} output. Throws DECODE_ERROR. */
  static load(bytes: Uint8Array, options?: ReconcileTreeOptions): ReconcileTree {
    if (!(bytes instanceof Uint8Array)) invalid('bytes must be a Uint8Array')
    const fail = (reason: string): never => {
      throw new MendsyncError('DECODE_ERROR', `reconcile tree: ${reason}`)
    }
    if (bytes.length < 4 + 1 + 2 + 4) fail('truncated')
    const end = bytes.length - 4
    const stored =
      bytes[end]! | (bytes[end + 1]! << 8) | (bytes[end + 2]! << 16) | (bytes[end + 3]! << 24)
    if (stored !== bytesHash32(bytes, 0, end)) fail('checksum mismatch')
    const r = new Reader(bytes, 'DECODE_ERROR', 'reconcile tree', 0, end)
    for (const b of TREE_MAGIC) if (r.u8('magic') !== b) fail('not a reconcile tree')
    const version = r.u8('version')
    if (version !== TREE_FORMAT_VERSION) fail(`unsupported format version ${version}`)
    const cache = r.varint('symbolCache', MAX_SYMBOL_CACHE)
    if (cache < 1) fail('symbolCache out of range')
    // Each item takes at least 10 bytes, which bounds the count before allocating.
    const n = r.varint('count', Math.floor(r.remaining / 10))
    const keys: string[] = new Array(n)
    const ids = new Int32Array(2 * n)
    let prev = ''
    const units: number[] = []
    for (let i = 0; i < n; i++) {
      const shared = r.varint('prefix length', prev.length)
      const rest = r.varint('suffix length', r.remaining)
      units.length = 0
      for (let c = 0; c < rest; c++) units.push(r.varint('code unit', 0xffff))
      let suffix = ''
      for (let c = 0; c < rest; c += 4096)
        suffix += String.fromCharCode(...units.slice(c, c + 4096))
      const key = shared === 0 ? suffix : prev.slice(0, shared) + suffix
      if (i > 0 && !(prev < key)) fail('keys are not strictly ascending')
      keys[i] = key
      ids[2 * i] = r.i32('id')
      ids[2 * i + 1] = r.i32('id')
      prev = key
    }
    r.done()
    const tree = new ReconcileTree({ symbolCache: options?.symbolCache ?? cache })
    tree.#build(keys, ids)
    return tree
  }

  /**
   * Bulk-loads a tree from items sorted by key (strictly ascending): `keys[i]` with state hash
   * `stateHashes[32 i .. 32 i + 32)`. O(N); about 0.5 s per million items.
   */
  static fromSorted(
    keys: readonly string[],
    stateHashes: Uint8Array,
    options?: ReconcileTreeBuildOptions,
  ): ReconcileTree {
    const tree = new ReconcileTree(options)
    if (!Array.isArray(keys)) invalid('keys must be an array')
    const times = options?.times
    if (times !== undefined && times.length !== keys.length)
      invalid('times must hold one time per key')
    if (!(stateHashes instanceof Uint8Array) || stateHashes.length !== 32 * keys.length)
      invalid('stateHashes must hold 32 bytes per key')
    const n = keys.length
    const ids = new Int32Array(2 * n)
    const out = tree.#id
    let prev = ''
    for (let i = 0; i < n; i++) {
      const key = keys[i]
      if (typeof key !== 'string') invalid('keys must be strings')
      if (i > 0 && !(prev < key)) invalid('keys must be strictly ascending')
      itemIdInto(key, stateHashes, 32 * i, out)
      ids[2 * i] = out.lo
      ids[2 * i + 1] = out.hi
      prev = key
    }
    tree.#build(keys, ids)
    if (times !== undefined) {
      const checked = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const time = times[i]!
        if (!Number.isNaN(time)) checkTime(time)
        checked[i] = time
      }
      tree.#recent.load(keys, ids, checked)
    }
    return tree
  }

  /**
   * Builds a tree from `(key, stateHash)` or `(key, stateHash, time)` entries in any order (a
   * later duplicate key wins).
   */
  static fromEntries(
    entries: Iterable<readonly [string, Uint8Array] | readonly [string, Uint8Array, number]>,
    options?: ReconcileTreeOptions,
  ): ReconcileTree {
    const map = new Map<string, readonly [Uint8Array, number]>()
    let timed = false
    for (const [key, stateHash, time] of entries) {
      if (typeof key !== 'string') invalid('keys must be strings')
      checkStateHash(stateHash)
      checkTime(time)
      if (time !== undefined) timed = true
      map.set(key, [stateHash, time ?? Number.NaN])
    }
    const keys = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const hashes = new Uint8Array(32 * keys.length)
    const times = new Float64Array(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const [hash, time] = map.get(keys[i]!)!
      hashes.set(hash, 32 * i)
      times[i] = time
    }
    return ReconcileTree.fromSorted(keys, hashes, timed ? { ...options, times } : options)
  }

  /** Replaces the content by sorted `keys` with `ids` (validated by the callers). */
  #build(keys: readonly string[], ids: Int32Array): void {
    const n = keys.length
    this.#version++
    if (n === 0) {
      this.#root = newLeaf([])
      return
    }
    const lanes = this.#lanes
    let level: Node[] = []
    let mins: string[] = []
    const leafCount = Math.ceil(n / LEAF_FILL)
    for (let l = 0; l < leafCount; l++) {
      const from = Math.floor((l * n) / leafCount)
      const to = Math.floor(((l + 1) * n) / leafCount)
      const leaf = newLeaf(keys.slice(from, to))
      leaf.ids.set(ids.subarray(2 * from, 2 * to))
      addNode(leaf, sumLeaf(leaf, 0, leaf.count, lanes))
      level.push(leaf)
      mins.push(keys[from]!)
    }
    const symbols = this.#symbols
    const walk = this.#walk
    const estimator = this.#estimator
    for (let i = 0; i < n; i++) {
      const lo = ids[2 * i]!
      const hi = ids[2 * i + 1]!
      applyItem(symbols, walk, lo, hi, 1, 0, symbols.length)
      const cell = estimatorCell(lo, hi)
      estimator[cell] = estimator[cell]! ^ estimatorValue(lo, hi)
    }
    while (level.length > 1) {
      const groups = Math.ceil(level.length / BRANCH_FILL)
      const next: Node[] = []
      const nextMins: string[] = []
      for (let g = 0; g < groups; g++) {
        const from = Math.floor((g * level.length) / groups)
        const to = Math.floor(((g + 1) * level.length) / groups)
        const children = level.slice(from, to)
        const branch = new Node(false, mins.slice(from + 1, to), NO_IDS, children, 0)
        for (const child of children) {
          branch.count += child.count
          addNode(branch, child)
        }
        next.push(branch)
        nextMins.push(mins[from]!)
      }
      level = next
      mins = nextMins
    }
    this.#root = level[0]!
  }

  /**
   * Checks every structural invariant and recomputes every aggregate from the items (O(N));
   * throws an Error describing the first violation. For tests.
   */
  checkInvariants(): void {
    const check = (node: Node, lower: string | null, upper: string | null, root: boolean) => {
      const lanes = new Lanes()
      if (node.leaf) {
        if (node.keys.length !== node.count) throw new Error('leaf count mismatch')
        if (!root && node.count < LEAF_MIN) throw new Error('leaf underfull')
        if (node.count > LEAF_MAX) throw new Error('leaf overfull')
        for (let i = 0; i < node.count; i++) {
          const k = node.keys[i]!
          if (i > 0 && !(node.keys[i - 1]! < k)) throw new Error('leaf keys out of order')
          if (lower !== null && k < lower) throw new Error('key below separator')
          if (upper !== null && k >= upper) throw new Error('key above separator')
          lanes.addItem(node.ids[2 * i]!, node.ids[2 * i + 1]!)
        }
        if (!lanes.equals(node)) throw new Error('leaf fingerprint mismatch')
        return
      }
      const c = node.children.length
      if (node.keys.length !== c - 1) throw new Error('separator count mismatch')
      if (c > BRANCH_MAX) throw new Error('branch overfull')
      if (root ? c < 2 : c < BRANCH_MIN) throw new Error('branch underfull')
      let count = 0
      for (let i = 0; i < c; i++) {
        const child = node.children[i]!
        check(
          child,
          i === 0 ? lower : node.keys[i - 1]!,
          i === c - 1 ? upper : node.keys[i]!,
          false,
        )
        count += child.count
        lanes.f0 = (lanes.f0 + child.f0) | 0
        lanes.f1 = (lanes.f1 + child.f1) | 0
        lanes.f2 = (lanes.f2 + child.f2) | 0
        lanes.f3 = (lanes.f3 + child.f3) | 0
      }
      if (count !== node.count) throw new Error('branch count mismatch')
      if (!lanes.equals(node)) throw new Error('branch fingerprint mismatch')
    }
    check(this.#root, null, null, true)
    const symbols = new Symbols(this.#symbols.length)
    const estimator = new Int32Array(ESTIMATOR_CELLS)
    const leaves: Node[] = []
    this.#collectLeaves(this.#root, leaves)
    for (const leaf of leaves) {
      for (let i = 0; i < leaf.count; i++) {
        const lo = leaf.ids[2 * i]!
        const hi = leaf.ids[2 * i + 1]!
        applyItem(symbols, this.#walk, lo, hi, 1, 0, symbols.length)
        const cell = estimatorCell(lo, hi)
        estimator[cell] = estimator[cell]! ^ estimatorValue(lo, hi)
      }
    }
    const same = (a: Int32Array, b: Int32Array) => a.every((v, i) => v === b[i])
    if (
      !same(symbols.lo, this.#symbols.lo) ||
      !same(symbols.hi, this.#symbols.hi) ||
      !same(symbols.check, this.#symbols.check) ||
      !same(symbols.count, this.#symbols.count)
    )
      throw new Error('symbol cache mismatch')
    if (!same(estimator, this.#estimator)) throw new Error('estimator mismatch')
  }
}

/** A decoded gossip summary. */
export interface Summary {
  readonly count: number
  readonly fingerprint: Uint8Array
}

/** Decodes a gossip summary ({@link ReconcileTree.summary}); throws DECODE_ERROR. */
export function decodeSummary(bytes: Uint8Array): Summary {
  if (!(bytes instanceof Uint8Array)) invalid('summary must be a Uint8Array')
  const r = new Reader(bytes, 'DECODE_ERROR', 'reconcile summary')
  const version = r.u8('version')
  if (version !== SUMMARY_VERSION) r.fail(`unsupported version ${version}`)
  const fingerprint = r.raw(16, 'fingerprint').slice()
  const count = r.varint('count', 2 ** 48)
  r.done()
  return { count, fingerprint }
}

/** True when two gossip summaries are equal: the sets are equal and no session is needed. */
export function summariesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
