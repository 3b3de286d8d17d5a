// The relay's configuration: every option with its default, and how the CLI builds it from
// flags, MENDSYNC_RELAY_* environment variables and an optional JSON file (flags win over the
// environment, which wins over the file, which wins over the defaults). One table (OPTIONS)
// drives the parser, the environment names and `--help`.
import { readFile } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Libp2pNetworkOptions } from '@mendsync/libp2p'
import type { ReplicaTunables } from '@mendsync/replica'

/** A space the relay serves, with its allowlist (absent: open to every peer). */
/** One space the relay serves. */
export interface RelaySpaceConfig {
  /** The space's name (what peers join). */
  readonly name: string
  /** Peer ids allowed to read and write the space; everyone else is refused. Default: open. */
  readonly allow?: readonly string[]
}

/** How log lines are written: human-readable `text`, or one JSON object per line. */
export type LogFormat = 'text' | 'json'
/** The lowest level logged; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** Network tunables a relay may set (see `Libp2pNetworkOptions` of @mendsync/libp2p). */
export type RelayNetworkOptions = Omit<
  Libp2pNetworkOptions,
  'penalties' | 'stopNodeOnClose' | 'onRefused'
>

/**
 * Options of {@link startRelay}. Every one is optional; the defaults are in
 * {@link DEFAULT_RELAY_CONFIG} and the README's table.
 */
export interface RelayConfig {
  /** Interface the WebSocket listener binds when `listen` is not given. Default `'127.0.0.1'`. */
  readonly host?: string
  /** WebSocket port when `listen` is not given (0: a free port). Default `4401`. */
  readonly port?: number
  /** libp2p listen multiaddrs; replace `host`/`port`. Default `['/ip4/<host>/tcp/<port>/ws']`. */
  readonly listen?: readonly string[]
  /** Multiaddrs announced instead of the listen ones (a public name, a proxy). Default none. */
  readonly announce?: readonly string[]
  /** Other relays of the cluster (`.../p2p/<peer id>` multiaddrs), dialled and kept. Default none. */
  readonly bootstrap?: readonly string[]
  /** How often a disconnected bootstrap peer is dialled again, ms. Default `10_000`. */
  readonly bootstrapRedialMs?: number
  /** Where the identity and the spaces' files live (relative: to the working directory). Default `'./.data/relay'`. */
  readonly dataDir?: string
  /** The private key file (created mode 0600 on first start). Default `'<dataDir>/peer.key'`. */
  readonly identityFile?: string
  /** The spaces served, names or `{ name, allow }`. Default `['demo']` (open to every peer). */
  readonly spaces?: readonly (string | RelaySpaceConfig)[]
  /** Allowlists by space name (override a space's own `allow`). Default `{}` (all open). */
  readonly allow?: Readonly<Record<string, readonly string[]>>
  /** Serve `/metrics` and `/healthz` over HTTP. Default `true`. */
  readonly metrics?: boolean
  /** Interface of the HTTP server. Default `'127.0.0.1'`. */
  readonly metricsHost?: string
  /** Port of the HTTP server (0: a free port). Default `9464`. */
  readonly metricsPort?: number
  /** Serve circuit-relay-v2 reservations (browsers reach each other through the relay). Default `true`. */
  readonly circuitRelay?: boolean
  /** Most circuit-relay reservations held at once. Default `128`. */
  readonly maxReservations?: number
  /** Most open libp2p connections. Default `1000`. */
  readonly maxConnections?: number
  /** Inbound connections accepted per second from one IP address. Default `25`. */
  readonly inboundConnectionThreshold?: number
  /** `'text'` (human-readable) or `'json'` (one JSON object per line). Default `'text'`. */
  readonly logFormat?: LogFormat
  /** Least severe level logged. Default `'info'`. */
  readonly logLevel?: LogLevel
  /** Where log lines go (programmatic only). Default `process.stdout`. */
  readonly logStream?: NodeJS.WritableStream
  /** Period of the progress line of a long reconciliation when not on a terminal, ms. Default `5000`. */
  readonly progressIntervalMs?: number
  /** How long a graceful shutdown may take before the CLI exits with status 1, ms. Default `10_000`. */
  readonly shutdownTimeoutMs?: number
  /** Engine tunables for every space (see @mendsync/replica). Default `{}` (the engine's). */
  readonly replica?: Partial<ReplicaTunables>
  /** Network tunables (see @mendsync/libp2p `Libp2pNetworkOptions`). Default `{}`. */
  readonly network?: RelayNetworkOptions
}

