// Benchmark of the core data model: cart joins, canonical encode/decode (beside JSON of the same
// plain view, measured in the same run) and state hashing.
//
//   pnpm exec tsc -b && pnpm exec node packages/core/bench/core.bench.ts [--json] [--quick] [--runs N]
//
// Imports `@mendsync/core` from `dist` (build first). `--json` prints one JSON line per figure:
// {"bench":"core","figure":...,"value":...,"unit":...,"baseline":...,"ratio":...,"target":...}
// Figure names are stable. Each figure is the median of `--runs` timed batches (default 7, 3 with
// `--quick`, whose batches are also shorter) after a warm-up; ratio = value / baseline.

import { median, startBench } from '@mendsync/bench'
import {
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetMeta,
  cartSetQuantity,
  decodeValue,
  emptyValue,
  encodeValue,
  joinValues,
  readCart,
  stateHash,
} from '@mendsync/core'

const bench = startBench({ name: 'core', defaultRuns: 7, quickRuns: 3 })
const BATCH_MS = bench.flags.quick ? 40 : 150
const BATCHES = bench.flags.runs

function calibrate(run: () => unknown): number {
  // Find the batch size for which one batch lasts about BATCH_MS.
  let iterations = 1
  for (;;) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) run()
    const elapsed = performance.now() - start
    if (elapsed >= BATCH_MS / 4) return Math.max(1, Math.round((iterations * BATCH_MS) / elapsed))
    iterations *= 2
  }
}

function timeBatch(run: () => unknown, iterations: number): number {
  const start = performance.now()
  for (let i = 0; i < iterations; i++) run()
  return (iterations * 1000) / (performance.now() - start)
}

/** Median operations per second of `run`, over BATCHES timed batches after a warm-up batch. */
function opsPerSecond(run: () => unknown): number {
  const iterations = calibrate(run)
  timeBatch(run, iterations) // warm-up
  const rates: number[] = []
  for (let b = 0; b < BATCHES; b++) rates.push(timeBatch(run, iterations))
  return median(rates)
}

/**
 * Measures `run` beside `baseline` in alternating batches, so both see the same machine load
 * (the machine may be shared): the median rate of each.
 */
function versus(run: () => unknown, baseline: () => unknown): { ops: number; base: number } {
  const n = calibrate(run)
  const m = calibrate(baseline)
  timeBatch(run, n)
  timeBatch(baseline, m)
  const ops: number[] = []
  const base: number[] = []
  for (let b = 0; b < BATCHES; b++) {
    ops.push(timeBatch(run, n))
    base.push(timeBatch(baseline, m))
  }
  return { ops: median(ops), base: median(base) }
}

/** A deterministic pseudo-random sequence, so every run benchmarks the same carts. */
function rng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

/**
 * Two replicas of a cart of `lines` lines that diverged by 10 concurrent changes (5 each: adds,
 * set-quantities, removes, meta edits), each decoded from bytes as if received from a peer (so
 * the join shares no objects between them).
 */
function divergedCarts(lines: number): [CausalValue, CausalValue] {
  const random = rng(lines)
  const alice = { replica: 'alice-4f9c2e' }
  const bob = { replica: 'bob-8a31d7' }
  let shared = emptyValue()
  for (let i = 0; i < lines; i++) {
    const sku = `sku-${String(i).padStart(5, '0')}`
    const meta = { name: `Product ${i}`, price: 100 + i, currency: 'EUR' }
    shared = cartAdd(shared, i % 2 === 0 ? alice : bob, sku, 1 + (i % 3), meta).state
    if (i % 4 === 0) shared = cartAdd(shared, bob, sku, 1).state
  }
  let a = decodeValue(encodeValue(shared))
  let b = decodeValue(encodeValue(shared))
  for (let k = 0; k < 10; k++) {
    const sku = `sku-${String(Math.floor(random() * lines)).padStart(5, '0')}`
    const actor = k % 2 === 0 ? alice : bob
    const state = k % 2 === 0 ? a : b
    let next: CausalValue
    switch (k % 5) {
      case 0:
        next = cartAdd(state, actor, sku, 2).state
        break
      case 1:
        next = cartSetQuantity(state, actor, sku, 7).state
        break
      case 2:
        next = cartRemove(state, sku).state
        break
      case 3:
        next = readCart(state).some((l) => l.sku === sku)
          ? cartSetMeta(state, actor, sku, { name: 'renamed', price: 1, currency: 'EUR' }).state
          : cartAdd(state, actor, sku, 1).state
        break
      default:
        next = cartAdd(state, actor, `new-${k}`, 1).state
    }
    if (k % 2 === 0) a = next
    else b = next
  }
  return [decodeValue(encodeValue(a)), decodeValue(encodeValue(b))]
}

