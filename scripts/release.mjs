// `pnpm release [--out <dir>] [--json]`: builds the workspace and packs every public package
// (packages/*, apps/* without "private": true) into <dir> (default ./.release), one tarball each,
// ready for `npm install <tarball>` or `npm publish <tarball>`. pnpm pack rewrites the
// `workspace:*` dependencies to the packages' versions. Each tarball is then checked: a licence,
// a README, `engines`, `exports` whose every target is in the tarball, no `workspace:` range
// left. Prints one line per tarball (or, with --json, one JSON array of
// { name, version, tarball }); exits 1 naming every problem found.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pnpmCommand } from './pnpm.mjs'
import { readTarball } from './tarball.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PUBLIC_PACKAGE_DIRS = ['packages', 'apps']
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies']

function fail(message) {
  process.stderr.write(`release: ${message}\n`)
  process.exit(1)
}

function run(command, args, cwd, { quiet = false } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  })
  if (result.error) fail(`${command} ${args.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) {
    fail(
      `${command} ${args.join(' ')} in ${relative(root, cwd) || '.'} exited ${result.status}\n${result.stderr ?? ''}`,
    )
  }
  return result.stdout
}

/** The workspace's public packages: { dir, manifest }. */
function publicPackages() {
  return PUBLIC_PACKAGE_DIRS.flatMap((parent) =>
    readdirSync(join(root, parent), { withFileTypes: true })
      .filter(
        (entry) =>
          entry.isDirectory() && existsSync(join(root, parent, entry.name, 'package.json')),
      )
      .map((entry) => {
        const dir = join(root, parent, entry.name)
        return { dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }
      })
      .filter(({ manifest }) => manifest.private !== true),
  )
}

/**
 * tsc -b never deletes outputs whose source is gone, and `files` ships all of dist: a stale
 * module would be published. Every dist/**\/*.js must come from a src/**\/*.ts.
 */
function staleOutputs(dir) {
  const dist = join(dir, 'dist')
  if (!existsSync(dist)) return ['dist/ is missing']
  return readdirSync(dist, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.js'))
    .filter((file) => !existsSync(join(dir, 'src', file.replace(/\.js$/, '.ts'))))
    .map((file) => `dist/${file} has no source (run tsc -b --clean, then pnpm release)`)
}

/** Every path an `exports` map points at (conditions nested), without the leading `./`. */
function exportTargets(exports) {
  if (typeof exports === 'string') return [exports.replace(/^\.\//, '')]
  if (exports === null || typeof exports !== 'object') return []
  return Object.values(exports).flatMap(exportTargets)
}

/** What is wrong with a packed tarball, as sentences; empty when it is fine. */
function tarballProblems(path) {
  const files = readTarball(path)
  const problems = []
  const manifestBytes = files.get('package/package.json')
  if (!manifestBytes) return ['no package.json']
  const manifest = JSON.parse(manifestBytes.toString('utf8'))
  if (!files.has('package/LICENSE')) problems.push('no LICENSE file')
  if (!files.has('package/README.md')) problems.push('no README.md')
  if (typeof manifest.license !== 'string') problems.push('no "license" field')
  if (typeof manifest.engines?.node !== 'string') problems.push('no "engines.node"')
  if (manifest.exports === undefined) problems.push('no "exports"')
  for (const target of exportTargets(manifest.exports)) {
    if (!files.has(`package/${target}`))
      problems.push(`"exports" points at ${target}, not in the tarball`)
  }
  for (const bin of Object.values(manifest.bin ?? {})) {
    if (!files.has(`package/${bin.replace(/^\.\//, '')}`))
      problems.push(`bin ${bin} is not in the tarball`)
  }
  for (const field of DEPENDENCY_FIELDS) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:'))
        problems.push(`${field}.${name} is still ${range}`)
    }
  }
  return problems
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '.release' },
    json: { type: 'boolean', default: false },
  },
})
const out = resolve(values.out)
mkdirSync(out, { recursive: true })

const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
run(process.execPath, [tsc, '-b'], root)

const packages = publicPackages()
const stale = packages.flatMap(({ dir }) =>
  staleOutputs(dir).map((line) => `${relative(root, dir)}: ${line}`),
)
if (stale.length > 0) fail(`stale build outputs would be packed:\n  ${stale.join('\n  ')}`)

const [pnpm, ...pnpmArgs] = pnpmCommand()
const filters = packages.flatMap(({ dir }) => ['--filter', `./${relative(root, dir)}`])
run(pnpm, [...pnpmArgs, '--recursive', ...filters, 'pack', '--pack-destination', out], root, {
  quiet: true,
})
const packed = []
const problems = []
for (const { manifest } of packages) {
  const tarball = join(
    out,
    `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`,
  )
  if (!existsSync(tarball)) fail(`pnpm pack of ${manifest.name} did not write ${tarball}`)
  for (const problem of tarballProblems(tarball)) problems.push(`${manifest.name}: ${problem}`)
  packed.push({ name: manifest.name, version: manifest.version, tarball })
}
if (problems.length > 0) fail(`the tarballs are not fit to install:\n  ${problems.join('\n  ')}`)

if (values.json) process.stdout.write(`${JSON.stringify(packed)}\n`)
else for (const { name, tarball } of packed) process.stdout.write(`${name}: ${tarball}\n`)
