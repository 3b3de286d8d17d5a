// Entry point of the README's two commands. Runs on whatever Node the machine has (>= 20):
// it brings pnpm (through npm), installs the workspace, which brings Node 24 as a devDependency,
// installs the system pieces the tests need, then runs the task on that Node 24.
//
// `npm start` must stop gracefully when its top-level process is signalled (Ctrl-C, `kill`,
// `docker stop`, a process manager): the root script `exec`s this file on a real Node binary
// (not the workspace's `node`, a shell shim that would not pass signals on), every step runs
// through runForwardingSignals, and the long-running program runs on the workspace's real
// Node 24 binary directly, without pnpm or the shim in between.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitLike, runForwardingSignals } from './forward-signals.mjs'
import { pnpmCommand } from './pnpm.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const CHROMIUM = process.env.MENDSYNC_CHROMIUM ?? '/usr/bin/chromium'

const tasks = {
  test: { needsChromium: true, run: () => pnpm(['run', 'test:all']) },
  start: {
    needsChromium: false,
    run: async (args) => {
      const built = await pnpm(['run', 'build:demo'])
      if (built.code !== 0) return built
      return runForwardingSignals(
        workspaceNode(),
        [join(root, 'apps/cart-demo/start.ts'), ...args],
        {
          cwd: root,
        },
      )
    },
  },
}

function fail(message) {
  console.error(`mendsync bootstrap: ${message}`)
  process.exit(1)
}

const [pnpmBinary, ...pnpmArgs] = pnpmCommand()
function pnpm(args) {
  return runForwardingSignals(pnpmBinary, [...pnpmArgs, ...args], { cwd: root })
}

/** The workspace's Node 24 as the real binary (node_modules/.bin/node is a shell shim). */
function workspaceNode() {
  const shim = join(root, 'node_modules', '.bin', 'node')
  const probe = spawnSync(shim, ['-p', 'process.execPath'], { encoding: 'utf8' })
  if (probe.status !== 0)
    fail(`cannot run the workspace's Node (${shim}): ${probe.stderr ?? probe.error}`)
  return probe.stdout.trim()
}

function ensureChromium() {
  if (existsSync(CHROMIUM)) return
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  if (!isRoot || !hasApt) {
    fail(
      `the browser tests need Chromium at ${CHROMIUM}. Install it (Debian: 'apt-get install -y chromium') ` +
        'or point MENDSYNC_CHROMIUM at a Chromium binary.',
    )
  }
  console.log('mendsync bootstrap: installing Chromium from Debian packages for the browser tests')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const apt = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env }).status
  if (apt(['update', '-qq']) !== 0) fail('apt-get update failed')
  if (apt(['install', '-y', '-qq', 'chromium']) !== 0) fail('apt-get install chromium failed')
}

const [name, ...args] = process.argv.slice(2)
const task = tasks[name]
if (!task) fail(`unknown task '${name}'; expected one of: ${Object.keys(tasks).join(', ')}`)

const installed = await pnpm(process.env.CI ? ['install', '--frozen-lockfile'] : ['install'])
if (installed.code !== 0) exitLike(installed)
if (task.needsChromium) ensureChromium()
exitLike(await task.run(args))
