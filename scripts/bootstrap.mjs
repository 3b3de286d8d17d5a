// Entry point of the README's two commands. Runs on whatever Node the machine has (>= 20):
// it brings pnpm (through npm), installs the workspace, which brings Node 24 as a devDependency,
// installs the system pieces the tests need, then hands over to a `pnpm run` script that runs
// on that Node 24.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PNPM_VERSION = '10'
const CHROMIUM = process.env.MENDSYNC_CHROMIUM ?? '/usr/bin/chromium'

const tasks = {
  test: { script: 'test:all', needsChromium: true },
  start: { script: 'start:all', needsChromium: false },
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

function fail(message) {
  console.error(`mendsync bootstrap: ${message}`)
  process.exit(1)
}

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' })
  if (probe.status === 0 && probe.stdout.trim().startsWith(`${PNPM_VERSION}.`)) return ['pnpm']
  return ['npx', '-y', `pnpm@${PNPM_VERSION}`]
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
  if (run('apt-get', ['update', '-qq'], { env }) !== 0) fail('apt-get update failed')
  if (run('apt-get', ['install', '-y', '-qq', 'chromium'], { env }) !== 0) {
    fail('apt-get install chromium failed')
  }
}

const task = tasks[process.argv[2]]
if (!task)
  fail(`unknown task '${process.argv[2]}'; expected one of: ${Object.keys(tasks).join(', ')}`)

const [pnpm, ...pnpmArgs] = pnpmCommand()
const installArgs = process.env.CI ? ['install', '--frozen-lockfile'] : ['install']
if (run(pnpm, [...pnpmArgs, ...installArgs]) !== 0) fail('pnpm install failed')
if (task.needsChromium) ensureChromium()
process.exit(run(pnpm, [...pnpmArgs, 'run', task.script]))
