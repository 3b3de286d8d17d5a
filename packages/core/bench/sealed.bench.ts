// Sealed-state benchmark (`pnpm bench:sealed [--json] [--runs N] [--quick]`): what sealing costs
// in bytes and time against the same plain states, measured in the same run.
//
// sealed_state_bytes_ratio: encoded sealed state / encoded plain state, for a register holding one
//   100-byte value (key name `profile:alice`, 24-hex replica ids like the replica's). Beside it,
//   sealed_cart_bytes_ratio for a 20-line cart whose lines carry a 100-byte meta (no target: every
//   quantity entry gets an envelope of its own, 40 bytes of nonce and tag, see docs/sealed.md).
// relay_join_sealed_ratio: what a blind relay does with a state a peer sent: decode both states,
//   join, encode the result; sealed against plain, for two replicas of a 100-line cart that
//   diverged by 10 changes (sealed twins built by sealing each delta once, as writers do).
//   Beside it, relay_join_sealed_register_ratio for registers with concurrent 100 B siblings.
// sealed_write_p50_ratio / sealed_read_p50_ratio: CORE-LEVEL for now (the replica-level figures of
//   issue 14 replace them under the same names once the replica seals): a register write
//   (write + encode the new state; sealed: write on the cached opened view, seal the delta, join
//   it into the sealed state, encode that)
//   and a register read (decode + read; sealed: + open), p50 per operation.
//
// Every time figure is the median over `--runs` runs of the p50 of per-operation times, plain and
// sealed samples alternating so both see the same machine load. Imports `dist` (build first).
import { median, percentile, startBench } from '@mendsync/bench'
import {
  type CausalValue,
  cartAdd,
  cartRemove,
  cartSetQuantity,
  decodeValue,
  emptyValue,
  encodeValue,
  joinValues,
  readRegister,
  writeRegister,
} from '@mendsync/core'
import { keyedKeyId, openValue, SpaceKeyring, sealValue } from '@mendsync/core/sealed'

const bench = startBench({ name: 'sealed', defaultRuns: 5, quickRuns: 2 })
const SAMPLES = bench.flags.quick ? 200 : 1000
const BATCH = 10

const keyring = SpaceKeyring.create('ms1-bench-space')
const KEY_ID = keyedKeyId(keyring, 'profile:alice')
const ALICE = { replica: '4f9c2e1a7b3d5f60a1b2c3d4' }
const BOB = { replica: '8a31d7c2e9f04b6a5d7c1e3f' }
const VALUE_100 = 'v'.repeat(100)

function now(): { wall: number; logical: number } {
  return { wall: Date.now(), logical: 0 }
}

/** A state and its sealed twin, each as a peer would receive it (decoded from bytes). */
interface Twin {
  readonly plain: CausalValue
  readonly sealed: CausalValue
}

function received(twin: Twin): Twin {
  return {
    plain: decodeValue(encodeValue(twin.plain)),
    sealed: decodeValue(encodeValue(twin.sealed)),
  }
}

/** Applies a mutation to both sides: the plain state, and the sealed delta joined in. */
function apply(
  twin: Twin,
  mutate: (state: CausalValue) => { state: CausalValue; delta: CausalValue },
): Twin {
  const { state, delta } = mutate(twin.plain)
  return { plain: state, sealed: joinValues(twin.sealed, sealValue(keyring, KEY_ID, delta)) }
}

const EMPTY: Twin = { plain: emptyValue(), sealed: emptyValue() }

function cart(lines: number): Twin {
  let twin = EMPTY
  for (let i = 0; i < lines; i++) {
    const sku = `sku-${String(i).padStart(5, '0')}`
    const meta = 'm'.repeat(100)
    twin = apply(twin, (s) => cartAdd(s, i % 2 === 0 ? ALICE : BOB, sku, 1 + (i % 3), meta))
  }
  return twin
}

function divergedCarts(lines: number): [Twin, Twin] {
  let a = received(cart(lines))
  let b = received(a)
  for (let k = 0; k < 10; k++) {
    const sku = `sku-${String((k * 37) % lines).padStart(5, '0')}`
    const actor = k % 2 === 0 ? ALICE : BOB
    const step = (s: CausalValue) =>
      k % 3 === 0
        ? cartAdd(s, actor, sku, 2)
        : k % 3 === 1
          ? cartSetQuantity(s, actor, sku, 7)
          : cartRemove(s, sku)
    if (k % 2 === 0) a = apply(a, step)
    else b = apply(b, step)
  }
  return [received(a), received(b)]
}

