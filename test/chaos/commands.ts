// The commands of the convergence checker, as fast-check model-based commands. Every command is
// always applicable: replica numbers are taken modulo the number of replicas and message numbers
// modulo the number of messages in flight, so any shrunk subsequence still runs.
import type { Data } from '@mendsync/core'
import type { PeerSelection, RepairMode } from '@mendsync/replica'
import fc from 'fast-check'
import type { Model } from './model.js'
import { ALL_KEYS, CART_KEYS, REGISTER_KEYS, SKUS, type World, type WorldConfig } from './world.js'

/** One step of a run; `toString` is how it reads in a counterexample. */
class Step implements fc.AsyncCommand<Model, World> {
  readonly name: string
  readonly action: (world: World) => Promise<void>

  constructor(name: string, action: (world: World) => Promise<void>) {
    this.name = name
    this.action = action
  }

  check(): boolean {
    return true
  }

  async run(_model: Model, world: World): Promise<void> {
    await this.action(world)
    world.assertHealthy()
  }

  toString(): string {
    return this.name
  }
}

const replica = fc.nat({ max: 4 })
const cartKey = fc.constantFrom(...CART_KEYS)
const registerKey = fc.constantFrom(...REGISTER_KEYS)
/** Mostly keys of the kind, sometimes one of the other kind (both kinds then live side by side). */
const mostly = (own: fc.Arbitrary<string>, other: fc.Arbitrary<string>) =>
  fc.oneof({ arbitrary: own, weight: 9 }, { arbitrary: other, weight: 1 })
const sku = fc.constantFrom(...SKUS)
const message = fc.nat({ max: 255 })
const meta: fc.Arbitrary<Data> = fc.oneof(
  fc.constantFrom('apple', 'pear'),
  fc.record({ name: fc.constantFrom('apple', 'pear'), price: fc.nat({ max: 9 }) }),
)
/** Whose last read context a write uses: none (a blind write), or replica n's. */
const contextFrom = fc.option(replica, { nil: undefined, freq: 3 })
const hour = 60 * 60 * 1000

const steps: fc.Arbitrary<Step>[] = [
  fc
    .tuple(
      replica,
      mostly(cartKey, registerKey),
      sku,
      fc.integer({ min: 1, max: 3 }),
      fc.option(meta, { nil: undefined }),
    )
    .map(
      ([r, key, s, qty, m]) =>
        new Step(
          `add(r${r}, ${key}, ${s}, ${qty}${m === undefined ? '' : `, ${JSON.stringify(m)}`})`,
          (w) => w.add(r, key, s, qty, m),
        ),
    ),
  fc
    .tuple(replica, cartKey, sku, fc.integer({ min: 0, max: 4 }))
    .map(
      ([r, key, s, qty]) =>
        new Step(`setQty(r${r}, ${key}, ${s}, ${qty})`, (w) => w.setQty(r, key, s, qty)),
    ),
  fc
    .tuple(replica, cartKey, sku)
    .map(([r, key, s]) => new Step(`remove(r${r}, ${key}, ${s})`, (w) => w.remove(r, key, s))),
  fc
    .tuple(replica, cartKey, sku, meta)
    .map(
      ([r, key, s, m]) =>
        new Step(`setMeta(r${r}, ${key}, ${s}, ${JSON.stringify(m)})`, (w) =>
          w.setMeta(r, key, s, m),
        ),
    ),
  fc
    .tuple(replica, mostly(registerKey, cartKey), fc.nat({ max: 99 }), contextFrom)
    .map(
      ([r, key, n, from]) =>
        new Step(
          `put(r${r}, ${key}, v${n}, ${from === undefined ? 'blind' : `context of r${from}`})`,
          (w) => w.put(r, key, `v${n}`, from),
        ),
    ),
  fc
    .tuple(replica, fc.constantFrom(...ALL_KEYS), contextFrom)
    .map(
      ([r, key, from]) =>
        new Step(
          `delete(r${r}, ${key}, ${from === undefined ? 'all it holds' : `context of r${from}`})`,
          (w) => w.del(r, key, from),
        ),
    ),
  fc
    .tuple(
      replica,
      fc.subarray([...ALL_KEYS], { minLength: 1, maxLength: 2 }),
      fc.constantFrom<RepairMode>('sync', 'async', 'none'),
      fc.constantFrom<PeerSelection>('ahead', 'one', 'quorum', 'all', 2),
    )
    .map(
      ([r, keys, repair, peers]) =>
        new Step(`get(r${r}, [${keys.join(', ')}], ${repair}, ${peers})`, (w) =>
          w.read(r, keys, repair, peers),
        ),
    ),
  message.map((i) => new Step(`deliver(${i})`, (w) => w.deliver(i))),
  fc
    .integer({ min: 1, max: 20 })
    .map((n) => new Step(`deliverOldest(${n})`, (w) => w.deliverOldest(n))),
  message.map((i) => new Step(`race(${i})`, (w) => w.deliver(i, false))),
  message.map((i) => new Step(`drop(${i})`, (w) => w.drop(i))),
  message.map((i) => new Step(`duplicate(${i})`, (w) => w.duplicate(i))),
  fc
    .array(fc.nat({ max: 2 }), { minLength: 5, maxLength: 5 })
    .map((groups) => new Step(`partition(${groups.join('')})`, (w) => w.partition(groups))),
  fc.constant(new Step('heal', (w) => w.heal())),
  replica.map((r) => new Step(`restart(r${r})`, (w) => w.restart(r))),
  fc
    .tuple(
      replica,
      fc.oneof(fc.constantFrom(-hour, 0, hour), fc.integer({ min: -hour, max: hour })),
    )
    .map(([r, ms]) => new Step(`skew(r${r}, ${ms})`, (w) => w.skew(r, ms))),
  fc
    .constantFrom(1, 10, 50, 300, 1_000, 5_000, 30_000)
    .map((ms) => new Step(`tick(${ms})`, (w) => w.tick(ms))),
  replica.map((r) => new Step(`sync(r${r})`, (w) => w.sync(r))),
  replica.map((r) => new Step(`gc(r${r})`, (w) => w.collect(r))),
]

/** How often each step is drawn, in the order of `steps`. */
const WEIGHTS = [6, 3, 3, 2, 5, 1, 6, 8, 6, 3, 2, 2, 1, 1, 1, 1, 3, 2, 3]

/** The command sequences of a run. */
export function commands(maxCommands: number) {
  const weighted = steps.map((arbitrary, i) => ({ arbitrary, weight: WEIGHTS[i] ?? 1 }))
  return fc.commands([fc.oneof(...weighted)], { maxCommands, size: 'max' })
}

/** The configuration of a run. */
export const config: fc.Arbitrary<WorldConfig> = fc.record({
  replicas: fc.integer({ min: 3, max: 5 }),
  outboxMaxKeys: fc.constantFrom(3, 10_000),
  handoff: fc.array(fc.constantFrom(true, true, true, false), { minLength: 5, maxLength: 5 }),
  repairChance: fc.constantFrom(0, 0.5),
  seed: fc.nat(),
  introduced: fc.boolean(),
  // Half the runs collect tombstones, retire silent replicas and rejoin (see WorldConfig.gc).
  gc: fc.boolean(),
})