/** The same information as a cart state, as plain JSON-able data (the JSON baseline's input). */
function plainView(value: CausalValue): unknown {
  const cart: Record<string, unknown> = {}
  for (const [sku, line] of value.cart) {
    cart[sku] = {
      sets: line.sets.map((e) => [e.replica, e.counter, e.value]),
      adds: line.adds.map((e) => [e.replica, e.counter, e.value]),
      meta: line.meta.map((e) => [e.replica, e.counter, e.value]),
    }
  }
  return {
    version: 1,
    context: {
      vv: Object.fromEntries(value.context.versionVector),
      cloud: Object.fromEntries(value.context.cloud),
    },
    cart,
  }
}

/** Records a figure; a baseline is JSON's, and a target is a lower bound on the ratio. */
function record(
  figure: string,
  value: number,
  unit: string,
  baseline: number | null = null,
  target: number | null = null,
): void {
  bench.record({
    figure,
    value: round(value),
    unit,
    baseline: baseline === null ? null : round(baseline),
    target,
    bound: 'min',
    note: baseline === null ? '' : 'baseline: JSON',
  })
}

function round(x: number): number {
  return x >= 100 ? Math.round(x) : Math.round(x * 100) / 100
}

for (const lines of [10, 100, 1000]) {
  const [a, b] = divergedCarts(lines)
  record(
    `join_${lines}_lines`,
    opsPerSecond(() => joinValues(a, b)),
    'ops/s',
  )
}

const MB = 1024 * 1024
for (const lines of [100, 1000]) {
  const [state] = divergedCarts(lines)
  const bytes = encodeValue(state)
  const plain = plainView(state)
  const json = JSON.stringify(plain)
  const jsonBytes = Buffer.byteLength(json)
  const encode = versus(
    () => encodeValue(state),
    () => JSON.stringify(plain),
  )
  const decode = versus(
    () => decodeValue(bytes),
    () => JSON.parse(json),
  )
  const roundTrip = versus(
    () => decodeValue(encodeValue(state)),
    () => JSON.parse(JSON.stringify(plain)),
  )
  // Throughput of each format over its own bytes (CBOR is smaller, so MB/s favours JSON).
  const encodeMBs = (encode.ops * bytes.length) / MB
  const stringifyMBs = (encode.base * jsonBytes) / MB
  record(`encode_${lines}_lines`, encodeMBs, 'MB/s', stringifyMBs)
  const decodeMBs = (decode.ops * bytes.length) / MB
  const parseMBs = (decode.base * jsonBytes) / MB
  record(`decode_${lines}_lines`, decodeMBs, 'MB/s', parseMBs)
  record(
    `roundtrip_${lines}_lines`,
    roundTrip.ops,
    'ops/s',
    roundTrip.base,
    lines === 100 ? 0.5 : null,
  )
  record(`size_${lines}_lines`, bytes.length, 'bytes', jsonBytes)
  record(
    `hash_${lines}_lines`,
    opsPerSecond(() => stateHash(state)),
    'ops/s',
  )
}

bench.finish(`core bench: median of ${BATCHES} batches of about ${BATCH_MS} ms`)
