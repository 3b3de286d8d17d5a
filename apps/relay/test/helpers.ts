// Test helpers: the built relay binary as a child process (JSON logs parsed line by line), Node
// client peers (a replica on MemoryStorage over libp2p) and a Prometheus text parser.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { emptyValue, encodeValue, isMendsyncError, writeRegister } from '@mendsync/core'
import {
  type AccessProof,
  AccessVerifier,
  READ,
  type SignedGrant,
  type SigningKey,
  type SpaceDescriptor,
  signGrant,
  spaceIdOf,
  WRITE,
} from '@mendsync/core/access'
import {
  createLibp2pNetwork,
  createNodeLibp2p,
  generateIdentity,
  type Libp2pNetwork,
  type PrivateKey,
} from '@mendsync/libp2p'
import { MemoryStorage, openReplica, type Replica, type ReplicaTunables } from '@mendsync/replica'
import type { SpaceChannel } from '@mendsync/replica/adapter'
import { FakeSpaceStore } from '@mendsync/replica/testing'
import { afterAll, afterEach, beforeAll } from 'vitest'

export const RELAY_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** Fails with a clear message when the relay was not built. */
export function assertBuilt(): void {
  if (!existsSync(RELAY_CLI)) {
    throw new Error(
      `${RELAY_CLI} is missing: build first with \`pnpm exec tsc -b\` (the relay tests run the built binary)`,
    )
  }
}

export type LogEvent = Record<string, unknown> & { msg?: string; level?: string }

export interface StartedRelay {
  readonly peerId: string
  readonly multiaddrs: string[]
  readonly address: string
  readonly metricsUrl: string
  readonly healthUrl: string
}

/** The relay binary in a child process, with its JSON log events. */
export class RelayProcess {
  readonly child: ChildProcess
  readonly events: LogEvent[] = []
  readonly exited: Promise<number | null>
  private stderr = ''
  private readonly waiters = new Set<() => void>()
  exitCode: number | null | undefined = undefined

  private constructor(child: ChildProcess) {
    this.child = child
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as LogEvent)
      } catch {
        this.events.push({ msg: line, level: 'text' })
      }
      for (const wake of [...this.waiters]) wake()
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-8000)
    })
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code
        for (const wake of [...this.waiters]) wake()
        resolve(code)
      })
    })
  }

  /** Starts `node dist/cli.js --log-format json ...args` (ports default to free ones). */
  static spawn(args: readonly string[], env: Record<string, string> = {}): RelayProcess {
    assertBuilt()
    const child = spawn(
      process.execPath,
      [RELAY_CLI, '--log-format', 'json', '--port', '0', '--metrics-port', '0', ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      },
    )
    return new RelayProcess(child)
  }

  /** Waits for the first log event that `match`es (or fails when the relay exits first). */
  waitForEvent(
    what: string,
    match: (event: LogEvent) => boolean,
    timeoutMs = 30_000,
  ): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.find(match)
        if (found) {
          done()
          resolve(found)
        } else if (this.exitCode !== undefined) {
          done()
          reject(new Error(`the relay exited (${this.exitCode}) before ${what}: ${this.output()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for ${what}: ${this.output()}`))
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  async started(): Promise<StartedRelay> {
    const event = await this.waitForEvent('the relay to start', (e) => e.msg === 'relay started')
    const multiaddrs = event.multiaddrs as string[]
    return {
      peerId: String(event.peerId),
      multiaddrs,
      address: multiaddrs[0] as string,
      metricsUrl: String(event.metricsUrl),
      healthUrl: String(event.healthUrl),
    }
  }

  output(): string {
    const lines = this.events.slice(-20).map((event) => JSON.stringify(event))
    return `\n--- stdout (last lines)\n${lines.join('\n')}\n--- stderr\n${this.stderr}`
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(signal)
  }
}

export interface Client {
  readonly replica: Replica
  readonly network: Libp2pNetwork
  readonly peerId: string
  close(): Promise<void>
}

/** A Node peer: a replica on MemoryStorage over libp2p, bootstrapped to `relays`. */
export async function startClient(
  relays: readonly string[],
  options: {
    space?: string
    privateKey?: PrivateKey
    tunables?: Partial<ReplicaTunables>
  } = {},
): Promise<Client> {
  const node = await createNodeLibp2p({
    privateKey: options.privateKey ?? (await generateIdentity()),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrap: relays,
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  const replica = await openReplica({
    space: options.space ?? 'demo',
    storage: new MemoryStorage(),
    network,
    ...options.tunables,
  })
  return {
    replica,
    network,
    peerId: network.peerId,
    async close() {
      await replica.close()
      await network.close()
    },
  }
}

/**
 * A raw network peer (no replica) that joined `demo` through the relay at `address`: pushes and
 * pulls states directly. `onClose` gets its network's close function (for the test's cleanup).
 */
export async function rawPeer(
  address: string,
  relay: string,
  onClose: (close: () => Promise<void>) => void,
): Promise<SpaceChannel> {
  const node = await createNodeLibp2p({
    privateKey: await generateIdentity(),
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrap: [address],
  })
  const network = await createLibp2pNetwork(node, { stopNodeOnClose: true })
  onClose(() => network.close())
  const channel = await network.join('demo', new FakeSpaceStore())
  await waitFor('the relay as a peer of demo', () => channel.peers().includes(relay))
  return channel
}

/** Polls `check` every 20 ms until it holds (for state with no event to wait on). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until `client` has `relay` as a peer of its space and knows its replica (gossip). */
export async function connectedTo(client: Client, relay: string): Promise<void> {
  await waitFor(`client ${client.peerId} to know relay ${relay}`, () =>
    client.replica
      .status()
      .peers.some((peer) => peer.peer === relay && peer.replicaId !== undefined),
  )
}

/** Resolves with the first change of `key` at `replica`. */
export function nextChange(replica: Replica, key: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`no change of ${key} within ${timeoutMs} ms`))
    }, timeoutMs)
    const stop = replica.subscribe(key, () => {
      clearTimeout(timer)
      stop()
      resolve()
    })
  })
}