/** A configuration with every default filled in, paths absolute, values checked. */
export interface ResolvedRelayConfig {
  readonly listen: readonly string[]
  readonly announce: readonly string[]
  readonly bootstrap: readonly string[]
  readonly bootstrapRedialMs: number
  readonly dataDir: string
  readonly identityFile: string
  readonly spaces: readonly RelaySpaceConfig[]
  readonly metrics: boolean
  readonly metricsHost: string
  readonly metricsPort: number
  readonly circuitRelay: boolean
  readonly maxReservations: number
  readonly maxConnections: number
  readonly inboundConnectionThreshold: number
  readonly logFormat: LogFormat
  readonly logLevel: LogLevel
  readonly progressIntervalMs: number
  readonly shutdownTimeoutMs: number
  readonly replica: Partial<ReplicaTunables>
  readonly network: RelayNetworkOptions
}

/** The defaults of {@link RelayConfig}. */
export const DEFAULT_RELAY_CONFIG = Object.freeze({
  host: '127.0.0.1',
  port: 4401,
  announce: [] as readonly string[],
  bootstrap: [] as readonly string[],
  bootstrapRedialMs: 10_000,
  dataDir: './.data/relay',
  identityFileName: 'peer.key',
  spaces: ['demo'] as readonly string[],
  metrics: true,
  metricsHost: '127.0.0.1',
  metricsPort: 9464,
  circuitRelay: true,
  maxReservations: 128,
  maxConnections: 1000,
  inboundConnectionThreshold: 25,
  logFormat: 'text' as LogFormat,
  logLevel: 'info' as LogLevel,
  progressIntervalMs: 5_000,
  shutdownTimeoutMs: 10_000,
})

/** A configuration the relay cannot use; the message says which option and why. */
export class RelayConfigError extends Error {
  override name = 'RelayConfigError'
}

const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']
// base58btc (12D3Koo..., Qm...) or a base32 CID (b...): what libp2p prints for peer ids.
const PEER_ID = /^(?:[1-9A-HJ-NP-Za-km-z]{40,100}|b[a-z2-7]{50,120})$/
const SPACE_NAME_MAX = 256

/** Fills in the defaults of `config`, resolves paths against `cwd` and checks every value. */
export function resolveRelayConfig(
  config: RelayConfig = {},
  cwd: string = process.cwd(),
): ResolvedRelayConfig {
  const d = DEFAULT_RELAY_CONFIG
  const host = text('host', config.host ?? d.host)
  const port = integer('port', config.port ?? d.port, 0, 65_535)
  const family = host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : null
  if (family === null && config.listen === undefined) {
    throw new RelayConfigError(`host must be an IP address, got ${host} (or give listen)`)
  }
  const listen = list('listen', config.listen ?? [`/${family}/${host}/tcp/${port}/ws`])
  if (listen.length === 0) throw new RelayConfigError('listen: at least one multiaddr is needed')
  for (const address of listen) multiaddrLike('listen', address)
  const announce = list('announce', config.announce ?? d.announce)
  for (const address of announce) multiaddrLike('announce', address)
  const bootstrap = list('bootstrap', config.bootstrap ?? d.bootstrap)
  for (const address of bootstrap) bootstrapPeerId(address)
  const dataDir = absolute(cwd, text('dataDir', config.dataDir ?? d.dataDir))
  const identityFile = absolute(
    cwd,
    text('identityFile', config.identityFile ?? resolve(dataDir, d.identityFileName)),
  )
  const logFormat = choice('logFormat', config.logFormat ?? d.logFormat, LOG_FORMATS)
  const logLevel = choice('logLevel', config.logLevel ?? d.logLevel, LOG_LEVELS)
  const replica = plainObject('replica', config.replica ?? {}) as Partial<ReplicaTunables>
  const network = plainObject('network', config.network ?? {}) as RelayNetworkOptions
  return {
    listen,
    announce,
    bootstrap,
    bootstrapRedialMs: integer(
      'bootstrapRedialMs',
      config.bootstrapRedialMs ?? d.bootstrapRedialMs,
      100,
    ),
    dataDir,
    identityFile,
    spaces: spacesOf(config.spaces ?? d.spaces, config.allow ?? {}),
    metrics: bool('metrics', config.metrics ?? d.metrics),
    metricsHost: text('metricsHost', config.metricsHost ?? d.metricsHost),
    metricsPort: integer('metricsPort', config.metricsPort ?? d.metricsPort, 0, 65_535),
    circuitRelay: bool('circuitRelay', config.circuitRelay ?? d.circuitRelay),
    maxReservations: integer('maxReservations', config.maxReservations ?? d.maxReservations, 1),
    maxConnections: integer('maxConnections', config.maxConnections ?? d.maxConnections, 1),
    inboundConnectionThreshold: integer(
      'inboundConnectionThreshold',
      config.inboundConnectionThreshold ?? d.inboundConnectionThreshold,
      1,
    ),
    logFormat,
    logLevel,
    progressIntervalMs: integer(
      'progressIntervalMs',
      config.progressIntervalMs ?? d.progressIntervalMs,
      100,
    ),
    shutdownTimeoutMs: integer(
      'shutdownTimeoutMs',
      config.shutdownTimeoutMs ?? d.shutdownTimeoutMs,
      100,
    ),
    replica,
    network,
  }
}

