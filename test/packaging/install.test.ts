// The packages as another project gets them: `pnpm release` packs them, plain npm installs the
// tarballs into a fresh project outside the workspace, and that project runs a Node example
// (two devices syncing through a relay, exiting by itself), the README's Node quick start, a
// type check of a browser example without Node's types, and a Vite build of it.
//
// npm fetches the third-party dependencies (libp2p and the rest) from the npm registry unless
// its cache (~/.npm) already holds them: the first run on a machine needs the registry.
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startChild, waitForExit, waitForLine } from './child.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const FIXTURE = join(import.meta.dirname, 'consumer')
const NPM_ATTEMPTS = 3
const INSTALL_LIMIT_MS = 300_000
const RUN_LIMIT_MS = 120_000
/** Deliverable of issue 16: a Node script exits within 2 s of closing what it opened. */
const EXIT_AFTER_CLOSE_MS = 2_000

interface Packed {
  readonly name: string
  readonly version: string
  readonly tarball: string
}

let work: string
let project: string
let packed: Packed[]

async function npmInstall(cwd: string): Promise<void> {
  const failures: string[] = []
  for (let attempt = 1; attempt <= NPM_ATTEMPTS; attempt += 1) {
    const npm = startChild(
      'npm',
      // --ignore-scripts as the README says for machines without GitHub: node-datachannel's
      // install script (through @libp2p/webrtc) downloads a native binary mendsync never loads.
      [
        'install',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--fetch-retries=4',
      ],
      { cwd },
    )
    const status = await waitForExit(npm, INSTALL_LIMIT_MS, 'npm install')
    if (status === 0) return
    failures.push(`attempt ${attempt}: exit ${status}\n${npm.stderr().slice(-2_000)}`)
  }
  throw new Error(
    `npm install of the packed tarballs failed ${NPM_ATTEMPTS} times (third-party dependencies come from the npm registry unless npm's cache holds them):\n${failures.join('\n')}`,
  )
}

/** The first ```js block under the README's "Use it in Node" heading. */
function readmeNodeSnippet(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Use it in Node'))
  const match = /```js\n([\s\S]*?)```/.exec(section)
  if (!match?.[1]) throw new Error('README.md has no ```js block under "## Use it in Node"')
  return match[1]
}

