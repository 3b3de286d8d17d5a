// The model of the convergence checker: every acknowledged operation with the dots it created
// and the dots it removed, the safety invariants each state a replica holds must satisfy, and the
// state every replica must converge to. It relies on @mendsync/core only for dot and context
// arithmetic; cart quantities and register siblings are derived here from the recorded
// operations, independently of the engine.
import {
  type CausalContext,
  type CausalValue,
  compareDots,
  compareTimestamps,
  contextHas,
  contextIncludes,
  type Data,
  type Dot,
  dataEquals,
  readCart,
  readRegister,
  type Timestamp,
} from '@mendsync/core'

/** Where a live entry sits in a key's state. */
export type Field = 'register' | 'sets' | 'adds' | 'meta'

/** One live entry of a state: the dot that created it and what it holds. */
export interface Entry {
  readonly dot: Dot
  readonly field: Field
  /** The cart line (undefined for a register sibling). */
  readonly sku: string | undefined
  readonly value: Data
  /** The writer's clock reading (register siblings only). */
  readonly time: Timestamp | undefined
}

/** One acknowledged operation. */
export interface OpRecord {
  readonly id: number
  /** The replica (its index in the world) that performed it. */
  readonly replica: number
  readonly key: string
  /** How the operation reads in a failure report, e.g. `#12 r1 add(cart/0, a, 2)`. */
  readonly label: string
  /** The entries it created, by dot. */
  readonly created: ReadonlyMap<string, Entry>
  /** Dots it removed from the state it ran on (the contributions a cart operation observed). */
  readonly removed: ReadonlySet<string>
  /** For register writes with a context and deletes: every dot this context saw is superseded. */
  readonly supersedes: CausalContext | undefined
}

export function dotKey(dot: Dot): string {
  return `${dot.replica}:${dot.counter}`
}

/** The live entries of a state, by dot. */
export function liveEntries(state: CausalValue): Map<string, Entry> {
  const out = new Map<string, Entry>()
  for (const e of state.register) {
    const dot = { replica: e.replica, counter: e.counter }
    out.set(dotKey(dot), {
      dot,
      field: 'register',
      sku: undefined,
      value: e.value.value,
      time: e.value.time,
    })
  }
  for (const [sku, line] of state.cart) {
    for (const field of ['sets', 'adds', 'meta'] as const) {
      for (const e of line[field]) {
        const dot = { replica: e.replica, counter: e.counter }
        out.set(dotKey(dot), { dot, field, sku, value: e.value, time: undefined })
      }
    }
  }
  return out
}

/** Every dot a context has seen: its version-vector prefixes and its cloud. */
export function contextDots(context: CausalContext): Dot[] {
  const dots: Dot[] = []
  for (const [replica, counter] of context.versionVector) {
    for (let i = 1; i <= counter; i++) dots.push({ replica, counter: i })
  }
  for (const [replica, counters] of context.cloud) {
    for (const counter of counters) dots.push({ replica, counter })
  }
  return dots
}

export function entryEquals(a: Entry, b: Entry): boolean {
  return (
    a.field === b.field &&
    a.sku === b.sku &&
    dataEquals(a.value, b.value) &&
    (a.time === undefined
      ? b.time === undefined
      : b.time !== undefined && compareTimestamps(a.time, b.time) === 0)
  )
}

function sameData(a: Data | undefined, b: Data | undefined): boolean {
  return a === undefined || b === undefined ? a === b : dataEquals(a, b)
}

export function describeEntry(e: Entry): string {
  const where = e.field === 'register' ? 'sibling' : `${e.sku}.${e.field}`
  return `${dotKey(e.dot)} ${where}=${JSON.stringify(e.value)}`
}

/** What `op` removed: `dot` is among the contributions it observed, or its context saw it. */
export function removes(op: OpRecord, dot: Dot): boolean {
  return (
    op.removed.has(dotKey(dot)) || (op.supersedes !== undefined && contextHas(op.supersedes, dot))
  )
}

