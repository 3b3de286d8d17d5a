// The relay's options, each defined once: its config key, its kind of value (which gives its flag,
// its environment variable and its checks), its default and its help. The types, the defaults,
// the checks, the command line, `--help` and the README's option table all derive from this table.
import type { Libp2pNetworkOptions } from '@mendsync/libp2p'
import type { ReplicaTunables } from '@mendsync/replica'
import {
  allowlists,
  bootstrapPeerId,
  type CommandLineForm,
  choice,
  integer,
  list,
  multiaddrLike,
  object,
  onOff,
  spaceList,
  text,
  type ValueKind,
} from './values.js'

const LOG_FORMATS = ['text', 'json'] as const
const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
/** How log lines are written: human-readable `text`, or one JSON object per line. */
export type LogFormat = (typeof LOG_FORMATS)[number]
/** The lowest level logged; `silent` logs nothing. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Network tunables a relay may set (see `Libp2pNetworkOptions` of @mendsync/libp2p). */
export type RelayNetworkOptions = Omit<
  Libp2pNetworkOptions,
  'penalties' | 'stopNodeOnClose' | 'onRefused'
>

/** One option of the table. */
export interface OptionSpec<In, Out> {
  readonly value: ValueKind<In, Out>
  /** The flag without `--` (and so the variable); default: the config key in kebab-case. */
  readonly flag?: string
  /** Absent when the default derives from other options (then {@link OptionSpec.shown} says how). */
  readonly default?: In
  /** The default as documented, when it is not the default value itself. */
  readonly shown?: string
  /** One line (wrapped in `--help`); also the README table's "meaning". */
  readonly help: string
}

function option<In, Out>(
  value: ValueKind<In, Out>,
  settings: Omit<OptionSpec<NoInfer<In>, Out>, 'value' | 'help'>,
  help: string,
): OptionSpec<In, Out> {
  return { value, ...settings, help }
}

/** The name of the identity file in the data directory when `identityFile` is not given. */
export const IDENTITY_FILE_NAME = 'peer.key'

/** `--config <file>`: where the other options may also come from (not itself a config key). */
export const CONFIG_FILE_OPTION = option(
  text('<file>'),
  { shown: 'none' },
  'JSON file with any option below by its config name (e.g. "dataDir", "spaces", "replica"); flags and environment variables override it.',
)

const port = integer('<port>', 0, 65_535)
const milliseconds = integer('<ms>', 100)
const count = integer('<n>', 1)
const multiaddrs = list('<multiaddr>', multiaddrLike)

