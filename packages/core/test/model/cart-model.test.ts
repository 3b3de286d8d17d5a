// Model-based test of the cart: each replica's model is a pair of tag sets, as in riak_dt's
// ORSWOT model: the tags every operation added, and the tags every remove observed. A tag is
// live when it was added and never observed by a remove; merging replicas is the union of both
// sets. The implementation must read exactly what the model reads, on every replica, after every
// command, and all replicas must equal the model once everything has been merged.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type CartLine,
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  type Data,
  type DeltaMutation,
  emptyValue,
  encodeValue,
  isMendsyncError,
  joinValues,
  readCart,
} from '../../src/index.js'

const REPLICAS = ['r1', 'r2', 'r3'] as const
const SKUS = ['apple', 'pear'] as const

interface Tag {
  readonly replica: string
  readonly counter: number
  readonly sku: string
  readonly kind: 'add' | 'set' | 'meta'
  readonly value: number | string
}

const tagId = (t: { replica: string; counter: number }) => `${t.replica}#${t.counter}`

/** One operation's effect on the tag sets (what a delta carries in the model). */
interface TagOp {
  readonly added: readonly Tag[]
  readonly removed: readonly string[]
}

class ReplicaModel {
  readonly added = new Map<string, Tag>()
  readonly removed = new Set<string>()
  readonly log: TagOp[] = []

  live(sku: string): Tag[] {
    return [...this.added.values()].filter((t) => t.sku === sku && !this.removed.has(tagId(t)))
  }

  nextCounter(replica: string): number {
    let max = 0
    for (const t of this.added.values())
      if (t.replica === replica && t.counter > max) max = t.counter
    return max + 1
  }

  apply(op: TagOp): void {
    for (const t of op.added) this.added.set(tagId(t), t)
    for (const id of op.removed) this.removed.add(id)
  }

  merge(other: ReplicaModel): void {
    for (const [id, t] of other.added) this.added.set(id, t)
    for (const id of other.removed) this.removed.add(id)
  }

  read(): CartLine[] {
    const lines: CartLine[] = []
    for (const sku of [...SKUS].sort()) {
      const live = this.live(sku)
      if (live.length === 0) continue
      const sets = live.filter((t) => t.kind === 'set').map((t) => t.value as number)
      const adds = live.filter((t) => t.kind === 'add').map((t) => t.value as number)
      const metas = live
        .filter((t) => t.kind === 'meta')
        .sort((x, y) =>
          x.replica !== y.replica ? (x.replica < y.replica ? -1 : 1) : x.counter - y.counter,
        )
      const qty = Math.max(0, ...sets) + adds.reduce((s, n) => s + n, 0)
      lines.push({
        sku,
        qty,
        meta: metas[metas.length - 1]?.value as Data | undefined,
        // Distinct values, first occurrence in dot order (the values are strings here).
        metaSiblings: [...new Set(metas.map((t) => t.value as Data))],
      })
    }
    return lines
  }
}

interface Model {
  readonly replicas: ReplicaModel[]
}

interface Real {
  readonly states: CausalValue[]
  readonly deltas: CausalValue[][]
}

function record(model: Model, real: Real, r: number, op: TagOp, result: DeltaMutation): void {
  ;(model.replicas[r] as ReplicaModel).apply(op)
  ;(model.replicas[r] as ReplicaModel).log.push(op)
  real.states[r] = result.state
  ;(real.deltas[r] as CausalValue[]).push(result.delta)
}

function checkReplica(model: Model, real: Real, r: number): void {
  expect(readCart(real.states[r] as CausalValue)).toEqual(
    (model.replicas[r] as ReplicaModel).read(),
  )
}