/** A sample of the Prometheus text format. */
export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

export interface Exposition {
  readonly types: Map<string, string>
  readonly samples: Sample[]
}

// Values as Go's ParseFloat reads them (Prometheus): NaN and Inf in any case.
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([-+]?(?:[0-9.eE+-]+|nan|inf))(?: \d+)?$/i
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g

/** Parses the Prometheus text exposition format (0.0.4); throws on any malformed line. */
export function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) continue
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = line.split(' ').slice(1)
      if (
        !name ||
        !type ||
        !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)
      ) {
        throw new Error(`bad TYPE line: ${line}`)
      }
      types.set(name, type)
      continue
    }
    if (line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`not a Prometheus sample: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    let consumed = 0
    for (const label of body.matchAll(LABEL)) {
      labels[label[1] as string] = label[2] as string
      consumed += label[0].length
    }
    if (consumed !== body.length) throw new Error(`bad labels: ${line}`)
    const raw = (match[3] as string).toLowerCase()
    const value = raw.endsWith('nan')
      ? Number.NaN
      : raw.endsWith('inf')
        ? raw.startsWith('-')
          ? Number.NEGATIVE_INFINITY
          : Number.POSITIVE_INFINITY
        : Number(raw)
    if (!raw.endsWith('nan') && Number.isNaN(value)) throw new Error(`bad value: ${line}`)
    samples.push({ name: match[1] as string, labels, value })
  }
  return { types, samples }
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return exposition.samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value
}

export async function scrape(url: string): Promise<Exposition> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  return parsePrometheus(await response.text())
}

/** The encoded state of a register holding `value`, written by replica `device` (for pushes). */
export function registerState(value: string): Uint8Array {
  return encodeValue(writeRegister(emptyValue(), { replica: 'device' }, value).state)
}

/** `ok` when `call` resolves, else its MendsyncError code (or its message). */
export async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call
    return 'ok'
  } catch (error) {
    return isMendsyncError(error) ? error.code : String(error)
  }
}

/** What a test file of relay processes shares; see {@link relayTestbed}. */
export interface RelayTestbed {
  /** The file's temporary directory (set before the first test). */
  readonly dir: string
  /** Spawns a relay (see {@link RelayProcess.spawn}), killed after the file. */
  spawn(args: readonly string[], env?: Record<string, string>): RelayProcess
  /** Registers `close` to run after the current test. */
  defer(close: () => Promise<void>): void
  /** Runs what was deferred now, newest first; fails with the first failure. */
  cleanup(): Promise<void>
  /** A Node client bootstrapped to `address` (see {@link startClient}), closed after the test. */
  client(address: string): Promise<Client>
}

/**
 * Registers the hooks of a test file that runs relay processes: a temporary directory named
 * after `prefix`, what the tests deferred closed after each test, and every relay killed and the
 * directory removed after the file.
 */
export function relayTestbed(prefix: string): RelayTestbed {
  let dir: string | undefined
  const relays: RelayProcess[] = []
  const deferred: (() => Promise<void>)[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix))
  })
  afterEach(async () => {
    for (const close of deferred.splice(0).reverse()) {
      // A client may fail to close once its relay is gone; the next test starts clean anyway.
      await close().catch((error: unknown) => console.debug('closing after a test failed', error))
    }
  })
  afterAll(async () => {
    for (const relay of relays) relay.kill('SIGKILL')
    await Promise.all(relays.map((relay) => relay.exited))
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })
  const testbed: RelayTestbed = {
    get dir(): string {
      if (dir === undefined) throw new Error('the testbed directory exists from beforeAll on')
      return dir
    },
    spawn(args, env) {
      const relay = RelayProcess.spawn(args, env)
      relays.push(relay)
      return relay
    },
    defer(close) {
      deferred.push(close)
    },
    async cleanup() {
      for (const close of deferred.splice(0).reverse()) await close()
    },
    async client(address) {
      const started = await startClient([address])
      deferred.push(() => started.close())
      return started
    },
  }
  return testbed
}

/** Joins the private `space` on `network` with `proof`, verifying it and trusting the relay. */
export function joinPrivateSpace(
  network: Libp2pNetwork,
  space: SpaceDescriptor,
  proof: AccessProof,
  relayPeerId: string,
  store = new FakeSpaceStore(),
): Promise<SpaceChannel> {
  return network.join(spaceIdOf(space), store, {
    access: { verifier: new AccessVerifier(space), proof, trustedPeers: [relayPeerId] },
  })
}

/** A grant from the owner `owner` of `space` to `subject`: read and write, for an hour. */
export function grantReadWrite(
  owner: PrivateKey,
  space: SpaceDescriptor,
  subject: PrivateKey,
): Promise<SignedGrant> {
  return signGrant(owner as SigningKey, {
    space: spaceIdOf(space),
    subject: subject.publicKey.raw,
    rights: READ | WRITE,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  })
}

/**
 * Resolves at the next gossip `channel` hears that `peer` signed: the positive signal that a
 * write was relayed (a check that an outsider got nothing waits for it, never for a sleep).
 */
export function nextGossipFrom(channel: SpaceChannel, peer: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const off = channel.on('gossip', (event) => {
      if (event.peer !== peer) return
      off()
      resolve()
    })
  })
}
