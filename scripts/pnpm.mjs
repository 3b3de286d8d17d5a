// How the workspace's scripts reach pnpm 10: the one on PATH when it is a 10.x, else through npx
// (which brings it from the npm registry once and then from its cache).
import { spawnSync } from 'node:child_process'

/** The pnpm major version the workspace is built with. */
export const PNPM_VERSION = '10'

/** The command (first element) and leading arguments that run pnpm 10. */
export function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' })
  if (probe.status === 0 && probe.stdout.trim().startsWith(`${PNPM_VERSION}.`)) return ['pnpm']
  return ['npx', '-y', `pnpm@${PNPM_VERSION}`]
}