class AddCommand implements fc.Command<Model, Real> {
  readonly r: number
  readonly sku: string
  readonly n: number
  readonly meta: string | undefined
  constructor(r: number, sku: string, n: number, meta: string | undefined) {
    this.r = r
    this.sku = sku
    this.n = n
    this.meta = meta
  }
  check = () => true
  run(model: Model, real: Real): void {
    const m = model.replicas[this.r] as ReplicaModel
    const replica = REPLICAS[this.r] as string
    const counter = m.nextCounter(replica)
    const added: Tag[] = [{ replica, counter, sku: this.sku, kind: 'add', value: this.n }]
    let removed: string[] = []
    if (this.meta !== undefined) {
      removed = m
        .live(this.sku)
        .filter((t) => t.kind === 'meta')
        .map(tagId)
      added.push({ replica, counter: counter + 1, sku: this.sku, kind: 'meta', value: this.meta })
    }
    const result = cartAdd(
      real.states[this.r] as CausalValue,
      { replica },
      this.sku,
      this.n,
      this.meta,
    )
    record(model, real, this.r, { added, removed }, result)
    checkReplica(model, real, this.r)
  }
  toString = () => `add(${this.r}, ${this.sku}, ${this.n}, ${this.meta})`
}

class SetCommand implements fc.Command<Model, Real> {
  readonly r: number
  readonly sku: string
  readonly n: number
  constructor(r: number, sku: string, n: number) {
    this.r = r
    this.sku = sku
    this.n = n
  }
  check = () => true
  run(model: Model, real: Real): void {
    const m = model.replicas[this.r] as ReplicaModel
    const replica = REPLICAS[this.r] as string
    const live = m.live(this.sku)
    const op: TagOp =
      this.n === 0
        ? { added: [], removed: live.map(tagId) }
        : {
            added: [
              {
                replica,
                counter: m.nextCounter(replica),
                sku: this.sku,
                kind: 'set',
                value: this.n,
              },
            ],
            removed: live.filter((t) => t.kind !== 'meta').map(tagId),
          }
    const result = cartSetQuantity(
      real.states[this.r] as CausalValue,
      { replica },
      this.sku,
      this.n,
    )
    record(model, real, this.r, op, result)
    checkReplica(model, real, this.r)
  }
  toString = () => `set(${this.r}, ${this.sku}, ${this.n})`
}

class RemoveCommand implements fc.Command<Model, Real> {
  readonly r: number
  readonly sku: string
  constructor(r: number, sku: string) {
    this.r = r
    this.sku = sku
  }
  check = () => true
  run(model: Model, real: Real): void {
    const m = model.replicas[this.r] as ReplicaModel
    const op: TagOp = { added: [], removed: m.live(this.sku).map(tagId) }
    record(model, real, this.r, op, cartRemove(real.states[this.r] as CausalValue, this.sku))
    checkReplica(model, real, this.r)
  }
  toString = () => `remove(${this.r}, ${this.sku})`
}

class MetaCommand implements fc.Command<Model, Real> {
  readonly r: number
  readonly sku: string
  readonly meta: string
  constructor(r: number, sku: string, meta: string) {
    this.r = r
    this.sku = sku
    this.meta = meta
  }
  check = () => true
  run(model: Model, real: Real): void {
    const m = model.replicas[this.r] as ReplicaModel
    const replica = REPLICAS[this.r] as string
    const live = m.live(this.sku)
    const state = real.states[this.r] as CausalValue
    if (live.length === 0) {
      // The model has no line here: the implementation must refuse the edit.
      let caught: unknown
      try {
        cartSetMeta(state, { replica }, this.sku, this.meta)
      } catch (error) {
        caught = error
      }
      expect(isMendsyncError(caught, 'INVALID_ARGUMENT')).toBe(true)
      return
    }
    const current = m.read().find((l) => l.sku === this.sku) as CartLine
    const counter = m.nextCounter(replica)
    const op: TagOp = {
      added: [
        { replica, counter, sku: this.sku, kind: 'set', value: current.qty },
        { replica, counter: counter + 1, sku: this.sku, kind: 'meta', value: this.meta },
      ],
      removed: live.map(tagId),
    }
    record(model, real, this.r, op, cartSetMeta(state, { replica }, this.sku, this.meta))
    checkReplica(model, real, this.r)
  }
  toString = () => `meta(${this.r}, ${this.sku}, ${this.meta})`
}