/** Every option of the relay by config key, in the order `--help` and the README list them. */
export const RELAY_OPTIONS = {
  host: option(
    text('<address>'),
    { default: '127.0.0.1' },
    'Interface the WebSocket listener binds (0.0.0.0: all). Ignored when --listen is given.',
  ),
  port: option(
    port,
    { default: 4401 },
    'WebSocket port (0: a free port). Ignored when --listen is given.',
  ),
  listen: option(
    multiaddrs,
    { shown: '/ip4/<host>/tcp/<port>/ws' },
    'libp2p listen address; repeat for several (environment: comma-separated).',
  ),
  announce: option(
    multiaddrs,
    { default: [], shown: 'none (the listen addresses)' },
    'Address announced to peers instead of the listen ones, e.g. /dns4/relay.example/tcp/443/wss; repeatable.',
  ),
  bootstrap: option(
    list('<multiaddr>', (_option, address) => bootstrapPeerId(address)),
    { default: [] },
    'Another relay of the cluster, /.../p2p/<peer id>; dialled at start and again whenever disconnected; repeatable.',
  ),
  bootstrapRedialMs: option(
    milliseconds,
    { default: 10_000 },
    'Longest wait before a disconnected bootstrap peer is dialled again (redials back off up to it).',
  ),
  dataDir: option(
    text('<dir>'),
    { default: './.data/relay' },
    "Directory of the identity and of one SQLite file per space (spaces/<space>.sqlite, and spaces/<id>.space for a private space's descriptor); created mode 0700.",
  ),
  identityFile: option(
    text('<file>'),
    { flag: 'identity', shown: `<data-dir>/${IDENTITY_FILE_NAME}` },
    'Private key file; created (mode 0600) on first start and reused, so the peer id stays the same.',
  ),
  spaces: option(
    spaceList,
    { flag: 'space', default: ['demo'] },
    'A space to serve; repeat for several (environment: comma-separated). Replaces the default list.',
  ),
  allow: option(
    allowlists,
    { default: {}, shown: 'none (every space open)' },
    'Allowlist of a space: only these peers may read, write or gossip in it; repeat per space (environment: entries separated by ";").',
  ),
  privateSpaces: option(
    onOff,
    { default: true },
    'Serve any private space (ms1... id) whose proof a peer presents, opened on demand with no configuration; --no-private-spaces serves only the --space list.',
  ),
  maxOpenSpaces: option(
    count,
    { default: 1000 },
    'Most private spaces open at once; opening one more first closes the least recently used.',
  ),
  spaceIdleMs: option(
    milliseconds,
    { default: 300_000 },
    'A private space nobody used for this long (no request, no gossip) and no peer of which is connected is closed; the next proof opens it again.',
  ),
  maxStoredSpaces: option(
    count,
    { default: 100_000 },
    'Most private spaces stored in the data directory; a proof for a new space past it is refused.',
  ),
  newSpacesPerSecond: option(
    count,
    { default: 5 },
    'New private spaces (never stored before) one peer may create per second, bursts of ten times as many.',
  ),
  spaceMaxKeys: option(
    integer('<n>', 0),
    { default: 100_000 },
    'Quota: most keys of one private space (deleted keys count); a write past it fails QUOTA_EXCEEDED at the writer. 0: no limit.',
  ),
  spaceMaxBytes: option(
    integer('<bytes>', 0),
    { default: 64 * 1024 * 1024 },
    'Quota: most bytes of stored states of one private space; a write past it fails QUOTA_EXCEEDED at the writer. 0: no limit.',
  ),
  metrics: option(
    onOff,
    { default: true },
    'Serve /metrics (Prometheus) and /healthz over HTTP; --no-metrics turns it off.',
  ),
  metricsHost: option(text('<host>'), { default: '127.0.0.1' }, 'Interface of the HTTP server.'),
  metricsPort: option(port, { default: 9464 }, 'Port of the HTTP server (0: a free port).'),
  circuitRelay: option(
    onOff,
    { default: true },
    'Serve circuit-relay-v2 reservations so browsers reach each other through the relay; --no-circuit-relay turns it off.',
  ),
  maxReservations: option(count, { default: 128 }, 'Most circuit-relay reservations held at once.'),
  maxConnections: option(count, { default: 1000 }, 'Most open libp2p connections.'),
  inboundConnectionThreshold: option(
    count,
    { default: 25 },
    'Inbound connections accepted per second from one IP address (raise it when many peers share one address).',
  ),
  logFormat: option(
    choice(LOG_FORMATS),
    { default: 'text' },
    'Human-readable lines, or one JSON object per line.',
  ),
  logLevel: option(choice(LOG_LEVELS), { default: 'info' }, 'Least severe level logged.'),
  progressIntervalMs: option(
    milliseconds,
    { default: 5_000 },
    'A reconciliation running longer than this gets a progress line this often (on a terminal: one live line, updated every second).',
  ),
  shutdownTimeoutMs: option(
    milliseconds,
    { default: 10_000 },
    'On SIGINT/SIGTERM, how long the graceful shutdown may take before the relay exits with status 1.',
  ),
  replica: option(
    object<Partial<ReplicaTunables>>(),
    { default: {} },
    'Engine tunables for every space (antiEntropyIntervalMs, gossipIntervalMs, ...; see @mendsync/replica).',
  ),
  network: option(
    object<RelayNetworkOptions>(),
    { default: {} },
    'Network tunables (maxFrameBytes, maxInFlight, gossipRatePerSecond, ...; see @mendsync/libp2p).',
  ),
}

