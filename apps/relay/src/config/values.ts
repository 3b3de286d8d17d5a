// The kinds of option value: how each is read from a flag or an environment variable, and how it
// is checked from any source (flags, variables, the JSON file, the programmatic API). Messages
// name the option: its config key, or the flag or variable it was read from.
import { RelayConfigError } from './error.js'

/** What `parseArgs` gives for a flag, or an environment variable's text (split when a list). */
export type RawValue = string | readonly string[] | boolean

/** How a kind of value is given on the command line and in the environment. */
export interface CommandLineForm {
  /** `boolean`: `--x` / `--no-x`; `string`: one value; `strings`: a repeatable flag. */
  readonly flag: 'boolean' | 'string' | 'strings'
  /** What separates the items of a list in an environment variable. */
  readonly separator?: string
  /** The value's placeholder in `--help`. */
  readonly placeholder?: string
  /** The value that flag or variable text stands for (`where` names it), before the check. */
  fromText(raw: RawValue, where: string): unknown
}

/** One kind of option value: `In` as configured, `Out` once checked. */
export interface ValueKind<In, Out = In> {
  /** Absent for values only the JSON file or the programmatic API can give. */
  readonly commandLine?: CommandLineForm
  /** Checks a configured value; `option` names it (config key, flag or variable). */
  check(value: unknown, option: string): Out
  /** Marks the configured type (never set). */
  readonly configured?: In
}

const items = (raw: RawValue): string[] =>
  [raw]
    .flat()
    .map(String)
    .filter((item) => item.length > 0)

/** A non-empty string; `placeholder` shows it in `--help`. */
export function text(placeholder: string): ValueKind<string> {
  return {
    commandLine: { flag: 'string', placeholder, fromText: String },
    check(value, option) {
      if (typeof value !== 'string' || value.length === 0) {
        throw new RelayConfigError(`${option} must be a non-empty string`)
      }
      return value
    },
  }
}

/** An integer from `min` to `max`. */
export function integer(
  placeholder: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): ValueKind<number> {
  return {
    commandLine: {
      flag: 'string',
      placeholder,
      fromText: (raw) => (/^\d+$/.test(String(raw)) ? Number(raw) : raw),
    },
    check(value, option) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new RelayConfigError(`${option} must be an integer from ${min} to ${max}`)
      }
      return value
    },
  }
}

const BOOLEAN_WORDS = new Map<string, boolean>([
  ['1', true],
  ['true', true],
  ['yes', true],
  ['on', true],
  ['0', false],
  ['false', false],
  ['no', false],
  ['off', false],
])

/** On or off: `--x` / `--no-x`, or `1`/`true`/`yes`/`on`, `0`/`false`/`no`/`off` in a variable. */
export const onOff: ValueKind<boolean> = {
  commandLine: {
    flag: 'boolean',
    fromText: (raw) =>
      typeof raw === 'boolean' ? raw : (BOOLEAN_WORDS.get(String(raw).toLowerCase()) ?? raw),
  },
  check(value, option) {
    if (typeof value !== 'boolean') {
      throw new RelayConfigError(`${option} must be true or false, got ${String(value)}`)
    }
    return value
  },
}

/** One of `choices`. */
export function choice<T extends string>(choices: readonly T[]): ValueKind<T> {
  return {
    commandLine: { flag: 'string', placeholder: choices.join('|'), fromText: String },
    check(value, option) {
      if (!choices.includes(value as T)) {
        throw new RelayConfigError(`${option} must be one of ${choices.join(', ')}`)
      }
      return value as T
    },
  }
}

/**
 * A list of strings, each passing `checkItem`: a repeatable flag, comma-separated in a variable
 * (empty items dropped).
 */
export function list(
  placeholder: string,
  checkItem: (option: string, item: string) => void = () => {},
): ValueKind<readonly string[]> {
  return {
    commandLine: { flag: 'strings', separator: ',', placeholder, fromText: items },
    check(value, option) {
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
        throw new RelayConfigError(`${option} must be a list of strings`)
      }
      for (const item of value) checkItem(option, item)
      return [...value]
    },
  }
}