function spacesOf(
  spaces: readonly (string | RelaySpaceConfig)[],
  allow: Readonly<Record<string, readonly string[]>>,
): RelaySpaceConfig[] {
  if (!Array.isArray(spaces)) throw new RelayConfigError('spaces must be a list')
  const result: RelaySpaceConfig[] = []
  const names = new Set<string>()
  for (const entry of spaces) {
    const space: RelaySpaceConfig = typeof entry === 'string' ? { name: entry } : entry
    if (typeof space?.name !== 'string' || space.name.length === 0) {
      throw new RelayConfigError('spaces: each space needs a non-empty name')
    }
    if (space.name.length > SPACE_NAME_MAX) {
      throw new RelayConfigError(`spaces: ${space.name.slice(0, 40)}... is over 256 characters`)
    }
    if (names.has(space.name)) throw new RelayConfigError(`spaces: ${space.name} is listed twice`)
    names.add(space.name)
    const peers = allow[space.name] ?? space.allow
    result.push(
      peers === undefined
        ? { name: space.name }
        : { name: space.name, allow: peerList(`allow (space ${space.name})`, peers) },
    )
  }
  if (result.length === 0) throw new RelayConfigError('spaces: serve at least one space')
  if (typeof allow !== 'object' || allow === null) {
    throw new RelayConfigError('allow must map space names to lists of peer ids')
  }
  for (const name of Object.keys(allow)) {
    if (!names.has(name)) {
      throw new RelayConfigError(
        `allow: space ${name} is not served (served: ${[...names].join(', ')})`,
      )
    }
  }
  return result
}

function peerList(option: string, peers: readonly string[]): string[] {
  if (!Array.isArray(peers)) throw new RelayConfigError(`${option} must be a list of peer ids`)
  for (const peer of peers) {
    if (typeof peer !== 'string' || !PEER_ID.test(peer)) {
      throw new RelayConfigError(`${option}: ${String(peer)} is not a libp2p peer id`)
    }
  }
  return [...new Set(peers)]
}

/** The peer id of a bootstrap multiaddr (its `/p2p/<id>` part). */
export function bootstrapPeerId(address: string): string {
  multiaddrLike('bootstrap', address)
  const id = /\/p2p\/([^/]+)$/.exec(address)?.[1]
  if (id === undefined || !PEER_ID.test(id)) {
    throw new RelayConfigError(`bootstrap: ${address} must end with /p2p/<peer id>`)
  }
  return id
}

function multiaddrLike(option: string, address: string): void {
  if (typeof address !== 'string' || !/^\/[a-z0-9]+\/[^/]/i.test(address)) {
    throw new RelayConfigError(`${option}: ${String(address)} is not a multiaddr`)
  }
}

function text(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RelayConfigError(`${option} must be a non-empty string`)
  }
  return value
}

function list(option: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new RelayConfigError(`${option} must be a list of strings`)
  }
  return [...value]
}

function integer(option: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RelayConfigError(`${option} must be an integer from ${min} to ${max}`)
  }
  return value
}

function bool(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new RelayConfigError(`${option} must be true or false`)
  return value
}

function choice<T extends string>(option: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw new RelayConfigError(`${option} must be one of ${choices.join(', ')}`)
  }
  return value as T
}

function plainObject(option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayConfigError(`${option} must be an object`)
  }
  return { ...(value as Record<string, unknown>) }
}

function absolute(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path)
}

// ---- the command line ------------------------------------------------------------------------

type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'allow' | 'choice'