type Options = typeof RELAY_OPTIONS
type InputOf<O> = O extends OptionSpec<infer In, unknown> ? In : never
type OutputOf<O> = O extends OptionSpec<unknown, infer Out> ? Out : never

/** Every option as configured (see {@link RELAY_OPTIONS} for each one's meaning and default). */
export type RelayOptionValues = { readonly [K in keyof Options]?: InputOf<Options[K]> }

/** Every option once checked. */
export type CheckedOptionValues = { readonly [K in keyof Options]: OutputOf<Options[K]> }

/**
 * Options of `startRelay`. Every one is optional; {@link RELAY_OPTIONS} has each one's meaning and
 * default (as do `--help` and the README's table).
 */
export interface RelayConfig extends RelayOptionValues {
  /** Where log lines go (programmatic only). Default `process.stdout`. */
  readonly logStream?: NodeJS.WritableStream
}

/**
 * A configuration with every default filled in, paths absolute, values checked: every option but
 * `host` and `port` (folded into `listen`) and `allow` (folded into `spaces`).
 */
export type ResolvedRelayConfig = Omit<CheckedOptionValues, 'host' | 'port' | 'allow'>

/** The defaults of {@link RelayConfig} (`listen` and `identityFile` derive from other options). */
export const DEFAULT_RELAY_CONFIG = Object.freeze(
  Object.fromEntries(
    Object.entries(RELAY_OPTIONS).flatMap(([key, spec]) =>
      spec.default === undefined ? [] : [[key, spec.default]],
    ),
  ),
) as Readonly<Required<Omit<RelayOptionValues, 'listen' | 'identityFile'>>>

/** What every option's environment variable starts with (see {@link envName}). */
export const ENV_PREFIX = 'MENDSYNC_RELAY_'

/** The environment variable of an option: MENDSYNC_RELAY_DATA_DIR for --data-dir. */
export function envName(flag: string): string {
  return `${ENV_PREFIX}${flag.toUpperCase().replaceAll('-', '_')}`
}

/** An option as the command line and the documentation see it. */
export interface DescribedOption {
  /** The config key (`config` for `--config`, which is none). */
  readonly key: keyof RelayConfig | 'config'
  /** The flag without `--`, its variable and its form; absent for file and API options. */
  readonly flag: string | undefined
  readonly env: string | undefined
  readonly form: CommandLineForm | undefined
  /** Checks a configured value (see {@link ValueKind.check}). */
  readonly check: (value: unknown, option: string) => unknown
  /** The default as documented. */
  readonly default: string
  readonly help: string
}

/** Every option, `--config` first, in the order `--help` and the README list them. */
export const ALL_OPTIONS: readonly DescribedOption[] = [
  ['config', CONFIG_FILE_OPTION] as const,
  ...Object.entries(RELAY_OPTIONS),
].map(([key, spec]) => {
  const form = spec.value.commandLine
  const flag =
    form === undefined
      ? undefined
      : (spec.flag ?? key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`))
  return {
    key: key as DescribedOption['key'],
    flag,
    env: flag === undefined ? undefined : envName(flag),
    form,
    check: (value: unknown, option: string) => spec.value.check(value, option),
    default: spec.shown ?? showValue(spec.default),
    help: spec.help,
  }
})

/** The options with a flag and an environment variable, `--config` first. */
export const OPTIONS = ALL_OPTIONS.filter(
  (option): option is DescribedOption & { flag: string; env: string; form: CommandLineForm } =>
    option.flag !== undefined,
)

/** A default value as documented: `on`/`off`, a list joined (`none` when empty), JSON objects. */
function showValue(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off'
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(', ')
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
