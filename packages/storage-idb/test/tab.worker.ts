// A second agent with its own IndexedDB connection, as another tab of the same app would be.
// Driven by messages from the Chromium tests; replies once per message.
import { isMendsyncError } from '@mendsync/core'
import type { Storage } from '@mendsync/replica'
import { openIdbStorage } from '../src/index.js'

export type TabCommand =
  | { readonly op: 'open'; readonly dbName: string }
  | { readonly op: 'write'; readonly prefix: string; readonly count: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'close' }

export type TabReply =
  | { readonly ok: true; readonly value?: string; readonly forced?: string }
  | { readonly ok: false; readonly code: string; readonly message: string }

let storage: Storage | undefined
let forced: string | undefined

async function run(command: TabCommand): Promise<TabReply> {
  switch (command.op) {
    case 'open':
      storage = await openIdbStorage({
        space: 'tab',
        dbName: command.dbName,
        onForcedClose: (info) => {
          forced = info.reason
        },
      })
      return { ok: true }
    case 'write': {
      const encoder = new TextEncoder()
      const writes: Promise<void>[] = []
      for (let i = 0; i < command.count; i++) {
        const value = encoder.encode(`${command.prefix}${i}`)
        writes.push(
          storage!.write({
            values: [{ key: `${command.prefix}${i}`, value }],
            meta: [{ key: 'last', value }],
          }),
        )
      }
      await Promise.all(writes)
      return { ok: true }
    }
    case 'get': {
      const [value] = await storage!.get('values', [command.key])
      return {
        ok: true,
        ...(value === undefined ? {} : { value: new TextDecoder().decode(value) }),
        ...(forced === undefined ? {} : { forced }),
      }
    }
    case 'close':
      await storage?.close()
      return { ok: true, ...(forced === undefined ? {} : { forced }) }
  }
}

self.onmessage = (event: MessageEvent<TabCommand>) => {
  run(event.data).then(
    (reply) => self.postMessage(reply),
    (error: unknown) =>
      self.postMessage({
        ok: false,
        code: isMendsyncError(error) ? error.code : 'UNKNOWN',
        message: error instanceof Error ? error.message : String(error),
      } satisfies TabReply),
  )
}
