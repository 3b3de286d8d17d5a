// The configuration: defaults, flags > environment > file precedence, allowlists, errors that
// name the option, and `--help` (in process, and from the built binary).
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { optionsMarkdownTable } from '../src/config/docs.js'
import {
  DEFAULT_RELAY_CONFIG,
  envName,
  helpText,
  OPTIONS,
  parseCommandLine,
  RelayConfigError,
  resolveRelayConfig,
} from '../src/index.js'
import { assertBuilt, RELAY_CLI } from './helpers.js'

const PEER_A = '12D3KooWGYYCLkKvNpL2JQGjit4KucRN9Aa5WKtDkuJGhKmk6qNm'
const PEER_B = '12D3KooWPvoN51SWxjqK817u2XfcW91HxdS4gypznyZhfFStveLu'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mendsync-relay-config-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function run(argv: string[], env: Record<string, string> = {}) {
  const request = await parseCommandLine(argv, env, dir)
  if (request.kind !== 'run') throw new Error(`expected a run request, got ${request.kind}`)
  return { config: resolveRelayConfig(request.config, dir), sources: request.sources }
}

describe('relay configuration', () => {
  it('starts from embedded defaults', async () => {
    const { config } = await run([])
    expect(config).toMatchObject({
      listen: ['/ip4/127.0.0.1/tcp/4401/ws'],
      announce: [],
      bootstrap: [],
      dataDir: join(dir, '.data/relay'),
      identityFile: join(dir, '.data/relay/peer.key'),
      spaces: [{ name: 'demo' }],
      metrics: true,
      metricsHost: '127.0.0.1',
      metricsPort: 9464,
      circuitRelay: true,
      logFormat: 'text',
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
    })
    expect(config.spaces[0]?.allow).toBeUndefined()
    expect(resolveRelayConfig({}, dir)).toEqual(config)
  })

  it('takes flags over environment variables over the config file', async () => {
    const file = join(dir, 'relay.json')
    await writeFile(
      file,
      JSON.stringify({
        port: 5001,
        metricsPort: 5002,
        dataDir: 'from-file',
        spaces: ['demo', { name: 'shop', allow: [PEER_A] }],
        replica: { gossipIntervalMs: 1234 },
        logLevel: 'warn',
      }),
    )
    const { config, sources } = await run(
      ['--config', file, '--port', '6001', '--no-circuit-relay'],
      {
        [envName('port')]: '7001',
        [envName('metrics-port')]: '7002',
        [envName('log-format')]: 'json',
        [envName('bootstrap')]:
          `/ip4/10.0.0.1/tcp/4401/ws/p2p/${PEER_A},/ip4/10.0.0.2/tcp/4401/ws/p2p/${PEER_B}`,
      },
    )
    expect(config.listen).toEqual(['/ip4/127.0.0.1/tcp/6001/ws'])
    expect(config.metricsPort).toBe(7002)
    expect(config.dataDir).toBe(join(dir, 'from-file'))
    expect(config.logFormat).toBe('json')
    expect(config.logLevel).toBe('warn')
    expect(config.circuitRelay).toBe(false)
    expect(config.bootstrap).toHaveLength(2)
    expect(config.replica).toEqual({ gossipIntervalMs: 1234 })
    expect(config.spaces).toEqual([{ name: 'demo' }, { name: 'shop', allow: [PEER_A] }])
    expect(sources).toEqual([
      `file ${file}`,
      'MENDSYNC_RELAY_PORT',
      'MENDSYNC_RELAY_BOOTSTRAP',
      'MENDSYNC_RELAY_METRICS_PORT',
      'MENDSYNC_RELAY_LOG_FORMAT',
      'flags',
    ])
  })

  it('reads per-space allowlists from flags and the environment', async () => {
    const { config } = await run(
      [
        '--space',
        'a',
        '--space',
        'b',
        '--space',
        'c',
        '--allow',
        `a=${PEER_A},${PEER_B}`,
        '--allow',
        `b=${PEER_B}`,
      ],
      { [envName('allow')]: `c=${PEER_A};b=${PEER_A}` },
    )
    expect(config.spaces).toEqual([
      { name: 'a', allow: [PEER_A, PEER_B] },
      // a flag's list for a space replaces the environment's
      { name: 'b', allow: [PEER_B] },
      { name: 'c', allow: [PEER_A] },
    ])
  })

  it('rejects bad input with a message naming the option', async () => {
    const failures: [string[], Record<string, string>, RegExp][] = [
      [['--nope'], {}, /nope/],
      [['--port', 'eighty'], {}, /--port must be an integer/],
      [['--port', '70000'], {}, /port must be an integer from 0 to 65535/],
      [['--log-format', 'xml'], {}, /--log-format must be one of text, json/],
      [['--allow', 'demo'], {}, /--allow wants <space>=<peer id>/],
      [['--allow', 'demo=not-a-peer'], {}, /not-a-peer is not a libp2p peer id/],
      [['--allow', `shop=${PEER_A}`], {}, /space shop is not served/],
      [['--bootstrap', '/ip4/1.2.3.4/tcp/1/ws'], {}, /must end with \/p2p\/<peer id>/],
      [['--space', 'a', '--space', 'a'], {}, /a is listed twice/],
      [['--host', 'localhost'], {}, /host must be an IP address/],
      [[], { [envName('metrics')]: 'maybe' }, /MENDSYNC_RELAY_METRICS must be true or false/],
      [['--config', join(dir, 'missing.json')], {}, /config file .*missing\.json/],
    ]
    for (const [argv, env, message] of failures) {
      const attempt = run(argv, env)
      await expect(attempt, argv.join(' ')).rejects.toThrow(RelayConfigError)
      await expect(run(argv, env)).rejects.toThrow(message)
    }
    const unknown = join(dir, 'unknown.json')
    await writeFile(unknown, JSON.stringify({ prot: 1 }))
    await expect(run(['--config', unknown])).rejects.toThrow(/unknown option prot/)
  })

  it('documents every option with its default and environment variable in --help', async () => {
    expect(await parseCommandLine(['--help'], {}, dir)).toEqual({ kind: 'help' })
    const help = helpText()
    for (const flag of [
      'config',
      'host',
      'port',
      'listen',
      'announce',
      'bootstrap',
      'bootstrap-redial-ms',
      'data-dir',
      'identity',
      'space',
      'allow',
      'metrics-host',
      'metrics-port',
      'max-reservations',
      'max-connections',
      'inbound-connection-threshold',
      'log-format',
      'log-level',
      'progress-interval-ms',
      'shutdown-timeout-ms',
    ]) {
      expect(help).toContain(`--${flag} `)
      expect(help).toContain(envName(flag))
    }
    expect(help).toContain('--metrics, --no-metrics')
    expect(help).toContain('--circuit-relay, --no-circuit-relay')
    expect(help).toContain(`default: ${DEFAULT_RELAY_CONFIG.port}`)
    expect(help).toContain(`default: ${DEFAULT_RELAY_CONFIG.dataDir}`)
    expect(help.match(/ {6}default: /g)?.length).toBe(31)
  })

  it('has every option, its environment variable and its default in the README table', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    for (const option of OPTIONS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`--${option.flag}`))
      expect(row, `README row of --${option.flag}`).toBeDefined()
      expect(row).toContain(`\`${envName(option.flag)}\``)
      if (option.key !== 'config') expect(row).toContain(`\`${option.key}\``)
      const shown = option.default.replace(/ \(.*\)$/, '')
      expect(row).toContain(shown)
    }
  })

  it('holds in the README exactly the option table that RELAY_OPTIONS generates', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const start = '<!-- options table: generated from src/config/options.ts -->\n'
    const end = '\n<!-- end of the options table -->'
    expect(readme).toContain(start)
    expect(readme).toContain(end)
    const table = readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end))
    expect(table).toBe(optionsMarkdownTable())
  })

  it('the built binary prints --help (status 0) and refuses a bad flag (status 2)', () => {
    assertBuilt()
    const help = spawnSync(process.execPath, [RELAY_CLI, '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toBe(helpText())
    const bad = spawnSync(process.execPath, [RELAY_CLI, '--port', 'x'], { encoding: 'utf8' })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('mendsync-relay: --port must be an integer')
  })
})