/** A plain object, taken as it is (tunables the engine and the network check themselves). */
export function object<T extends object>(): ValueKind<T> {
  return {
    check(value, option) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new RelayConfigError(`${option} must be an object`)
      }
      return { ...value } as T
    },
  }
}

/** A space the relay serves, with its allowlist (absent: open to every peer). */
export interface RelaySpaceConfig {
  /** The space's name (what peers join). */
  readonly name: string
  /** Peer ids allowed to read and write the space; everyone else is refused. Default: open. */
  readonly allow?: readonly string[]
}

const SPACE_NAME_MAX = 256

/**
 * The spaces served: names (`--space`, repeatable) or, in the file, `{ name, allow }`. The names
 * are checked here (non-empty, at most 256 characters, each once, at least one space), the
 * allowlists once the `allow` option is merged in (`resolveRelayConfig`).
 */
export const spaceList: ValueKind<readonly (string | RelaySpaceConfig)[], RelaySpaceConfig[]> = {
  commandLine: { flag: 'strings', separator: ',', placeholder: '<name>', fromText: items },
  check(value) {
    if (!Array.isArray(value)) throw new RelayConfigError('spaces must be a list')
    const names = new Set<string>()
    const spaces = value.map((entry: unknown) => {
      const space = (typeof entry === 'string' ? { name: entry } : entry) as RelaySpaceConfig
      if (typeof space?.name !== 'string' || space.name.length === 0) {
        throw new RelayConfigError('spaces: each space needs a non-empty name')
      }
      if (space.name.length > SPACE_NAME_MAX) {
        throw new RelayConfigError(`spaces: ${space.name.slice(0, 40)}... is over 256 characters`)
      }
      if (names.has(space.name)) throw new RelayConfigError(`spaces: ${space.name} is listed twice`)
      names.add(space.name)
      return space
    })
    if (spaces.length === 0) throw new RelayConfigError('spaces: serve at least one space')
    return spaces
  },
}

/** Allowlists by space name. */
export type Allowlists = Readonly<Record<string, readonly string[]>>

/**
 * The `allow` option: `--allow <space>=<peer id>[,<peer id>...]` per space, `;`-separated in a
 * variable. Its peer ids are checked with the spaces (`resolveRelayConfig`).
 */
export const allowlists: ValueKind<Allowlists> = {
  commandLine: {
    flag: 'strings',
    separator: ';',
    placeholder: '<space>=<peer id>[,<peer id>...]',
    fromText(raw, where) {
      const allow: Record<string, string[]> = {}
      for (const entry of items(raw)) {
        const match = /^([^=]+)=(.*)$/.exec(entry)
        if (!match) {
          throw new RelayConfigError(
            `${where} wants <space>=<peer id>[,<peer id>...], got ${entry}`,
          )
        }
        const space = match[1] as string
        const peers = (match[2] as string).split(',').map((peer) => peer.trim())
        allow[space] = [...(allow[space] ?? []), ...peers.filter((peer) => peer.length > 0)]
      }
      return allow
    },
  },
  check(value) {
    if (typeof value !== 'object' || value === null) {
      throw new RelayConfigError('allow must map space names to lists of peer ids')
    }
    return value as Allowlists
  },
}

// base58btc (12D3Koo..., Qm...) or a base32 CID (b...): what libp2p prints for peer ids.
const PEER_ID = /^(?:[1-9A-HJ-NP-Za-km-z]{40,100}|b[a-z2-7]{50,120})$/

/** Checks a list of peer ids (`option` names it in the message) and drops duplicates. */
export function peerList(option: string, peers: readonly string[]): string[] {
  if (!Array.isArray(peers)) throw new RelayConfigError(`${option} must be a list of peer ids`)
  for (const peer of peers) {
    if (typeof peer !== 'string' || !PEER_ID.test(peer)) {
      throw new RelayConfigError(`${option}: ${String(peer)} is not a libp2p peer id`)
    }
  }
  return [...new Set(peers)]
}

/** Checks that `address` looks like a multiaddr (`/proto/value...`). */
export function multiaddrLike(option: string, address: string): void {
  if (typeof address !== 'string' || !/^\/[a-z0-9]+\/[^/]/i.test(address)) {
    throw new RelayConfigError(`${option}: ${String(address)} is not a multiaddr`)
  }
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
