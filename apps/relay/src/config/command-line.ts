// The command line: flags (`node:util` parseArgs), MENDSYNC_RELAY_* variables and the JSON file
// that `--config` names, merged with flags over variables over the file. Each option's flag and
// variable come from its kind (see RELAY_OPTIONS); the result still goes through
// `resolveRelayConfig`.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { RelayConfigError } from './error.js'
import { envName, OPTIONS, RELAY_OPTIONS, type RelayConfig } from './options.js'
import { absolute } from './resolve.js'
import type { Allowlists, RawValue } from './values.js'

/** What the command line asks for. */
export type CliRequest =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly config: RelayConfig; readonly sources: readonly string[] }

/**
 * Builds the configuration from `argv` (without node and the script), `env` and the JSON file
 * that `--config` or MENDSYNC_RELAY_CONFIG names. Throws {@link RelayConfigError} on any bad
 * flag, variable or file. The result still goes through `resolveRelayConfig`.
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
          OPTIONS.map(({ flag, form }) => [
            flag,
            form.flag === 'boolean'
              ? { type: 'boolean' as const }
              : { type: 'string' as const, multiple: form.flag === 'strings' },
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
  for (const { key, flag, env: variable, form, check } of OPTIONS) {
    if (key === 'config') continue
    // Checked here too, so that a message names the flag or the variable.
    const read = (raw: RawValue, where: string): unknown => {
      const value = form.fromText(raw, where)
      check(value, where)
      return value
    }
    const fromVariable = env[variable]
    if (fromVariable !== undefined && fromVariable !== '') {
      const { separator } = form
      fromEnv[key] = read(
        separator === undefined
          ? fromVariable
          : fromVariable.split(separator).map((item) => item.trim()),
        variable,
      )
      sources.push(variable)
    }
    const given = values[flag]
    if (given !== undefined) fromFlags[key] = read(given, `--${flag}`)
  }
  if (Object.keys(fromFlags).length > 0) sources.push('flags')
  // Allowlists merge by space: a source's list for a space replaces the lower sources' list for
  // that space only.
  const allow = {
    ...(fromFile.allow as Allowlists | undefined),
    ...(fromEnv.allow as Allowlists | undefined),
    ...(fromFlags.allow as Allowlists | undefined),
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
  const known = Object.keys(RELAY_OPTIONS)
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new RelayConfigError(
        `config file ${path}: unknown option ${key} (known: ${known.join(', ')})`,
      )
    }
  }
  return value as Record<string, unknown>
}