/** The cart lines the recorded operations say a cart holds, computed from its live entries. */
export function cartFromEntries(entries: Iterable<Entry>) {
  const lines = new Map<string, { sets: Entry[]; adds: Entry[]; meta: Entry[] }>()
  for (const e of entries) {
    if (e.field === 'register' || e.sku === undefined) continue
    const line = lines.get(e.sku) ?? { sets: [], adds: [], meta: [] }
    line[e.field].push(e)
    lines.set(e.sku, line)
  }
  return [...lines.keys()].sort().map((sku) => {
    const line = lines.get(sku) as { sets: Entry[]; adds: Entry[]; meta: Entry[] }
    // The documented rule: quantity = max(live set-quantities, or 0) + sum(live adds).
    const qty =
      Math.max(0, ...line.sets.map((e) => e.value as number)) +
      line.adds.reduce((sum, e) => sum + (e.value as number), 0)
    const metas = [...line.meta].sort((x, y) => compareDots(x.dot, y.dot))
    return {
      sku,
      qty,
      meta: metas.at(-1)?.value,
      // Distinct values, each at its first occurrence in dot order.
      metaSiblings: metas
        .map((e) => e.value)
        .filter((value, i, all) => all.findIndex((other) => sameData(other, value)) === i),
    }
  })
}

/**
 * The acknowledged operations of a run, and the invariants derived from them. Every operation is
 * recorded when its replica persists it (the subscriber sees the local change), before any other
 * replica can see it.
 */
export class Model {
  readonly ops: OpRecord[] = []
  private readonly byKey = new Map<string, OpRecord[]>()
  /** Per key, per dot: the operation that created it and the entry. */
  private readonly created = new Map<string, Map<string, { op: OpRecord; entry: Entry }>>()
  private nextId = 1

  newId(): number {
    return this.nextId++
  }

  record(op: OpRecord): void {
    this.ops.push(op)
    const list = this.byKey.get(op.key) ?? []
    list.push(op)
    this.byKey.set(op.key, list)
    const created = this.created.get(op.key) ?? new Map()
    for (const [key, entry] of op.created) created.set(key, { op, entry })
    this.created.set(op.key, created)
  }

  opsOn(key: string): readonly OpRecord[] {
    return this.byKey.get(key) ?? []
  }

  keys(): string[] {
    return [...this.byKey.keys()].sort()
  }

  creatorOf(key: string, dot: Dot): { op: OpRecord; entry: Entry } | undefined {
    return this.created.get(key)?.get(dotKey(dot))
  }

  removersOf(key: string, dot: Dot): OpRecord[] {
    return this.opsOn(key).filter((op) => removes(op, dot))
  }

  /**
   * The safety invariants of one state `state` of `key` that replica `replica` persisted
   * (`previous` is the state it held before). Returns the violations found.
   * - Monotonic: the context only grows.
   * - No invented data: every dot of the context and every live entry was created by an
   *   acknowledged operation, and each live entry holds what that operation wrote.
   * - No lost write: a dot the context has seen but the store no longer holds was removed by
   *   some acknowledged operation.
   * - No resurrection: an entry is not live once the state has seen an operation that removed
   *   it (the state has seen a dot that operation created, or the operation ran on this replica).
   */
  checkState(
    replica: number,
    key: string,
    state: CausalValue,
    previous: CausalValue | undefined,
  ): string[] {
    const problems: string[] = []
    if (previous !== undefined && !contextIncludes(state.context, previous.context)) {
      problems.push(`${key} at r${replica}: the context shrank (not monotonic)`)
    }
    const live = liveEntries(state)
    for (const dot of contextDots(state.context)) {
      const creator = this.creatorOf(key, dot)
      if (creator === undefined) {
        problems.push(`${key} at r${replica}: dot ${dotKey(dot)} no acknowledged operation created`)
        continue
      }
      if (!live.has(dotKey(dot)) && this.removersOf(key, dot).length === 0) {
        problems.push(
          `${key} at r${replica}: lost write: ${describeEntry(creator.entry)} of ${creator.op.label} ` +
            'was seen but is gone, and no operation removed it',
        )
      }
    }
    for (const entry of live.values()) {
      const creator = this.creatorOf(key, entry.dot)
      if (creator === undefined) {
        problems.push(`${key} at r${replica}: live ${describeEntry(entry)} was never written`)
        continue
      }
      if (!entryEquals(creator.entry, entry)) {
        problems.push(
          `${key} at r${replica}: live ${describeEntry(entry)} differs from what ` +
            `${creator.op.label} wrote (${describeEntry(creator.entry)})`,
        )
      }
      for (const remover of this.removersOf(key, entry.dot)) {
        const seen =
          remover.replica === replica ||
          [...remover.created.values()].some((c) => contextHas(state.context, c.dot))
        if (seen) {
          problems.push(
            `${key} at r${replica}: resurrected ${describeEntry(entry)}: ${remover.label} ` +
              'removed it and this state has seen that operation',
          )
        }
      }
    }
    return problems
  }

