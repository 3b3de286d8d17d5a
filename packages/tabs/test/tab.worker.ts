// One "tab" for the Chromium test and the tabs bench: a module worker with its own Web Locks,
// BroadcastChannel and IndexedDB connection, as a tab of the same profile has. Terminating it is a
// crash: the browser releases its lock and drops its connections, nothing of ours runs.
// Timestamps are `performance.timeOrigin + performance.now()`, comparable across the workers (and
// the page) of one page.
import { openReplica } from '@mendsync/replica'
import { openIdbStorage } from '@mendsync/storage-idb'
import { openTabs, type Tabs } from '../src/index.js'

export type TabCommand =
  | { readonly op: 'open'; readonly space: string; readonly dbName: string }
  | { readonly op: 'add'; readonly key: string; readonly sku: string; readonly qty: number }
  | { readonly op: 'lines'; readonly key: string }
  | { readonly op: 'close' }

export type TabEvent =
  | { readonly event: 'reply'; readonly seq: number; readonly ok: true; readonly value?: unknown }
  | { readonly event: 'reply'; readonly seq: number; readonly ok: false; readonly error: string }
  | { readonly event: 'role'; readonly role: string; readonly at: number }
  | { readonly event: 'change'; readonly key: string; readonly at: number }

/** What `add` and `close` answer: when this tab made the call and when it returned. */
export interface Timed {
  readonly startedAt: number
  readonly doneAt: number
}

let tabs: Tabs | undefined
const say = (event: TabEvent) => postMessage(event)
const now = () => performance.timeOrigin + performance.now()

async function run(command: TabCommand): Promise<unknown> {
  switch (command.op) {
    case 'open':
      tabs = await openTabs({
        space: command.space,
        openReplica: async (leader) =>
          await openReplica({
            space: command.space,
            storage: leader.journal(
              await openIdbStorage({ space: command.space, dbName: command.dbName }),
            ),
          }),
      })
      tabs.onRoleChange((role) => say({ event: 'role', role, at: now() }))
      tabs.subscribe({ prefix: '' }, (change) =>
        say({ event: 'change', key: change.key, at: now() }),
      )
      return tabs.role
    case 'add': {
      const startedAt = now()
      await tabs!.cart(command.key).add(command.sku, command.qty)
      return { startedAt, doneAt: now() } satisfies Timed
    }
    case 'lines':
      return (await tabs!.cart(command.key).view({ repair: 'none' })).lines.map((line) => [
        line.sku,
        line.qty,
      ])
    case 'close': {
      const startedAt = now()
      await tabs?.close()
      return { startedAt, doneAt: now() } satisfies Timed
    }
  }
}

self.addEventListener('message', (event: MessageEvent<{ seq: number; command: TabCommand }>) => {
  const { seq, command } = event.data
  run(command).then(
    (value) => say({ event: 'reply', seq, ok: true, value }),
    (error: unknown) => say({ event: 'reply', seq, ok: false, error: String(error) }),
  )
})
