// A start that failed because a port is taken, told in one line: which port, what it was for and
// how to choose another, instead of libp2p's or Node's stack trace (about 40 lines).
import { envName, type ResolvedRelayConfig } from './config.js'

/** A port the program listens on, and how its user chooses another. */
export interface ListenPort {
  readonly port: number
  /** What listens there, e.g. `the relay's WebSocket listener`. */
  readonly what: string
  /** How to choose another, e.g. `--port <n> or MENDSYNC_RELAY_PORT=<n>`. */
  readonly choose: string
}

const IN_USE = /EADDRINUSE[^\n]*?(?:(\S+):(\d+))?$/m

/** The port `error` (or an error it wraps) says is in use, if it is an EADDRINUSE failure. */
export function busyPort(error: unknown): number | undefined {
  const seen = new Set<unknown>()
  const pending: unknown[] = [error]
  while (pending.length > 0 && seen.size < 32) {
    const next = pending.shift()
    if (next === null || typeof next !== 'object' || seen.has(next)) continue
    seen.add(next)
    const { code, port, message, cause, errors } = next as {
      code?: unknown
      port?: unknown
      message?: unknown
      cause?: unknown
      errors?: unknown
    }
    if (code === 'EADDRINUSE' && typeof port === 'number') return port
    const match = typeof message === 'string' ? IN_USE.exec(message) : null
    if (match?.[2]) return Number(match[2])
    pending.push(cause, ...(Array.isArray(errors) ? errors : []))
  }
  return undefined
}

/**
 * One line for a start that failed on a busy port: the port, what of `ports` it was, and how to
 * choose another. `undefined` when `error` is not about a busy port.
 */
export function busyPortMessage(error: unknown, ports: readonly ListenPort[]): string | undefined {
  const port = busyPort(error)
  if (port === undefined) return undefined
  const known = ports.find((candidate) => candidate.port === port)
  if (!known) return `port ${port} is already in use; stop what holds it or choose another port`
  return `port ${port} (${known.what}) is already in use; stop what holds it or choose another with ${known.choose} (0: a free port)`
}

/**
 * The ports a relay with `settings` listens on, each with the flag and variable that choose it:
 * `--port` for the default listener, `--listen` when the listen addresses were given.
 */
export function relayPorts(settings: ResolvedRelayConfig, listenGiven: boolean): ListenPort[] {
  const listener = listenGiven
    ? { option: 'listen', value: '<multiaddr>' }
    : { option: 'port', value: '<n>' }
  const ports: ListenPort[] = settings.listen.flatMap((address) => {
    const port = /\/tcp\/(\d+)/.exec(address)?.[1]
    return port === undefined
      ? []
      : [
          {
            port: Number(port),
            what: `the relay's listener ${address}`,
            choose: `--${listener.option} ${listener.value} or ${envName(listener.option)}=${listener.value}`,
          },
        ]
  })
  if (settings.metrics) {
    ports.push({
      port: settings.metricsPort,
      what: 'the metrics server',
      choose: `--metrics-port <n> or ${envName('metrics-port')}=<n>`,
    })
  }
  return ports
}
