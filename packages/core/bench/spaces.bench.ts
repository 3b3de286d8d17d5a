// Private-space benchmark (`pnpm bench:spaces [--json] [--runs N] [--quick]`).
//
// grant_verify_p50: verifying a one-grant proof (owner -> device) with a verifier that has never
// seen it (no signature cache: every call does the Ed25519 check), p50 over `samples` calls, the
// median of `--runs` runs. Beside it, one raw Ed25519 verify of the same bytes through
// `@libp2p/crypto` (ed25519_verify_p50), measured in the same run: the difference is the cost of
// everything around the curve math. grant_verify_cached_p50: the same proof again on a warm verifier (what every
// request after the first on a connection costs).
//
// `pnpm bench:spaces` runs this file, then the relay's figures (space_open_p50,
// relay_rss_per_open_space, relay_spaces_served, outsider_bytes_received) in
// apps/relay/bench/spaces.bench.ts, with the same flags.
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { median, percentile, startBench } from '@mendsync/bench'
import {
  AccessVerifier,
  GRANT_DOMAIN,
  generateSigningKey,
  READ,
  signGrant,
  spaceIdOf,
  WRITE,
} from '@mendsync/core/access'

const bench = startBench({ name: 'spaces', defaultRuns: 5, quickRuns: 2 })
const samples = bench.flags.quick ? 200 : 2000

const owner = await generateSigningKey()
const device = await generateSigningKey()
const space = { owner: owner.publicKey.raw, name: 'cart' }
const now = Math.floor(Date.now() / 1000)
const grant = await signGrant(owner, {
  space: spaceIdOf(space),
  subject: device.publicKey.raw,
  rights: READ | WRITE,
  expiresAt: now + 3600,
})
const proof = { space, chain: [grant] }
const ownerKey = publicKeyFromRaw(owner.publicKey.raw)
const signed = new Uint8Array(GRANT_DOMAIN.byteLength + grant.body.byteLength)
signed.set(GRANT_DOMAIN)
signed.set(grant.body, GRANT_DOMAIN.byteLength)

async function timeEach(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    const start = performance.now()
    await run()
    times.push(performance.now() - start)
  }
  return percentile(times, 50)
}

const cold: number[] = []
const raw: number[] = []
const warm: number[] = []
for (let run = 0; run < bench.flags.runs; run++) {
  raw.push(await timeEach(async () => await ownerKey.verify(signed, grant.signature)))
  cold.push(
    await timeEach(async () => await new AccessVerifier(space).verify(proof, device.publicKey.raw)),
  )
  const verifier = new AccessVerifier(space)
  await verifier.verify(proof, device.publicKey.raw)
  warm.push(await timeEach(async () => await verifier.verify(proof, device.publicKey.raw)))
}
// The target is on the value (ms), so the grant figures carry no baseline (the harness bounds
// the ratio whenever there is one); the raw curve cost is its own figure beside them.
bench.record({ figure: 'grant_verify_p50', value: median(cold), unit: 'ms', target: 0.2 })
bench.record({ figure: 'grant_verify_cached_p50', value: median(warm), unit: 'ms' })
bench.record({ figure: 'ed25519_verify_p50', value: median(raw), unit: 'ms' })
bench.finish('Private spaces: grant verification')
