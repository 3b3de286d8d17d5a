// The relay's configuration: the option table (one definition per option, config/options.ts),
// the checks that resolve a configuration (config/resolve.ts), the command line (flags >
// MENDSYNC_RELAY_* variables > the JSON file > defaults, config/command-line.ts) and the help
// text and README table generated from the table (config/docs.ts).
export { type CliRequest, parseCommandLine } from './config/command-line.js'
export { helpText } from './config/docs.js'
export { RelayConfigError } from './config/error.js'
export {
  DEFAULT_RELAY_CONFIG,
  type DescribedOption,
  ENV_PREFIX,
  envName,
  IDENTITY_FILE_NAME,
  type LogFormat,
  type LogLevel,
  OPTIONS,
  RELAY_OPTIONS,
  type RelayConfig,
  type RelayNetworkOptions,
  type ResolvedRelayConfig,
} from './config/options.js'
export { resolveRelayConfig } from './config/resolve.js'
export { bootstrapPeerId, type RelaySpaceConfig } from './config/values.js'