/** The workspace's tsc on `config` of the installed project. */
function tsc(
  config: string,
  ...flags: string[]
): Promise<{ status: number | string; output: string }> {
  const compiler = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const child = startChild(process.execPath, [compiler, '-p', config, ...flags], { cwd: project })
  return waitForExit(child, RUN_LIMIT_MS, 'tsc').then((status) => ({
    status,
    output: child.stdout() + child.stderr(),
  }))
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mendsync-packaging-'))
  const release = startChild(
    process.execPath,
    [join(ROOT, 'scripts/release.mjs'), '--out', join(work, 'tarballs'), '--json'],
    { cwd: ROOT },
  )
  const status = await waitForExit(release, INSTALL_LIMIT_MS, 'pnpm release')
  if (status !== 0) throw new Error(`the release script failed (${status}):\n${release.stderr()}`)
  packed = JSON.parse(release.stdout().trim().split('\n').at(-1) ?? '[]') as Packed[]

  project = join(work, 'app')
  cpSync(FIXTURE, project, { recursive: true })
  const dependencies = Object.fromEntries(
    packed.map(({ name, tarball }) => [name, `file:${tarball}`]),
  )
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'mendsync-consumer', private: true, type: 'module', dependencies }, null, 2)}\n`,
  )
  await npmInstall(project)
}, 2 * INSTALL_LIMIT_MS)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('the packed packages in a fresh npm project', () => {
  it('installs every public package outside the workspace, each with a licence, a README, engines and exports, and no workspace: range', () => {
    expect(relative(ROOT, project).startsWith('..')).toBe(true)
    // Every public package of the workspace is packed; a new one joins this list by itself.
    expect(packed.map(({ name }) => name)).toEqual(
      expect.arrayContaining([
        '@mendsync/core',
        '@mendsync/libp2p',
        '@mendsync/relay',
        '@mendsync/replica',
        '@mendsync/storage-file',
        '@mendsync/storage-idb',
        '@mendsync/tabs',
      ]),
    )
    for (const { name, version } of packed) {
      const installed = join(project, 'node_modules', name)
      const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
      expect(manifest.version).toBe(version)
      expect(existsSync(join(installed, 'LICENSE')), `${name} LICENSE`).toBe(true)
      expect(existsSync(join(installed, 'README.md')), `${name} README.md`).toBe(true)
      expect(manifest.license).toBe('MIT')
      expect(manifest.engines?.node, `${name} engines.node`).toMatch(/^>=22/)
      expect(manifest.exports?.['.']?.default, `${name} exports`).toMatch(/^\.\/dist\//)
      expect(JSON.stringify(manifest.dependencies ?? {}), `${name} dependencies`).not.toContain(
        'workspace:',
      )
    }
  })

  it('runs a Node example where two devices sync a cart through a relay, and it exits by itself with status 0', async () => {
    const example = startChild(process.execPath, ['sync-example.mjs'], { cwd: project })
    const status = await waitForExit(example, RUN_LIMIT_MS, 'the Node example')
    expect(status, example.stderr()).toBe(0)
    expect(example.stdout()).toContain('bob sees apple x2')
  })

  it("runs the README's Node quick start against a relay; it exits within 2 s of its close() calls", async () => {
    writeFileSync(join(project, 'app.mjs'), readmeNodeSnippet())
    const relayBin = join(project, 'node_modules/@mendsync/relay/dist/cli.js')
    const relay = startChild(
      process.execPath,
      [
        relayBin,
        '--port',
        '0',
        '--no-metrics',
        '--data-dir',
        join(work, 'relay'),
        '--log-format',
        'json',
      ],
      { cwd: project },
    )
    try {
      const started = JSON.parse(
        await waitForLine(relay, (line) => line.includes('"relay started"')),
      )
      const app = startChild(process.execPath, ['report-exit.mjs', 'app.mjs'], {
        cwd: project,
        env: { ...process.env, MENDSYNC_RELAY: started.multiaddrs[0] },
      })
      const status = await waitForExit(app, RUN_LIMIT_MS, "the README's Node quick start")
      expect(status, app.stderr()).toBe(0)
      expect(app.stdout()).toContain("sku: 'apple'")
      const report = /exit-after-close-ms=([\d.]+)/.exec(app.stderr())
      expect(report, app.stderr()).not.toBeNull()
      expect(Number(report?.[1])).toBeLessThan(EXIT_AFTER_CLOSE_MS)
    } finally {
      relay.process.kill('SIGTERM')
      await waitForExit(relay, RUN_LIMIT_MS, 'the relay')
    }
  })

  it('type-checks the browser example without Node types: the mendsync packages need neither @types/node nor skipLibCheck', async () => {
    const storageOnly = await tsc('tsconfig.storage.json')
    expect(storageOnly.output).toBe('')
    expect(storageOnly.status).toBe(0)
    // With libp2p in the program, the only errors allowed are libp2p's own dependencies' (one of
    // them imports node:events in its types): never a file of a mendsync package or the example.
    const whole = await tsc('tsconfig.json', '--listFiles')
    const errors = whole.output.split('\n').filter((line) => line.includes('error TS'))
    expect(
      errors.filter(
        (line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/@mendsync/'),
      ),
    ).toEqual([])
    expect(whole.output).not.toContain('/@types/node/')
  })

  it('builds the browser example with Vite from the installed packages, with no Node module in the bundle', async () => {
    const outDir = join(work, 'browser-dist')
    await build({
      root: join(project, 'browser'),
      configFile: false,
      logLevel: 'error',
      build: { outDir, emptyOutDir: true, target: 'es2022' },
    })
    expect(existsSync(join(outDir, 'index.html'))).toBe(true)
    const scripts = readdirSync(join(outDir, 'assets')).filter((file) => file.endsWith('.js'))
    expect(scripts.length).toBeGreaterThan(0)
    const bundle = scripts
      .map((file) => readFileSync(join(outDir, 'assets', file), 'utf8'))
      .join('\n')
    expect(bundle).toContain('cart/alice')
    expect(bundle).not.toMatch(/from\s*["']node:/)
  })
})
