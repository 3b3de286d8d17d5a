// From a configuration to the one the relay runs with: every value checked by its kind, the
// defaults filled in, and the rules that tie options together (listen from host and port, the
// identity file in the data directory, allowlists onto their spaces).
import { isAbsolute, resolve } from 'node:path'
import { RelayConfigError } from './error.js'
import {
  type CheckedOptionValues,
  IDENTITY_FILE_NAME,
  RELAY_OPTIONS,
  type RelayConfig,
  type ResolvedRelayConfig,
} from './options.js'
import { type Allowlists, peerList, type RelaySpaceConfig } from './values.js'

/** The options whose default derives from other options (absent until derived). */
type Derived = 'listen' | 'identityFile'
type Checked = Omit<CheckedOptionValues, Derived> & Partial<Pick<CheckedOptionValues, Derived>>

/** Fills in the defaults of `config`, resolves paths against `cwd` and checks every value. */
export function resolveRelayConfig(
  config: RelayConfig = {},
  cwd: string = process.cwd(),
): ResolvedRelayConfig {
  const given = config as Readonly<Record<string, unknown>>
  const checked: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(RELAY_OPTIONS)) {
    const value = given[key] ?? spec.default
    checked[key] = value === undefined ? undefined : spec.value.check(value, key)
  }
  const { host, port, allow, ...options } = checked as Checked
  const listen = options.listen ?? [defaultListen(host, port)]
  if (listen.length === 0) throw new RelayConfigError('listen: at least one multiaddr is needed')
  const dataDir = absolute(cwd, options.dataDir)
  return {
    ...options,
    listen,
    dataDir,
    identityFile: absolute(cwd, options.identityFile ?? resolve(dataDir, IDENTITY_FILE_NAME)),
    spaces: withAllowlists(options.spaces, allow),
  }
}

function defaultListen(host: string, port: number): string {
  const family = host.includes(':') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : null
  if (family === null) {
    throw new RelayConfigError(`host must be an IP address, got ${host} (or give listen)`)
  }
  return `/${family}/${host}/tcp/${port}/ws`
}

/** Each space with its allowlist: the `allow` option's entry, else the space's own. */
function withAllowlists(spaces: readonly RelaySpaceConfig[], allow: Allowlists) {
  const served = spaces.map(({ name, allow: own }): RelaySpaceConfig => {
    const peers = allow[name] ?? own
    return peers === undefined
      ? { name }
      : { name, allow: peerList(`allow (space ${name})`, peers) }
  })
  const names = spaces.map((space) => space.name)
  for (const name of Object.keys(allow)) {
    if (!names.includes(name)) {
      throw new RelayConfigError(`allow: space ${name} is not served (served: ${names.join(', ')})`)
    }
  }
  return served
}

/** `path` made absolute against `cwd`. */
export function absolute(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path)
}