interface OptionSpec {
  /** The RelayConfig key (or a CLI-only name). */
  readonly key: keyof RelayConfig | 'config'
  readonly flag: string
  readonly kind: Kind
  readonly placeholder?: string
  readonly choices?: readonly string[]
  /** No environment variable (the file or flags only). */
  readonly noEnv?: boolean
  readonly default: string
  readonly help: string
}

/** Every command-line option; the environment variable is MENDSYNC_RELAY_<FLAG IN CAPITALS>. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'config',
    flag: 'config',
    kind: 'string',
    placeholder: '<file>',
    default: 'none',
    help: 'JSON file with any option below by its config name (e.g. "dataDir", "spaces", "replica"); flags and environment variables override it.',
  },
  {
    key: 'host',
    flag: 'host',
    kind: 'string',
    placeholder: '<address>',
    default: '127.0.0.1',
    help: 'Interface the WebSocket listener binds (0.0.0.0: all). Ignored when --listen is given.',
  },
  {
    key: 'port',
    flag: 'port',
    kind: 'integer',
    placeholder: '<port>',
    default: '4401',
    help: 'WebSocket port (0: a free port). Ignored when --listen is given.',
  },
  {
    key: 'listen',
    flag: 'listen',
    kind: 'list',
    placeholder: '<multiaddr>',
    default: '/ip4/<host>/tcp/<port>/ws',
    help: 'libp2p listen address; repeat for several (environment: comma-separated).',
  },
  {
    key: 'announce',
    flag: 'announce',
    kind: 'list',
    placeholder: '<multiaddr>',
    default: 'none (the listen addresses)',
    help: 'Address announced to peers instead of the listen ones, e.g. /dns4/relay.example/tcp/443/wss; repeatable.',
  },
  {
    key: 'bootstrap',
    flag: 'bootstrap',
    kind: 'list',
    placeholder: '<multiaddr>',
    default: 'none',
    help: 'Another relay of the cluster, /.../p2p/<peer id>; dialled at start and again whenever disconnected; repeatable.',
  },
  {
    key: 'bootstrapRedialMs',
    flag: 'bootstrap-redial-ms',
    kind: 'integer',
    placeholder: '<ms>',
    default: '10000',
    help: 'How often a disconnected bootstrap peer is dialled again.',
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    kind: 'string',
    placeholder: '<dir>',
    default: './.data/relay',
    help: 'Directory of the identity and of one SQLite file per space (spaces/<space>.sqlite); created mode 0700.',
  },
  {
    key: 'identityFile',
    flag: 'identity',
    kind: 'string',
    placeholder: '<file>',
    default: '<data-dir>/peer.key',
    help: 'Private key file; created (mode 0600) on first start and reused, so the peer id stays the same.',
  },
  {
    key: 'spaces',
    flag: 'space',
    kind: 'list',
    placeholder: '<name>',
    default: 'demo',
    help: 'A space to serve; repeat for several (environment: comma-separated). Replaces the default list.',
  },
  {
    key: 'allow',
    flag: 'allow',
    kind: 'allow',
    placeholder: '<space>=<peer id>[,<peer id>...]',
    default: 'none (every space open)',
    help: 'Allowlist of a space: only these peers may read, write or gossip in it; repeat per space (environment: entries separated by ";").',
  },
  {
    key: 'metrics',
    flag: 'metrics',
    kind: 'boolean',
    default: 'on',
    help: 'Serve /metrics (Prometheus) and /healthz over HTTP; --no-metrics turns it off.',
  },
  {
    key: 'metricsHost',
    flag: 'metrics-host',
    kind: 'string',
    placeholder: '<host>',
    default: '127.0.0.1',
    help: 'Interface of the HTTP server.',
  },
  {
    key: 'metricsPort',
    flag: 'metrics-port',
    kind: 'integer',
    placeholder: '<port>',
    default: '9464',
    help: 'Port of the HTTP server (0: a free port).',
  },
  {
    key: 'circuitRelay',
    flag: 'circuit-relay',
    kind: 'boolean',
    default: 'on',
    help: 'Serve circuit-relay-v2 reservations so browsers reach each other through the relay; --no-circuit-relay turns it off.',
  },
  {
    key: 'maxReservations',
    flag: 'max-reservations',
    kind: 'integer',
    placeholder: '<n>',
    default: '128',
    help: 'Most circuit-relay reservations held at once.',
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    kind: 'integer',
    placeholder: '<n>',
    default: '1000',
    help: 'Most open libp2p connections.',
  },
  {
    key: 'inboundConnectionThreshold',
    flag: 'inbound-connection-threshold',
    kind: 'integer',
    placeholder: '<n>',
    default: '25',
    help: 'Inbound connections accepted per second from one IP address (raise it when many peers share one address).',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    kind: 'choice',
    choices: LOG_FORMATS,
    placeholder: 'text|json',
    default: 'text',
    help: 'Human-readable lines, or one JSON object per line.',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    kind: 'choice',
    choices: LOG_LEVELS,
    placeholder: 'debug|info|warn|error|silent',
    default: 'info',
    help: 'Least severe level logged.',
  },
  {
    key: 'progressIntervalMs',
    flag: 'progress-interval-ms',
    kind: 'integer',
    placeholder: '<ms>',
    default: '5000',
    help: 'A reconciliation running longer than this gets a progress line this often (on a terminal: one live line, updated every second).',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout-ms',
    kind: 'integer',
    placeholder: '<ms>',
    default: '10000',
    help: 'On SIGINT/SIGTERM, how long the graceful shutdown may take before the relay exits with status 1.',
  },
]

/** Options only the JSON file (or the programmatic API) sets. */
const FILE_ONLY: readonly { key: keyof RelayConfig; default: string; help: string }[] = [
  {
    key: 'replica',
    default: '{}',
    help: 'Engine tunables for every space (antiEntropyIntervalMs, gossipIntervalMs, ...; see @mendsync/replica).',
  },
  {
    key: 'network',
    default: '{}',
    help: 'Network tunables (maxFrameBytes, maxInFlight, gossipRatePerSecond, ...; see @mendsync/libp2p).',
  },
]

