// The one check of the Node version, for the packages that need a newer Node than the code
// alone shows: an old Node otherwise fails deep inside with `ERR_UNKNOWN_BUILTIN_MODULE:
// node:sqlite` or `Promise.withResolvers is not a function`, which says nothing about the fix.
import { MendsyncError } from './errors.js'

/** `[major, minor, patch]` of a `x.y.z` version string (missing parts are 0). */
function versionParts(version: string): readonly number[] {
  return version.split('.').map((part) => Number.parseInt(part, 10) || 0)
}

function isOlder(version: string, minimum: string): boolean {
  const have = versionParts(version)
  const need = versionParts(minimum)
  for (let index = 0; index < 3; index += 1) {
    const difference = (have[index] ?? 0) - (need[index] ?? 0)
    if (difference !== 0) return difference < 0
  }
  return false
}

/**
 * Throws `UNSUPPORTED_RUNTIME` when this process runs on Node.js older than `minimum` (`x.y.z`),
 * with a message that names `what` needs it, the version and binary in use, and how to get a
 * newer one. Does nothing outside Node (browsers have no `process.versions.node`).
 */
export function assertNodeVersion(minimum: string, what: string): void {
  const runtime = (
    globalThis as { process?: { versions?: { node?: unknown }; execPath?: unknown } }
  ).process
  const version = runtime?.versions?.node
  if (typeof version !== 'string' || !isOlder(version, minimum)) return
  const major = versionParts(minimum)[0]
  throw new MendsyncError(
    'UNSUPPORTED_RUNTIME',
    `${what} needs Node.js >= ${minimum}, but this is Node.js ${version} (${String(runtime?.execPath)}). ` +
      `Install Node.js ${major} or newer (https://nodejs.org/en/download, or \`nvm install ${major}\`) ` +
      'and run your program with it.',
  )
}
