// Logs: human-readable lines by default, one JSON object per line with `json`. On a terminal
// (text format) a progress line can stay at the bottom and be rewritten in place; other lines
// are printed above it.
import type { LogFormat, LogLevel } from './config.js'

/** Structured fields of a log line: `key=value` pairs in text, properties in JSON. */
export type LogFields = Readonly<Record<string, unknown>>

/** The relay's logger: leveled lines, a startup banner and a live progress line. */
export interface Logger {
  /** How lines are written: `text` (human-readable) or `json` (one object per line). */
  readonly format: LogFormat
  /** True when progress is shown as a live line (a terminal and the text format). */
  readonly live: boolean
  /** Writes `message` and `fields` at that level, unless the level is below the threshold. */
  debug(message: string, fields?: LogFields): void
  /** See {@link Logger.debug}. */
  info(message: string, fields?: LogFields): void
  /** See {@link Logger.debug}. */
  warn(message: string, fields?: LogFields): void
  /** See {@link Logger.debug}. */
  error(message: string, fields?: LogFields): void
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
export interface LoggerOptions {
  /** `text` or `json`. Default `text`. */
  readonly format?: LogFormat
  /** Lines below this level are dropped; `silent` drops all. Default `info`. */
  readonly level?: LogLevel
  /** Where lines go. Default `process.stdout`. */
  readonly stream?: NodeJS.WritableStream
}

/** A logger writing to `stream` (default stdout). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'text'
  const threshold = RANK[options.level ?? 'info']
  const stream = options.stream ?? process.stdout
  const live = format === 'text' && (stream as { isTTY?: boolean }).isTTY === true
  // A log sink that goes away (a closed pipe: EPIPE) must not take the relay down with it.
  if (threshold < RANK.silent) stream.on?.('error', () => {})
  let progressLine: string | null = null

  const write = (text: string): void => {
    if (live && progressLine !== null) {
      stream.write(`\r\x1b[2K${text}${progressLine}`)
    } else {
      stream.write(text)
    }
  }

  const emit = (
    level: Exclude<LogLevel, 'silent'>,
    message: string,
    fields: LogFields = {},
    lines?: string[],
  ): void => {
    if (RANK[level] < threshold) return
    const time = new Date().toISOString()
    if (format === 'json') {
      write(`${JSON.stringify({ time, level, msg: message, ...plain(fields) })}\n`)
      return
    }
    if (lines !== undefined) {
      write(`${lines.join('\n')}\n`)
      return
    }
    const rest = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${textValue(value)}`)
      .join(' ')
    write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${rest ? ` ${rest}` : ''}\n`)
  }

  return {
    format,
    live,
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    block: (level, message, fields, lines) => emit(level, message, fields, lines),
    progress(line) {
      if (!live || RANK.info < threshold) return
      if (line === null) {
        if (progressLine !== null) stream.write('\r\x1b[2K')
        progressLine = null
        return
      }
      progressLine = line
      stream.write(`\r\x1b[2K${line}`)
    },
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: 'silent' })

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
