// Hostile peers against a running relay: random, mutated, never-ending and oversized frames on
// pull, push and reconcile streams, half from identities on the space's allowlist and half from
// identities that are not. Each attacker is a plain libp2p node (no mendsync network on it) that
// writes raw bytes, one stream per frame (a few frames in one stream for the `several` kind); an
// identity the relay bans (its penalties pass the threshold) is replaced by a fresh one, so the
// attack goes on for as many frames as asked. Seeded, so a failing run can be replayed.
//
// Shared by the fuzz test (test/fuzz.test.ts) and `pnpm bench:abuse` (bench/abuse.bench.ts);
// runs on the built packages (dist) under plain Node.
import {
  createNodeLibp2p,
  DEFAULT_WIRE_LIMITS,
  type MendsyncLibp2p,
  type PrivateKey,
  PULL_PROTOCOL,
  PUSH_PROTOCOL,
  RECONCILE_PROTOCOL,
} from '@mendsync/libp2p'
import {
  encodeFrame,
  encodePullRequest,
  encodePushRequest,
  encodeVarint,
  RC_OPEN,
  RC_ROUND,
  RC_STATES,
} from '@mendsync/libp2p/testing'
import { multiaddr } from '@multiformats/multiaddr'

/** What one fuzzed stream carries. */
export const FUZZ_KINDS = [
  'random',
  'mutated',
  'never-ending',
  'ten-byte-varint',
  'non-minimal',
  'oversized',
  'truncated',
  'large',
  'valid',
  'several',
] as const

/** One of {@link FUZZ_KINDS}. */
export type FuzzKind = (typeof FUZZ_KINDS)[number]

/** How a fuzzed stream ended at the attacker. */
export type FuzzOutcome = 'answered' | 'reset' | 'refused' | 'stalled'

/** A seeded pseudo-random source (mulberry32): `next()` in [0, 2^32). */
export class FuzzRandom {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((this.next() / 2 ** 32) * (max - min + 1))
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff
    return out
  }
}

const varint = (value: number): number[] => [...encodeVarint(value)]

function prefixed(body: Uint8Array, declared = body.byteLength): Uint8Array {
  const prefix = varint(declared)
  const out = new Uint8Array(prefix.length + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.length)
  return out
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

/** A well-formed request body of `protocol` (its content may still be refused by the relay). */
function validBody(random: FuzzRandom, protocol: string, space: string): Uint8Array {
  const id = random.int(1, 1000)
  const key = `k${random.int(0, 99)}`
  if (protocol === PULL_PROTOCOL) {
    return encodePullRequest(id, space, random.int(0, 1) ? 'state' : 'digest', [key])
  }
  if (protocol === PUSH_PROTOCOL) {
    return encodePushRequest(id, space, [{ key, state: random.bytes(random.int(0, 64)) }])
  }
  return random.pick([
    () => encodeFrame([RC_OPEN, space, random.bytes(random.int(0, 64))]),
    () => encodeFrame([RC_ROUND, random.bytes(random.int(0, 64))]),
    () => encodeFrame([RC_STATES, [[key, random.bytes(8)]]]),
  ])()
}

/** The bytes one fuzzed stream of `kind` writes to `protocol`. */
export function fuzzBytes(
  random: FuzzRandom,
  kind: FuzzKind,
  protocol: string,
  space: string,
  maxFrameBytes = DEFAULT_WIRE_LIMITS.maxFrameBytes,
): Uint8Array {
  switch (kind) {
    case 'random':
      return prefixed(random.bytes(random.int(0, 2048)))
    case 'mutated': {
      const frame = prefixed(validBody(random, protocol, space))
      for (let flips = random.int(1, 4); flips > 0; flips--) {
        frame[random.int(0, frame.byteLength - 1)] = random.next() & 0xff
      }
      return frame.subarray(0, random.int(1, frame.byteLength))
    }
    case 'never-ending':
      // Up to 1 MiB of continuation bytes (issue 19's attack: 4 MiB of 0xff on one stream).
      return new Uint8Array(random.int(1, 1024 * 1024)).fill(random.pick([0xff, 0x80, 0xfe]))
    case 'ten-byte-varint': {
      const prefix = Array.from({ length: 9 }, () => 0x80 | (random.next() & 0x7f))
      return concat([Uint8Array.from([...prefix, random.int(1, 0x7f)]), random.bytes(1024)])
    }
    case 'non-minimal': {
      const prefix = varint(random.int(0, 100))
      prefix[prefix.length - 1] = (prefix[prefix.length - 1] as number) | 0x80
      return concat([Uint8Array.from([...prefix, 0x00]), random.bytes(100)])
    }
    case 'oversized':
      return concat([
        Uint8Array.from(varint(random.int(maxFrameBytes + 1, 2 ** 35))),
        random.bytes(random.int(0, 4096)),
      ])
    case 'truncated': {
      const declared = random.int(1, 1024 * 1024)
      return prefixed(random.bytes(random.int(0, Math.min(declared - 1, 8192))), declared)
    }
    case 'large':
      // Over the budget of a peer without a grant, within the frame limit.
      return prefixed(random.bytes(random.int(65 * 1024, 512 * 1024)))
    case 'valid':
      return prefixed(validBody(random, protocol, space))
    case 'several':
      return concat(
        Array.from({ length: random.int(2, 6) }, () =>
          fuzzBytes(random, random.pick(['valid', 'random', 'mutated']), protocol, space),
        ),
      )
  }
}

/** Relative frequencies of the kinds (large frames are rarer: they cost the attacker time). */
const WEIGHTS: Record<FuzzKind, number> = {
  random: 16,
  mutated: 20,
  'never-ending': 12,
  'ten-byte-varint': 8,
  'non-minimal': 6,
  oversized: 10,
  truncated: 8,
  large: 2,
  valid: 12,
  several: 6,
}
const WEIGHTED: readonly FuzzKind[] = FUZZ_KINDS.flatMap((kind) =>
  Array.from({ length: WEIGHTS[kind] }, () => kind),
)
const PROTOCOLS = [PULL_PROTOCOL, PUSH_PROTOCOL, RECONCILE_PROTOCOL] as const

/** How long one fuzzed stream may go without the relay answering or ending it, ms. */
export const STREAM_DEADLINE_MS = 30_000

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** The relay's multiaddr, ending with `/p2p/<peer id>`. */
  readonly relayAddress: string
  /** The space attacked (on the allowlist: `allowed`). */
  readonly space: string
  /** Streams to send in all. */
  readonly frames: number
  /** Identities on the space's allowlist, used one after the other as the relay bans them. */
  readonly allowed: readonly PrivateKey[]
  /** Makes a fresh identity that is not on the allowlist. */
  readonly newIdentity: () => Promise<PrivateKey>
  /** Attackers at once, half of them allowed. Default `8`. */
  readonly concurrency?: number
  readonly seed?: number
  /** Called after every stream (progress, heap sampling). */
  readonly onFrame?: (sent: number) => void
}

