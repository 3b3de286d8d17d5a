// node:sqlite, loaded when this package is imported rather than linked statically: a static
// `import 'node:sqlite'` on a Node without it fails before any code runs, with
// `ERR_UNKNOWN_BUILTIN_MODULE`, which names neither the package nor the version it needs.
import { createRequire } from 'node:module'
import type * as NodeSqlite from 'node:sqlite'
import { assertNodeVersion } from '@mendsync/core'

/** The first Node.js with node:sqlite unflagged (22.13.0; 23.4.0 on the 23 line). */
const MIN_NODE_VERSION = '22.13.0'

assertNodeVersion(MIN_NODE_VERSION, '@mendsync/storage-file (node:sqlite)')

const sqlite = createRequire(import.meta.url)('node:sqlite') as typeof NodeSqlite

/** node:sqlite's synchronous database class. */
export const DatabaseSync: typeof NodeSqlite.DatabaseSync = sqlite.DatabaseSync
/** A connection of node:sqlite. */
export type DatabaseSync = NodeSqlite.DatabaseSync
/** A prepared statement of node:sqlite. */
export type StatementSync = NodeSqlite.StatementSync
