// @mendsync/relay: the relay as a library. `startRelay(config)` runs what the `mendsync-relay`
// command runs (the CLI is `src/cli.ts`), so tests and `npm start` can embed it.
export { busyPortMessage, type ListenPort, relayPorts } from './busy-port.js'
export {
  DEFAULT_RELAY_CONFIG,
  type DescribedOption,
  ENV_PREFIX,
  envName,
  helpText,
  IDENTITY_FILE_NAME,
  type LogFormat,
  type LogLevel,
  OPTIONS,
  parseCommandLine,
  RELAY_OPTIONS,
  type RelayConfig,
  RelayConfigError,
  type RelayNetworkOptions,
  type RelaySpaceConfig,
  type ResolvedRelayConfig,
  resolveRelayConfig,
} from './config.js'
export {
  createLogger,
  type LogFields,
  RELAY_NAMESPACE,
  type RelayLogger,
  type RelayLoggerOptions,
} from './log.js'
export { type RefusedProtocol, replicaMetricName } from './metrics.js'
export {
  RELAY_VERSION,
  type RelayHandle,
  type StartRelayOptions,
  startRelay,
} from './relay.js'