/** What {@link runFuzz} saw. */
export interface FuzzReport {
  readonly frames: number
  readonly seconds: number
  readonly outcomes: Record<FuzzOutcome, number>
  readonly kinds: Record<FuzzKind, number>
  /** Identities used (each banned one was replaced). */
  readonly identities: { readonly allowed: number; readonly outsiders: number }
}

/**
 * Identities on the allowlist {@link runFuzz} needs at most for `frames` streams: half the streams
 * come from allowed attackers, and the relay bans an identity after 10 violations at the
 * earliest (100 points at 10 a violation), so each lasts at least 10 streams; twice that margin.
 */
export function allowedIdentitiesFor(frames: number, concurrency = 8): number {
  return Math.ceil(frames / 10) + concurrency
}

class Attacker {
  readonly node: MendsyncLibp2p
  private readonly relay: ReturnType<typeof multiaddr>

  private constructor(node: MendsyncLibp2p, relay: ReturnType<typeof multiaddr>) {
    this.node = node
    this.relay = relay
  }

  static async start(key: PrivateKey, relayAddress: string): Promise<Attacker> {
    const node = await createNodeLibp2p({ privateKey: key, listen: [] })
    return new Attacker(node, multiaddr(relayAddress))
  }

  /** Writes `bytes` on a new `protocol` stream, closes its side and reads until the relay ends it. */
  async send(protocol: string, bytes: Uint8Array): Promise<FuzzOutcome> {
    let stream: Awaited<ReturnType<MendsyncLibp2p['dialProtocol']>>
    try {
      stream = await this.node.dialProtocol(this.relay, protocol, {
        signal: AbortSignal.timeout(10_000),
      })
    } catch {
      // Banned (the gater refuses the connection) or hung up on: the caller takes a new identity.
      return 'refused'
    }
    const deadline = setTimeout(
      () => stream.abort(new Error('the relay neither answered nor ended the stream')),
      STREAM_DEADLINE_MS,
    )
    let stalled = false
    const writing = stream.sink([bytes]).then(
      () => true,
      () => false,
    )
    let received = 0
    try {
      for await (const chunk of stream.source) received += chunk.byteLength
    } catch (error) {
      stalled = /neither answered/.test(String((error as Error)?.message))
    } finally {
      clearTimeout(deadline)
    }
    await writing
    if (stalled) return 'stalled'
    return received > 0 ? 'answered' : 'reset'
  }

  async stop(): Promise<void> {
    await this.node.stop()
  }
}

/** Runs the attack until `frames` streams were sent; resolves with what was seen. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new FuzzRandom(options.seed ?? 1)
  const concurrency = Math.max(2, options.concurrency ?? 8)
  const outcomes: Record<FuzzOutcome, number> = { answered: 0, reset: 0, refused: 0, stalled: 0 }
  const kinds = Object.fromEntries(FUZZ_KINDS.map((kind) => [kind, 0])) as Record<FuzzKind, number>
  const identities = { allowed: 0, outsiders: 0 }
  let sent = 0
  const started = performance.now()

  const nextKey = async (allowed: boolean): Promise<PrivateKey> => {
    if (!allowed) {
      identities.outsiders += 1
      return await options.newIdentity()
    }
    const key = options.allowed[identities.allowed]
    if (!key) {
      throw new Error(
        `all ${options.allowed.length} allowed identities were banned; allow more (allowedIdentitiesFor)`,
      )
    }
    identities.allowed += 1
    return key
  }

  const lane = async (allowed: boolean): Promise<void> => {
    let attacker = await Attacker.start(await nextKey(allowed), options.relayAddress)
    try {
      while (sent < options.frames) {
        sent += 1
        const index = sent
        const kind = random.pick(WEIGHTED)
        const protocol = random.pick(PROTOCOLS)
        kinds[kind] += 1
        const outcome = await attacker.send(
          protocol,
          fuzzBytes(random, kind, protocol, options.space),
        )
        outcomes[outcome] += 1
        options.onFrame?.(index)
        if (outcome === 'refused') {
          await attacker.stop()
          attacker = await Attacker.start(await nextKey(allowed), options.relayAddress)
        }
      }
    } finally {
      await attacker.stop()
    }
  }

  await Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i % 2 === 0)))
  return {
    frames: sent,
    seconds: (performance.now() - started) / 1000,
    outcomes,
    kinds,
    identities,
  }
}