/** What every option's environment variable starts with (see {@link envName}). */
export const ENV_PREFIX = 'MENDSYNC_RELAY_'

/** The environment variable of an option: MENDSYNC_RELAY_DATA_DIR for --data-dir. */
export function envName(flag: string): string {
  return `${ENV_PREFIX}${flag.toUpperCase().replaceAll('-', '_')}`
}

/** What the command line asks for. */
export type CliRequest =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly config: RelayConfig; readonly sources: readonly string[] }

/**
 * Builds the configuration from `argv` (without node and the script), `env` and the JSON file
 * that `--config` or MENDSYNC_RELAY_CONFIG names. Throws {@link RelayConfigError} on any bad
 * flag, variable or file. The result still goes through {@link resolveRelayConfig}.
 */
export async function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): Promise<CliRequest> {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...Object.fromEntries(
          OPTIONS.map((option) => [
            option.flag,
            option.kind === 'boolean'
              ? { type: 'boolean' as const }
              : {
                  type: 'string' as const,
                  multiple: option.kind === 'list' || option.kind === 'allow',
                },
          ]),
        ),
      },
    })
  } catch (error) {
    throw new RelayConfigError((error as Error).message)
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>
  if (values.help) return { kind: 'help' }
  if (values.version) return { kind: 'version' }

  const sources: string[] = []
  const configPath = (values.config as string | undefined) ?? env[envName('config')]
  let fromFile: Record<string, unknown> = {}
  if (configPath !== undefined && configPath !== '') {
    fromFile = await readConfigFile(absolute(cwd, configPath))
    sources.push(`file ${absolute(cwd, configPath)}`)
  }
  const fromEnv: Record<string, unknown> = {}
  const fromFlags: Record<string, unknown> = {}
  for (const option of OPTIONS) {
    if (option.key === 'config') continue
    const variable = envName(option.flag)
    const raw = env[variable]
    if (raw !== undefined && raw !== '') {
      fromEnv[option.key] = convert(option, splitEnv(option, raw), variable)
      sources.push(variable)
    }
    const flag = values[option.flag]
    if (flag !== undefined) {
      fromFlags[option.key] = convert(option, flag, `--${option.flag}`)
    }
  }
  if (Object.keys(fromFlags).length > 0) sources.push('flags')
  const allow = {
    ...((fromFile.allow as Record<string, readonly string[]> | undefined) ?? {}),
    ...((fromEnv.allow as Record<string, readonly string[]> | undefined) ?? {}),
    ...((fromFlags.allow as Record<string, readonly string[]> | undefined) ?? {}),
  }
  const config = { ...fromFile, ...fromEnv, ...fromFlags, allow } as RelayConfig
  return { kind: 'run', config, sources }
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let body: string
  try {
    body = await readFile(path, 'utf8')
  } catch (error) {
    throw new RelayConfigError(`config file ${path}: ${(error as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (error) {
    throw new RelayConfigError(`config file ${path} is not JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayConfigError(`config file ${path} must hold a JSON object`)
  }
  const known = new Set<string>([
    ...OPTIONS.filter((option) => option.key !== 'config').map((option) => option.key),
    ...FILE_ONLY.map((option) => option.key),
  ])
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new RelayConfigError(
        `config file ${path}: unknown option ${key} (known: ${[...known].join(', ')})`,
      )
    }
  }
  return value as Record<string, unknown>
}