class MergeCommand implements fc.Command<Model, Real> {
  readonly from: number
  readonly to: number
  constructor(from: number, to: number) {
    this.from = from
    this.to = to
  }
  check = () => true
  run(model: Model, real: Real): void {
    ;(model.replicas[this.to] as ReplicaModel).merge(model.replicas[this.from] as ReplicaModel)
    real.states[this.to] = joinValues(
      real.states[this.to] as CausalValue,
      real.states[this.from] as CausalValue,
    )
    checkReplica(model, real, this.to)
  }
  toString = () => `merge(${this.from} -> ${this.to})`
}

class DeliverCommand implements fc.Command<Model, Real> {
  readonly from: number
  readonly to: number
  readonly k: number
  constructor(from: number, to: number, k: number) {
    this.from = from
    this.to = to
    this.k = k
  }
  check = () => true
  run(model: Model, real: Real): void {
    const log = (model.replicas[this.from] as ReplicaModel).log
    if (log.length === 0) return
    const i = this.k % log.length
    ;(model.replicas[this.to] as ReplicaModel).apply(log[i] as TagOp)
    const delta = (real.deltas[this.from] as CausalValue[])[i] as CausalValue
    real.states[this.to] = joinValues(real.states[this.to] as CausalValue, delta)
    checkReplica(model, real, this.to)
  }
  toString = () => `deliver(${this.from} -> ${this.to}, #${this.k})`
}

const replica = fc.integer({ min: 0, max: REPLICAS.length - 1 })
const sku = fc.constantFrom(...SKUS)

const commands = [
  fc
    .tuple(
      replica,
      sku,
      fc.integer({ min: 1, max: 4 }),
      fc.option(fc.constantFrom('red', 'blue'), { nil: undefined }),
    )
    .map(([r, s, n, m]) => new AddCommand(r, s, n, m)),
  fc
    .tuple(replica, sku, fc.integer({ min: 0, max: 6 }))
    .map(([r, s, n]) => new SetCommand(r, s, n)),
  fc.tuple(replica, sku).map(([r, s]) => new RemoveCommand(r, s)),
  fc.tuple(replica, sku, fc.constantFrom('x', 'y')).map(([r, s, m]) => new MetaCommand(r, s, m)),
  fc.tuple(replica, replica).map(([f, t]) => new MergeCommand(f, t)),
  fc.tuple(replica, replica, fc.nat({ max: 100 })).map(([f, t, k]) => new DeliverCommand(f, t, k)),
]

describe('cart model-based test', () => {
  it('three replicas with random adds, set-quantities, removes, meta edits and merges always read like the tag-set model', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 100 }), (cmds) => {
        const model: Model = { replicas: REPLICAS.map(() => new ReplicaModel()) }
        const real: Real = {
          states: REPLICAS.map(() => emptyValue()),
          deltas: REPLICAS.map(() => []),
        }
        fc.modelRun(() => ({ model, real }), cmds)
        // Merge everything everywhere: every replica equals the model and they are identical.
        const all = new ReplicaModel()
        for (const m of model.replicas) all.merge(m)
        const merged = real.states.map((_, r) =>
          real.states.reduce(
            (acc, s, i) => (i === r ? acc : joinValues(acc, s)),
            real.states[r] as CausalValue,
          ),
        )
        const expected = all.read()
        for (const state of merged) expect(readCart(state)).toEqual(expected)
        const bytes = merged.map((s) => Buffer.from(encodeValue(s)).toString('hex'))
        expect(new Set(bytes).size).toBe(1)
      }),
      { numRuns: 500 },
    )
  })
})
