// The documentation of the options, generated from their table: the `--help` text and the
// README's option table (config.test.ts checks that the README holds exactly this table).
import { ALL_OPTIONS, DEFAULT_RELAY_CONFIG, type DescribedOption, OPTIONS } from './options.js'

/** The `--help` text: every option, its environment variable and its default. */
export function helpText(): string {
  const d = DEFAULT_RELAY_CONFIG
  const lines = [
    'mendsync-relay: a long-lived mendsync peer with one file replica per space, that browsers',
    'and Node peers dial over WebSockets. It serves pull / push / reconcile, relays gossip,',
    'serves circuit-relay-v2 reservations and exports Prometheus metrics.',
    '',
    'Usage: mendsync-relay [options]',
    '',
    `With no options it listens on ws://${d.host}:${d.port}, keeps its data in ${d.dataDir}, serves`,
    `the space "${d.spaces.join('", "')}" to every peer and metrics on http://${d.metricsHost}:${d.metricsPort}/metrics.`,
    '',
    'Options (flag > environment variable > config file > default):',
  ]
  for (const doc of OPTIONS) {
    lines.push(
      doc.form.flag === 'boolean'
        ? `  --${doc.flag}, --no-${doc.flag}`
        : `  --${doc.flag} ${placeholder(doc)}`,
      ...wrap(doc.help, 72).map((line) => `      ${line}`),
      `      default: ${doc.default}`,
      doc.key === 'config'
        ? `      env: ${doc.env}`
        : `      env: ${doc.env}; config file: "${doc.key}"`,
    )
  }
  lines.push(
    '  -h, --help      This text.',
    '  -v, --version   The version.',
    '',
    'Config file only:',
  )
  for (const doc of ALL_OPTIONS.filter((doc) => doc.flag === undefined)) {
    lines.push(
      `  "${doc.key}"`,
      ...wrap(doc.help, 72).map((line) => `      ${line}`),
      `      default: ${doc.default}`,
    )
  }
  lines.push(
    '',
    'In the config file, "spaces" may list names or {"name": ..., "allow": [peer ids]}, and',
    '"allow" maps space names to lists of peer ids.',
    '',
    'Signals: SIGINT / SIGTERM stop gracefully (refuse new connections, finish writes in',
    "flight, close the spaces' files, stop libp2p) and exit 0; past --shutdown-timeout-ms",
    '(or on a second signal) the relay exits with status 1.',
  )
  return `${lines.join('\n')}\n`
}

/** The README's option table (Markdown): flag, variable, config key, default, meaning. */
export function optionsMarkdownTable(): string {
  const code = (text: string) => `\`${text.replaceAll('|', '\\|')}\``
  const rows = ALL_OPTIONS.map((doc) => {
    const flag =
      doc.flag === undefined
        ? '(file only)'
        : doc.form?.flag === 'boolean'
          ? `${code(`--${doc.flag}`)} / ${code(`--no-${doc.flag}`)}`
          : code(`--${doc.flag} ${placeholder(doc)}`)
    // Prose defaults ("none (...)", "on") stay text; values are code.
    const value = /^(none|on|off)\b/.test(doc.default) ? doc.default : code(doc.default)
    const meaning = doc.help.replaceAll('|', '\\|').replaceAll('<', '&lt;')
    const key = doc.key === 'config' ? '' : code(doc.key)
    const cells = [flag, doc.env === undefined ? '' : code(doc.env), key, value, meaning]
    return `|${cells.map((cell) => (cell === '' ? ' ' : ` ${cell} `)).join('|')}|`
  })
  return [
    '| flag | environment variable | config key | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n')
}

function placeholder(option: DescribedOption): string {
  return option.form?.placeholder ?? '<value>'
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line.length === 0 ? word : `${line} ${word}`
    }
  }
  if (line.length > 0) lines.push(line)
  return lines
}