function splitEnv(option: OptionSpec, raw: string): string | string[] {
  if (option.kind === 'list') return raw.split(',').map((item) => item.trim())
  if (option.kind === 'allow') return raw.split(';').map((item) => item.trim())
  return raw
}

function convert(option: OptionSpec, raw: string | string[] | boolean, where: string): unknown {
  switch (option.kind) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw
      const value = String(raw).toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(value)) return true
      if (['0', 'false', 'no', 'off'].includes(value)) return false
      throw new RelayConfigError(`${where} must be true or false, got ${String(raw)}`)
    }
    case 'integer': {
      const value = String(raw)
      if (!/^\d+$/.test(value)) throw new RelayConfigError(`${where} must be an integer`)
      return Number(value)
    }
    case 'list':
      return (Array.isArray(raw) ? raw : [String(raw)]).filter((item) => item.length > 0)
    case 'allow': {
      const allow: Record<string, string[]> = {}
      for (const entry of Array.isArray(raw) ? raw : [String(raw)]) {
        if (entry === '') continue
        const match = /^([^=]+)=(.*)$/.exec(entry)
        if (!match) {
          throw new RelayConfigError(
            `${where} wants <space>=<peer id>[,<peer id>...], got ${entry}`,
          )
        }
        const space = match[1] as string
        const peers = (match[2] as string)
          .split(',')
          .map((peer) => peer.trim())
          .filter((peer) => peer.length > 0)
        allow[space] = [...(allow[space] ?? []), ...peers]
      }
      return allow
    }
    case 'choice': {
      const value = String(raw)
      if (!option.choices?.includes(value)) {
        throw new RelayConfigError(`${where} must be one of ${option.choices?.join(', ')}`)
      }
      return value
    }
    default:
      return String(raw)
  }
}

/** The `--help` text: every option, its environment variable and its default. */
export function helpText(): string {
  const lines = [
    'mendsync-relay: a long-lived mendsync peer with one file replica per space, that browsers',
    'and Node peers dial over WebSockets. It serves pull / push / reconcile, relays gossip,',
    'serves circuit-relay-v2 reservations and exports Prometheus metrics.',
    '',
    'Usage: mendsync-relay [options]',
    '',
    'With no options it listens on ws://127.0.0.1:4401, keeps its data in ./.data/relay, serves',
    'the space "demo" to every peer and metrics on http://127.0.0.1:9464/metrics.',
    '',
    'Options (flag > environment variable > config file > default):',
  ]
  for (const option of OPTIONS) {
    const flag =
      option.kind === 'boolean'
        ? `--${option.flag}, --no-${option.flag}`
        : `--${option.flag} ${option.placeholder ?? '<value>'}`
    lines.push(`  ${flag}`)
    for (const line of wrap(option.help, 72)) lines.push(`      ${line}`)
    lines.push(`      default: ${option.default}`)
    lines.push(
      option.key === 'config'
        ? `      env: ${envName(option.flag)}`
        : `      env: ${envName(option.flag)}; config file: "${option.key}"`,
    )
  }
  lines.push('  -h, --help      This text.')
  lines.push('  -v, --version   The version.')
  lines.push('')
  lines.push('Config file only:')
  for (const option of FILE_ONLY) {
    lines.push(`  "${option.key}"`)
    for (const line of wrap(option.help, 72)) lines.push(`      ${line}`)
    lines.push(`      default: ${option.default}`)
  }
  lines.push('')
  lines.push(
    'In the config file, "spaces" may list names or {"name": ..., "allow": [peer ids]}, and',
  )
  lines.push('"allow" maps space names to lists of peer ids.')
  lines.push('')
  lines.push('Signals: SIGINT / SIGTERM stop gracefully (refuse new connections, finish writes in')
  lines.push("flight, close the spaces' files, stop libp2p) and exit 0; past --shutdown-timeout-ms")
  lines.push('(or on a second signal) the relay exits with status 1.')
  return `${lines.join('\n')}\n`
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line.length === 0 ? word : `${line} ${word}`
    }
  }
  if (line.length > 0) lines.push(line)
  return lines
}