/** Two replicas of a register: one shared sibling, then one concurrent sibling written on each. */
function divergedRegisters(): [Twin, Twin] {
  const shared = received(
    apply(EMPTY, (s) => writeRegister(s, { ...ALICE, time: now() }, VALUE_100)),
  )
  const a = apply(shared, (s) => writeRegister(s, { ...ALICE, time: now() }, VALUE_100))
  const b = apply(received(shared), (s) => writeRegister(s, { ...BOB, time: now() }, VALUE_100))
  return [received(a), received(b)]
}

function ratio(x: number, y: number): number {
  return Math.round((x / y) * 1000) / 1000
}

/** Records the encoded size of `twin`'s sealed state against its plain state. */
function recordBytes(figure: string, twin: Twin, what: string, target?: number): void {
  const plain = encodeValue(twin.plain).length
  const sealed = encodeValue(twin.sealed).length
  bench.record({
    figure,
    value: ratio(sealed, plain),
    unit: 'ratio',
    ...(target === undefined ? {} : { target }),
    note: `${what}: ${sealed} B sealed vs ${plain} B plain`,
  })
}

const register = apply(EMPTY, (s) => writeRegister(s, { ...ALICE, time: now() }, VALUE_100))
recordBytes('sealed_state_bytes_ratio', register, 'register, one 100 B value', 1.3)
recordBytes('sealed_cart_bytes_ratio', cart(20), '20-line cart, 100 B meta per line')

/** Median over runs of the p50 per-operation time of `sealed` and of `plain`, alternating. */
function p50Versus(sealed: () => unknown, plain: () => unknown): { sealed: number; plain: number } {
  const timeBatch = (run: () => unknown) => {
    const start = performance.now()
    for (let i = 0; i < BATCH; i++) run()
    return (performance.now() - start) / BATCH
  }
  for (let i = 0; i < SAMPLES / 10; i++) {
    timeBatch(sealed)
    timeBatch(plain)
  }
  const sealedRuns: number[] = []
  const plainRuns: number[] = []
  for (let run = 0; run < bench.flags.runs; run++) {
    const s: number[] = []
    const p: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      s.push(timeBatch(sealed))
      p.push(timeBatch(plain))
    }
    sealedRuns.push(percentile(s, 50))
    plainRuns.push(percentile(p, 50))
  }
  return { sealed: median(sealedRuns), plain: median(plainRuns) }
}

function recordTime(
  figure: string,
  times: { sealed: number; plain: number },
  target: number,
  note: string,
): void {
  bench.record({
    figure,
    value: ratio(times.sealed, times.plain),
    unit: 'ratio',
    target,
    note: `${note}: ${(times.sealed * 1000).toFixed(1)} µs sealed vs ${(times.plain * 1000).toFixed(1)} µs plain`,
  })
}

// The relay's join: decode what a peer sent and what is stored, join, encode what is stored.
function relayJoin([a, b]: readonly [Twin, Twin]): { sealed: number; plain: number } {
  const join = (x: Uint8Array, y: Uint8Array) =>
    encodeValue(joinValues(decodeValue(x), decodeValue(y)))
  const plain = [encodeValue(a.plain), encodeValue(b.plain)] as const
  const sealed = [encodeValue(a.sealed), encodeValue(b.sealed)] as const
  return p50Versus(
    () => join(sealed[0], sealed[1]),
    () => join(plain[0], plain[1]),
  )
}
recordTime(
  'relay_join_sealed_ratio',
  relayJoin(divergedCarts(100)),
  1.2,
  'decode two 100-line carts, join, encode',
)
recordTime(
  'relay_join_sealed_register_ratio',
  relayJoin(divergedRegisters()),
  1.2,
  'decode two registers with 2 of 3 concurrent 100 B siblings each, join, encode',
)

// Writes and reads (core level).
const opened = openValue(keyring, KEY_ID, register.sealed)
recordTime(
  'sealed_write_p50_ratio',
  p50Versus(
    () => {
      // The opened view is cached beside the sealed state, as a replica would keep it.
      const { delta } = writeRegister(
        opened.value,
        { ...ALICE, time: now() },
        VALUE_100,
        opened.value.context,
      )
      return encodeValue(joinValues(register.sealed, sealValue(keyring, KEY_ID, delta)))
    },
    () =>
      encodeValue(
        writeRegister(register.plain, { ...ALICE, time: now() }, VALUE_100, register.plain.context)
          .state,
      ),
  ),
  1.5,
  'core level: register write + encode (sealed: + seal delta, join)',
)
const readBytes = { plain: encodeValue(register.plain), sealed: encodeValue(register.sealed) }
recordTime(
  'sealed_read_p50_ratio',
  p50Versus(
    () => readRegister(openValue(keyring, KEY_ID, decodeValue(readBytes.sealed)).value),
    () => readRegister(decodeValue(readBytes.plain)),
  ),
  1.5,
  'core level: register decode + read (sealed: + open)',
)

bench.finish()