  /** The entries every replica must hold at the end: all created, minus all removed. */
  expectedEntries(key: string): Map<string, Entry> {
    const out = new Map<string, Entry>()
    for (const [dot, { entry }] of this.created.get(key) ?? []) {
      if (this.removersOf(key, entry.dot).length === 0) out.set(dot, entry)
    }
    return out
  }

  /**
   * Compares a converged state of `key` with the model: exactly the expected live entries; for
   * a cart, the lines the documented quantity rule gives; for a register, exactly the
   * acknowledged writes no later write or delete superseded.
   */
  checkFinal(key: string, state: CausalValue): string[] {
    const problems: string[] = []
    const expected = this.expectedEntries(key)
    const actual = liveEntries(state)
    for (const [dot, entry] of expected) {
      const got = actual.get(dot)
      const creator = this.creatorOf(key, entry.dot)
      if (got === undefined) {
        problems.push(
          `${key}: ${describeEntry(entry)} of ${creator?.op.label} is lost: no operation removed it`,
        )
      } else if (!entryEquals(got, entry)) {
        problems.push(`${key}: ${describeEntry(got)} should be ${describeEntry(entry)}`)
      }
    }
    for (const [dot, entry] of actual) {
      if (expected.has(dot)) continue
      const removers = this.removersOf(key, entry.dot).map((op) => op.label)
      problems.push(
        removers.length > 0
          ? `${key}: ${describeEntry(entry)} is live although ${removers.join(', ')} removed it`
          : `${key}: ${describeEntry(entry)} is live but no acknowledged operation wrote it`,
      )
    }
    const lines = cartFromEntries(expected.values())
    const got = readCart(state)
    const sameLines =
      got.length === lines.length &&
      got.every((line, i) => {
        const want = lines[i]
        return (
          want !== undefined &&
          line.sku === want.sku &&
          line.qty === want.qty &&
          sameData(line.meta, want.meta) &&
          line.metaSiblings.length === want.metaSiblings.length &&
          line.metaSiblings.every((meta, j) => sameData(meta, want.metaSiblings[j]))
        )
      })
    if (!sameLines) {
      problems.push(
        `${key}: cart reads ${JSON.stringify(got)}, the model says ${JSON.stringify(lines)}`,
      )
    }
    const siblings = [...expected.values()]
      .filter((e) => e.field === 'register')
      .sort((x, y) => compareDots(x.dot, y.dot))
    const read = readRegister(state).siblings
    const sameSiblings =
      read.length === siblings.length &&
      read.every((sibling, i) => {
        const want = siblings[i]
        return (
          want !== undefined &&
          compareDots(sibling.dot, want.dot) === 0 &&
          dataEquals(sibling.value, want.value)
        )
      })
    if (!sameSiblings) {
      const show = (list: readonly { dot: Dot; value: Data }[]) =>
        JSON.stringify(list.map((s) => `${dotKey(s.dot)}=${JSON.stringify(s.value)}`))
      problems.push(`${key}: register siblings ${show(read)}, the model says ${show(siblings)}`)
    }
    return problems
  }
}
