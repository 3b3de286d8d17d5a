// The relay's log output: the sink behind its `mendsync:relay` loggers (the toolbox `Logger`, so
// the relay can hand children of it to the engine and the network). Human-readable lines by
// default, one JSON object per line with `json`. On a terminal (text format) a progress line can
// stay at the bottom and be rewritten in place; other lines are printed above it.
import { type LogEntry, type Logger, makeLogger } from '@mendsync/core/toolbox'
import type { LogFormat, LogLevel } from './config.js'

/** Structured fields of a log line: `key=value` pairs in text, properties in JSON. */
export type LogFields = Readonly<Record<string, unknown>>

/** The namespace of the relay's own lines; its children's lines also show theirs. */
export const RELAY_NAMESPACE = 'mendsync:relay'

/** The relay's logger: a `mendsync:relay` {@link Logger}, a startup banner and a live progress line. */
export interface RelayLogger extends Logger {
  /** How lines are written: `text` (human-readable) or `json` (one object per line). */
  readonly format: LogFormat
  /** True when progress is shown as a live line (a terminal and the text format). */
  readonly live: boolean
  /**
   * Text format only: these lines instead of `message` + fields (a banner); JSON logs `message`
   * with `fields` as usual.
   */
  block(
    level: Exclude<LogLevel, 'silent'>,
    message: string,
    fields: LogFields,
    lines: string[],
  ): void
  /** The live progress line (`null` clears it). Does nothing unless {@link live}. */
  progress(line: string | null): void
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** Options of {@link createLogger}. */
export interface RelayLoggerOptions {
  /** `text` or `json`. Default `text`. */
  readonly format?: LogFormat
  /** Lines below this level are dropped, the children's too; `silent` drops all. Default `info`. */
  readonly level?: LogLevel
  /** Where lines go. Default `process.stdout`. */
  readonly stream?: NodeJS.WritableStream
}

/** A `mendsync:relay` logger writing to `stream` (default stdout). */
export function createLogger(options: RelayLoggerOptions = {}): RelayLogger {
  const format = options.format ?? 'text'
  const threshold = RANK[options.level ?? 'info']
  const output = new LogOutput(format, options.stream ?? process.stdout, threshold < RANK.silent)
  const logger = makeLogger(RELAY_NAMESPACE, {
    sink: (entry) => output.write(entry),
    enabled: (_namespace, level) => RANK[level] >= threshold,
  })
  return {
    namespace: logger.namespace,
    format,
    live: output.live,
    enabled: (level) => logger.enabled(level),
    debug: (message, fields) => logger.debug(message, fields),
    info: (message, fields) => logger.info(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    error: (message, fields) => logger.error(message, fields),
    child: (name) => logger.child(name),
    block(level, message, fields, lines) {
      if (!logger.enabled(level)) return
      output.write({ level, namespace: RELAY_NAMESPACE, message, context: fields }, lines)
    },
    progress(line) {
      if (logger.enabled('info')) output.progress(line)
    },
  }
}

/** Writes entries as lines to a stream, keeping the live progress line at the bottom. */
class LogOutput {
  readonly live: boolean
  private readonly format: LogFormat
  private readonly stream: NodeJS.WritableStream
  private progressLine: string | null = null

  constructor(format: LogFormat, stream: NodeJS.WritableStream, writes: boolean) {
    this.format = format
    this.stream = stream
    this.live = format === 'text' && (stream as { isTTY?: boolean }).isTTY === true
    // A log stream that goes away (a closed pipe: EPIPE) must not take the relay down with it;
    // there is nowhere left to report that.
    if (writes) stream.on?.('error', () => {})
  }

  /** One entry as a line (text: `lines` instead, when given). */
  write(entry: LogEntry, lines?: string[]): void {
    const time = new Date().toISOString()
    const fields = entry.context ?? {}
    // The relay's own lines carry no namespace (their format predates namespaces).
    const namespace = entry.namespace === RELAY_NAMESPACE ? undefined : entry.namespace
    if (this.format === 'json') {
      const line = { time, level: entry.level, msg: entry.message, ns: namespace, ...plain(fields) }
      this.print(`${JSON.stringify(line)}\n`)
      return
    }
    if (lines !== undefined) {
      this.print(`${lines.join('\n')}\n`)
      return
    }
    const rest = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => ` ${key}=${textValue(value)}`)
      .join('')
    const level = entry.level.toUpperCase().padEnd(5)
    this.print(`${time} ${level} ${namespace ? `${namespace} ` : ''}${entry.message}${rest}\n`)
  }

  /** Shows `line` as the live progress line (`null`: clears it); only when {@link live}. */
  progress(line: string | null): void {
    if (!this.live) return
    if (line === null) {
      if (this.progressLine !== null) this.stream.write('\r\x1b[2K')
      this.progressLine = null
      return
    }
    this.progressLine = line
    this.stream.write(`\r\x1b[2K${line}`)
  }

  private print(text: string): void {
    if (this.live && this.progressLine !== null) {
      this.stream.write(`\r\x1b[2K${text}${this.progressLine}`)
    } else {
      this.stream.write(text)
    }
  }
}

function textValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  if (value instanceof Error) return JSON.stringify(value.message)
  if (Array.isArray(value)) return value.map(textValue).join(',')
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)
}

function plain(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error
        ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
        : value
  }
  return out
}
