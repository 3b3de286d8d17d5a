// Shared by the storage-file tests: temp directories and direct damage to a store's file.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { encodeKey, type Namespace } from '@mendsync/replica/adapter'
import { TABLES } from '../src/index.js'

export function temporaryDirectory(): { directory: string; remove(): void } {
  const directory = mkdtempSync(join(tmpdir(), 'mendsync-file-'))
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) }
}

/**
 * Damages one record in the (closed) database at `path` the way bit rot would: flips a byte of the
 * value, or of the checksum when the value is empty, without touching SQLite's own structure.
 */
export function damageRecord(path: string, namespace: Namespace, key: string): void {
  const db = new DatabaseSync(path)
  try {
    const table = TABLES[namespace]
    const k = encodeKey(key)
    const row = db.prepare(`SELECT v, c FROM ${table} WHERE k = ?`).get(k) as
      | { v: Uint8Array; c: number }
      | undefined
    if (row === undefined) throw new Error(`no record ${key} in ${namespace}`)
    if (row.v.length === 0) {
      db.prepare(`UPDATE ${table} SET c = ? WHERE k = ?`).run((row.c ^ 1) >>> 0, k)
    } else {
      row.v[row.v.length >>> 1]! ^= 0x40
      db.prepare(`UPDATE ${table} SET v = ? WHERE k = ?`).run(row.v, k)
    }
  } finally {
    db.close()
  }
}
