#!/usr/bin/env node
// mendsync-relay: the command line. Builds the configuration (flags > MENDSYNC_RELAY_* >
// --config file > defaults), starts the relay and stops it gracefully on SIGINT / SIGTERM:
// exit 0 when the shutdown finished within --shutdown-timeout-ms, 1 otherwise (or on a second
// signal). Bad options exit 2 with a message; a failed start exits 1 (a busy port or a Node too
// old for the relay in one line that says what to do).
import './supported-node.js'
import { busyPortMessage, relayPorts } from './busy-port.js'
import { helpText, parseCommandLine, RelayConfigError, resolveRelayConfig } from './config.js'
import { shimParent, watchParent } from './launcher.js'
import { createLogger, type RelayLogger } from './log.js'
import { RELAY_VERSION, type RelayHandle, startRelay } from './relay.js'

async function main(): Promise<void> {
  let request: Awaited<ReturnType<typeof parseCommandLine>>
  let settings: ReturnType<typeof resolveRelayConfig>
  try {
    request = await parseCommandLine(process.argv.slice(2), process.env)
    if (request.kind === 'help') {
      process.stdout.write(helpText())
      return
    }
    if (request.kind === 'version') {
      process.stdout.write(`${RELAY_VERSION}\n`)
      return
    }
    settings = resolveRelayConfig(request.config)
  } catch (error) {
    if (error instanceof RelayConfigError) {
      process.stderr.write(
        `mendsync-relay: ${error.message}\nRun mendsync-relay --help for the options.\n`,
      )
      process.exit(2)
    }
    throw error
  }
  const log = createLogger({ format: settings.logFormat, level: settings.logLevel })
  if (request.sources.length > 0) log.debug('configuration', { from: request.sources })
  process.on('unhandledRejection', (reason) => {
    // libp2p's stack occasionally rejects a promise nobody awaits (a stream reset mid-write);
    // a relay keeps serving its other peers.
    log.error('unhandled rejection', { error: reason instanceof Error ? reason : String(reason) })
  })

  let relay: RelayHandle
  try {
    relay = await startRelay(request.config, { logger: log })
  } catch (error) {
    const busy = busyPortMessage(error, relayPorts(settings, request.config.listen !== undefined))
    if (busy !== undefined) process.stderr.write(`mendsync-relay: ${busy}\n`)
    else
      log.error('the relay did not start', {
        error: error instanceof Error ? error : String(error),
      })
    process.exit(1)
  }
  handleSignals(relay, log, settings.shutdownTimeoutMs)
}

function handleSignals(relay: RelayHandle, log: RelayLogger, timeoutMs: number): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals | 'launcher exited'): void => {
    if (stopping) {
      log.error('second signal during shutdown: exiting now', { signal })
      process.exit(1)
    }
    stopping = true
    log.info('shutting down', { signal, timeoutMs })
    const timer = setTimeout(() => {
      log.error(`the shutdown did not finish within ${timeoutMs} ms; exiting with status 1`)
      process.exit(1)
    }, timeoutMs)
    relay.stop().then(
      () => {
        clearTimeout(timer)
        process.exit(0)
      },
      (error: unknown) => {
        log.error('the shutdown failed', { error: error instanceof Error ? error : String(error) })
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const shim = shimParent()
  if (shim !== undefined) {
    log.warn(
      `started through the package manager's node shim (pid ${shim}), which passes no signal on; ` +
        `the relay stops gracefully when the shim exits. To signal the relay itself, run ${process.execPath} directly.`,
    )
    watchParent(shim, () => onSignal('launcher exited'))
  }
}

await main()
