import { MendsyncError } from '@mendsync/core'
import type { Entry, ScanOptions, ScanPage, Storage } from './types.js'

/**
 * Every page of a scan, in key order: starts at `options` (including its `after`, if any) and
 * follows each page's cursor until the last page. `options.limit` is the page size. Memory stays
 * bounded by one page. Throws `STORAGE_FAILURE` if the adapter returns a cursor that does not
 * advance (an adapter bug that would otherwise loop forever).
 */
export async function* scanPages(
  storage: Storage,
  options: ScanOptions,
): AsyncGenerator<ScanPage, void, undefined> {
  let after = options.after
  for (;;) {
    const page = await storage.scan(after === undefined ? options : { ...options, after })
    yield page
    const cursor = page.cursor
    if (cursor === undefined) return
    const last = page.entries[page.entries.length - 1]
    if (last === undefined || (after !== undefined && cursor <= after)) {
      throw new MendsyncError(
        'STORAGE_FAILURE',
        `scan: the storage returned cursor ${JSON.stringify(cursor)} that does not advance past ` +
          `${after === undefined ? 'the start' : JSON.stringify(after)}; this is a bug in the adapter`,
      )
    }
    after = cursor
  }
}

/**
 * Every entry of a scan, in key order, one page at a time (for rebuilds and exports): an async
 * iterator over {@link scanPages}' entries.
 *
 * ```ts
 * for await (const { key, value } of scanAll(storage, { namespace: 'values' })) { ... }
 * ```
 */
export async function* scanAll(
  storage: Storage,
  options: ScanOptions,
): AsyncGenerator<Entry, void, undefined> {
  for await (const page of scanPages(storage, options)) yield* page.entries
}
