// Namespaced logging injected into every mendsync component (the way js-libp2p passes
// `components.logger`): a component takes a `logger` option, derives child namespaces such as
// `mendsync:replica:handoff`, and logs every error it handles. The default logger prints nothing
// unless debug output is switched on for the namespace (see `debugLoggerFromEnvironment`).

/** How serious an entry is. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** One log entry, as a sink receives it. */
export interface LogEntry {
  readonly level: LogLevel
  /** Colon-separated, e.g. `mendsync:replica:handoff`. */
  readonly namespace: string
  readonly message: string
  /** Structured details (peer ids, keys, the error caught). */
  readonly context: Readonly<Record<string, unknown>> | undefined
}

/** Where entries go: a console, a file, a test's array. */
export type LogSink = (entry: LogEntry) => void

/** A namespaced logger. Methods never throw. */
export interface Logger {
  readonly namespace: string
  /** Whether entries at `level` are written at all (skip building expensive context when not). */
  enabled(level: LogLevel): boolean
  debug(message: string, context?: Record<string, unknown>): void
  info(message: string, context?: Record<string, unknown>): void
  warn(message: string, context?: Record<string, unknown>): void
  error(message: string, context?: Record<string, unknown>): void
  /** A logger for `namespace:name` writing to the same sink under the same filter. */
  child(name: string): Logger
}

/** Decides whether a namespace logs at a level. */
export type LogFilter = (namespace: string, level: LogLevel) => boolean

/** Options of {@link makeLogger}. */
export interface LoggerOptions {
  /** Where entries go; default: the console. */
  readonly sink?: LogSink
  /**
   * Which namespaces write: a `DEBUG`-style pattern (`mendsync:*`, `mendsync:replica:*,-*:gossip`)
   * enabling every level for matching namespaces, or a filter function. Default: everything.
   */
  readonly enabled?: string | LogFilter
}

/** Writes an entry to the console, with its namespace and context. */
export const consoleSink: LogSink = (entry) => {
  const line = `${entry.namespace} ${entry.message}`
  const args: unknown[] = entry.context === undefined ? [line] : [line, entry.context]
  const method = entry.level === 'debug' ? 'debug' : entry.level
  console[method](...args)
}

/**
 * A filter from a `DEBUG`-style pattern: comma- or space-separated namespaces, `*` matching any
 * run of characters, a leading `-` excluding. `''` enables nothing.
 */
export function patternFilter(pattern: string): LogFilter {
  const include: RegExp[] = []
  const exclude: RegExp[] = []
  for (const part of pattern.split(/[\s,]+/)) {
    if (part === '') continue
    const negated = part.startsWith('-')
    const body = (negated ? part.slice(1) : part)
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
    ;(negated ? exclude : include).push(new RegExp(`^${body}$`))
  }
  return (namespace) =>
    include.some((re) => re.test(namespace)) && !exclude.some((re) => re.test(namespace))
}

class SinkLogger implements Logger {
  readonly namespace: string
  private readonly sink: LogSink
  private readonly filter: LogFilter

  constructor(namespace: string, sink: LogSink, filter: LogFilter) {
    this.namespace = namespace
    this.sink = sink
    this.filter = filter
  }

  enabled(level: LogLevel): boolean {
    return this.filter(this.namespace, level)
  }

  debug(message: string, context?: Record<string, unknown>): void {
    this.write('debug', message, context)
  }

  info(message: string, context?: Record<string, unknown>): void {
    this.write('info', message, context)
  }

  warn(message: string, context?: Record<string, unknown>): void {
    this.write('warn', message, context)
  }

  error(message: string, context?: Record<string, unknown>): void {
    this.write('error', message, context)
  }

  child(name: string): Logger {
    return new SinkLogger(`${this.namespace}:${name}`, this.sink, this.filter)
  }

  private write(level: LogLevel, message: string, context?: Record<string, unknown>): void {
    if (!this.filter(this.namespace, level)) return
    try {
      this.sink({ level, namespace: this.namespace, message, context })
    } catch {
      // A broken sink must not break the component that logs; there is nowhere left to report.
    }
  }
}

/** A logger for `namespace` writing to `options.sink` (default the console). */
export function makeLogger(namespace: string, options: LoggerOptions = {}): Logger {
  const enabled = options.enabled ?? '*'
  const filter = typeof enabled === 'string' ? patternFilter(enabled) : enabled
  return new SinkLogger(namespace, options.sink ?? consoleSink, filter)
}

const NEVER: LogFilter = () => false

/** A logger that writes nothing (its children neither). */
export function silentLogger(namespace = 'mendsync'): Logger {
  return new SinkLogger(namespace, () => {}, NEVER)
}

/**
 * The pattern that switches debug output on: `DEBUG` (or `MENDSYNC_DEBUG`) in Node's
 * environment, `localStorage.debug` (or `localStorage['mendsync:debug']`) in a browser.
 * `undefined` when none is set.
 */
export function debugPatternFromEnvironment(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env
  const fromEnv = env?.MENDSYNC_DEBUG ?? env?.DEBUG
  if (fromEnv !== undefined) return fromEnv
  try {
    const storage = (globalThis as { localStorage?: { getItem(key: string): string | null } })
      .localStorage
    return storage?.getItem('mendsync:debug') ?? storage?.getItem('debug') ?? undefined
  } catch {
    // localStorage throws in some sandboxed frames: then there is no switch to read.
    return undefined
  }
}

/**
 * The default logger of every component: silent unless the environment's debug pattern (see
 * {@link debugPatternFromEnvironment}) enables the namespace, then it writes to the console.
 * Read once, when the component is created.
 */
export function defaultLogger(namespace: string): Logger {
  const pattern = debugPatternFromEnvironment()
  if (pattern === undefined || pattern === '') return silentLogger(namespace)
  return makeLogger(namespace, { enabled: pattern })
}

/** A short description of a caught value for a log context (message and code, not the stack). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}
