// `npm start`: the relay plus the built cart demo, in one process. Prints the URL to open;
// SIGINT or SIGTERM stops both gracefully (exit 0). The relay takes its options like
// `mendsync-relay` (flags after `npm start --`, MENDSYNC_RELAY_* variables, e.g.
// MENDSYNC_RELAY_PORT and MENDSYNC_RELAY_METRICS_PORT); the demo's port is MENDSYNC_DEMO_PORT.
// A port that is taken is reported in one line naming it and how to choose another.
import {
  busyPortMessage,
  helpText,
  parseCommandLine,
  RELAY_VERSION,
  RelayConfigError,
  type RelayHandle,
  relayPorts,
  resolveRelayConfig,
  startRelay,
} from '@mendsync/relay'
import { type DemoServer, serveDemo } from './serve.ts'

const SHUTDOWN_TIMEOUT_MS = 10_000
/** The environment variable of the demo's HTTP port. */
const DEMO_PORT_VARIABLE = 'MENDSYNC_DEMO_PORT'
const DEFAULT_DEMO_PORT = 5173

function exitWith(message: string, status: number): never {
  process.stderr.write(`mendsync: ${message}\n`)
  process.exit(status)
}

function demoPort(): number {
  const text = process.env[DEMO_PORT_VARIABLE]
  if (text === undefined || text === '') return DEFAULT_DEMO_PORT
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    exitWith(
      `${DEMO_PORT_VARIABLE} must be a port number (0-65535, 0: a free port), got ${text}`,
      2,
    )
  }
  return port
}

let request: Awaited<ReturnType<typeof parseCommandLine>>
let settings: ReturnType<typeof resolveRelayConfig>
try {
  request = await parseCommandLine(process.argv.slice(2), process.env)
  if (request.kind === 'help') {
    process.stdout.write(
      `${helpText()}\nThe cart demo's port: ${DEMO_PORT_VARIABLE} (default ${DEFAULT_DEMO_PORT}).\n`,
    )
    process.exit(0)
  }
  if (request.kind === 'version') {
    process.stdout.write(`${RELAY_VERSION}\n`)
    process.exit(0)
  }
  settings = resolveRelayConfig(request.config)
} catch (error) {
  if (error instanceof RelayConfigError) exitWith(error.message, 2)
  throw error
}
const port = demoPort()

let relay: RelayHandle
try {
  relay = await startRelay(request.config)
} catch (error) {
  const busy = busyPortMessage(error, relayPorts(settings, request.config.listen !== undefined))
  if (busy === undefined) throw error
  exitWith(busy, 1)
}
const browserAddress = relay.multiaddrs.find((address) => address.includes('/ws'))
let demo: DemoServer
try {
  demo = await serveDemo({ port, relay: browserAddress })
} catch (error) {
  await relay.stop()
  const busy = busyPortMessage(error, [
    { port, what: 'the cart demo', choose: `${DEMO_PORT_VARIABLE}=<n>` },
  ])
  if (busy === undefined) throw error
  exitWith(busy, 1)
}
console.log(
  `\nmendsync cart demo: open ${demo.url} (relay ${browserAddress ?? 'not reachable over WebSockets'})`,
)

let stopping = false
function stop(signal: NodeJS.Signals): void {
  if (stopping) return
  stopping = true
  console.log(`mendsync: ${signal}: shutting down`)
  const timer = setTimeout(() => {
    console.error(`shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms`)
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS)
  Promise.all([demo.close(), relay.stop()]).then(
    () => {
      clearTimeout(timer)
      process.exit(0)
    },
    (error: unknown) => {
      console.error('shutdown failed:', error)
      process.exit(1)
    },
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
