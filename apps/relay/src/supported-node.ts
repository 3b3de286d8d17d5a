// The CLI's first import: on a Node too old for the relay it prints one line saying which
// version to install and exits 1, before the rest of the relay loads (which would throw the same
// message with a stack trace from inside @mendsync/storage-file).
import { assertNodeVersion, isMendsyncError } from '@mendsync/core'

/** The oldest Node.js the relay runs on (node:sqlite unflagged). */
export const RELAY_MIN_NODE_VERSION = '22.13.0'

try {
  assertNodeVersion(RELAY_MIN_NODE_VERSION, 'mendsync-relay')
} catch (error) {
  if (!isMendsyncError(error, 'UNSUPPORTED_RUNTIME')) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(1)
}
