// The space directory with a fake opener: what it opens, keeps, evicts, closes when idle, stores
// and refuses. The real opener (replica, file storage, network) is covered by private-spaces.test.ts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSigningKey, type SpaceDescriptor, spaceIdOf } from '@mendsync/core/access'
import { silentLogger } from '@mendsync/core/toolbox'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DescriptorFiles } from '../src/spaces/descriptor-files.js'
import {
  type ServedSpace,
  SpaceDirectory,
  type SpaceDirectoryOptions,
  type SpaceUse,
} from '../src/spaces/space-directory.js'

/** A served space the test controls: its peers, and when its close finishes. */
interface FakeSpace extends ServedSpace {
  readonly spaceId: string
  readonly use: SpaceUse
  connected: string[]
  closed: boolean
}

let dir: string
let clock: number
let opened: FakeSpace[]
let directory: SpaceDirectory | undefined
/** When set, each close waits for this promise (a slow close). */
let closeGate: Promise<void> | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mendsync-directory-'))
  clock = 1_000_000
  opened = []
  closeGate = undefined
})
afterEach(async () => {
  await directory?.shutdown()
  directory = undefined
  await rm(dir, { recursive: true, force: true })
})

async function start(options: Partial<SpaceDirectoryOptions> = {}): Promise<SpaceDirectory> {
  directory = await SpaceDirectory.start({
    files: new DescriptorFiles(dir),
    open: async (spaceId, _descriptor, use) => {
      const space: FakeSpace = {
        spaceId,
        use,
        connected: [],
        closed: false,
        replica: () => undefined,
        peers: () => space.connected,
        close: async () => {
          await closeGate
          space.closed = true
        },
      }
      opened.push(space)
      return space
    },
    maxOpen: 3,
    idleMs: 60_000,
    maxStored: 100,
    newSpacesPerPeerPerSecond: 100,
    logger: silentLogger(),
    now: () => clock,
    ...options,
  })
  return directory
}

async function descriptor(name = 'cart'): Promise<SpaceDescriptor> {
  return { owner: (await generateSigningKey()).publicKey.raw, name }
}

function request(space: SpaceDescriptor, peer = 'peer-a') {
  return { spaceId: spaceIdOf(space), space, peer }
}

const openIds = () => opened.filter((space) => !space.closed).map((space) => space.spaceId)

describe('the space directory', () => {
  it('opens a space on its first request, once for concurrent requests, and stores its descriptor', async () => {
    const spaces = await start()
    const space = await descriptor()
    const answers = await Promise.all([
      spaces.request(request(space)),
      spaces.request(request(space)),
    ])
    expect(answers).toEqual([true, true])
    expect(await spaces.request(request(space, 'peer-b'))).toBe(true)
    expect(opened.map((served) => served.spaceId)).toEqual([spaceIdOf(space)])
    expect(spaces.stats()).toMatchObject({ open: 1, stored: 1, opened: 1 })
    const file = JSON.parse(await readFile(join(dir, `${spaceIdOf(space)}.space`), 'utf8'))
    expect(file).toEqual({ v: 1, owner: Buffer.from(space.owner).toString('hex'), name: 'cart' })
  })

  it('refuses a request whose descriptor does not derive the space id, and stores nothing', async () => {
    const spaces = await start()
    const space = await descriptor()
    const other = await descriptor()
    expect(await spaces.request({ spaceId: spaceIdOf(other), space, peer: 'p' })).toBe(false)
    expect(await spaces.request({ spaceId: 'demo', space, peer: 'p' })).toBe(false)
    expect(opened).toEqual([])
    expect(spaces.stats()).toMatchObject({ stored: 0, refused: { invalid: 2 } })
  })

  it('keeps at most maxOpen spaces open, closing the least recently used first', async () => {
    const spaces = await start({ maxOpen: 2 })
    const [a, b, c] = [await descriptor('a'), await descriptor('b'), await descriptor('c')]
    await spaces.request(request(a))
    await spaces.request(request(b))
    // A request for `a` makes `b` the least recently used.
    await spaces.request(request(a))
    expect(await spaces.request(request(c))).toBe(true)
    expect(openIds()).toEqual([spaceIdOf(a), spaceIdOf(c)])
    expect(spaces.openSpaces()).toEqual([spaceIdOf(a), spaceIdOf(c)])
    expect(spaces.stats()).toMatchObject({ open: 2, closed: { evicted: 1 } })
  })

  it('evicts a space without connected peers before a less recently used one with peers', async () => {
    const spaces = await start({ maxOpen: 2 })
    const [a, b, c] = [await descriptor('a'), await descriptor('b'), await descriptor('c')]
    await spaces.request(request(a))
    await spaces.request(request(b))
    ;(opened[0] as FakeSpace).connected = ['peer-a']
    expect(spaces.servesPeer('peer-a')).toBe(true)
    expect(spaces.servesPeer('peer-b')).toBe(false)
    await spaces.request(request(c))
    expect(openIds()).toEqual([spaceIdOf(a), spaceIdOf(c)])
  })

  it('closes a space unused for idleMs with no peer connected, and opens it again on the next request', async () => {
    const spaces = await start()
    const [quiet, busy, linked] = [
      await descriptor('quiet'),
      await descriptor('busy'),
      await descriptor('linked'),
    ]
    for (const space of [quiet, busy, linked]) await spaces.request(request(space))
    const [, busySpace, linkedSpace] = opened as [FakeSpace, FakeSpace, FakeSpace]
    linkedSpace.connected = ['peer-a']
    clock += 59_000
    busySpace.use.touched()
    clock += 1_000
    await spaces.closeIdle()
    expect(openIds()).toEqual([spaceIdOf(busy), spaceIdOf(linked)])
    expect(spaces.stats().closed.idle).toBe(1)
    expect(await spaces.request(request(quiet))).toBe(true)
    expect(opened.map((space) => space.spaceId)).toEqual([
      spaceIdOf(quiet),
      spaceIdOf(busy),
      spaceIdOf(linked),
      spaceIdOf(quiet),
    ])
    expect(spaces.stats()).toMatchObject({ opened: 4, stored: 3 })
  })

  it('opens a space being closed again only once its close finished', async () => {
    const spaces = await start()
    const space = await descriptor()
    await spaces.request(request(space))
    let finishClose = () => {}
    closeGate = new Promise((resolve) => {
      finishClose = resolve
    })
    clock += 60_000
    const closing = spaces.closeIdle()
    const reopened = spaces.request(request(space))
    // The request waits for the close: no second replica of the space while the first is open.
    await Promise.resolve()
    expect(opened).toHaveLength(1)
    closeGate = undefined
    finishClose()
    await closing
    expect(await reopened).toBe(true)
    expect(opened.map((served) => served.closed)).toEqual([true, false])
  })

  it('refuses a new space past maxStored but still opens the spaces it stores', async () => {
    const spaces = await start({ maxStored: 2 })
    const [a, b, c] = [await descriptor('a'), await descriptor('b'), await descriptor('c')]
    expect(await spaces.request(request(a))).toBe(true)
    expect(await spaces.request(request(b))).toBe(true)
    expect(await spaces.request(request(c))).toBe(false)
    expect(spaces.stats()).toMatchObject({ stored: 2, refused: { full: 1 } })
    clock += 60_000
    await spaces.closeIdle()
    expect(await spaces.request(request(a))).toBe(true)
  })

  it('limits how many new spaces one peer creates per second; other peers are not held back', async () => {
    const spaces = await start({ newSpacesPerPeerPerSecond: 1, maxOpen: 50 })
    const answers: boolean[] = []
    for (let i = 0; i < 11; i++)
      answers.push(await spaces.request(request(await descriptor(`s${i}`))))
    expect(answers.filter(Boolean)).toHaveLength(10)
    expect(await spaces.request(request(await descriptor('other'), 'peer-b'))).toBe(true)
    clock += 1_000
    expect(await spaces.request(request(await descriptor('later')))).toBe(true)
    expect(spaces.stats().refused.rate).toBe(1)
  })

  it('after a restart, counts the stored spaces and opens one by its id alone', async () => {
    const first = await start()
    const space = await descriptor()
    await first.request(request(space))
    await first.shutdown()
    const restarted = await start()
    expect(restarted.stats()).toMatchObject({ stored: 1, open: 0 })
    expect(await restarted.openStored(spaceIdOf(space), 'relay')).toBe(true)
    expect(await restarted.openStored(spaceIdOf(await descriptor('never')), 'relay')).toBe(false)
    expect(opened.at(-1)?.spaceId).toBe(spaceIdOf(space))
  })

  it('replaces a damaged descriptor file by the descriptor a peer presents', async () => {
    const spaces = await start()
    const space = await descriptor()
    const path = join(dir, `${spaceIdOf(space)}.space`)
    await writeFile(path, '{"v":1,"owner":"00","name":"x"}\n')
    await expect(new DescriptorFiles(dir).load(spaceIdOf(space))).rejects.toMatchObject({
      code: 'STORAGE_CORRUPT',
    })
    expect(await spaces.request(request(space))).toBe(true)
    expect(await new DescriptorFiles(dir).load(spaceIdOf(space))).toEqual(space)
  })

  it('counts quota refusals its spaces report', async () => {
    const spaces = await start()
    await spaces.request(request(await descriptor()))
    ;(opened[0] as FakeSpace).use.quotaRefused()
    expect(spaces.stats().quotaRefusals).toBe(1)
  })

  it('closes a space whose open finishes during shutdown, and counts it closed', async () => {
    let finishOpen = () => {}
    const gate = new Promise<void>((resolve) => {
      finishOpen = resolve
    })
    const spaces = await start({
      open: async () => {
        await gate
        const served: ServedSpace = {
          replica: () => undefined,
          peers: () => [],
          close: async () => {
            closedLate = true
          },
        }
        return served
      },
    })
    let closedLate = false
    const opening = spaces.request(request(await descriptor()))
    const stopping = spaces.shutdown()
    finishOpen()
    expect(await opening).toBe(false)
    await stopping
    expect(closedLate).toBe(true)
    expect(spaces.stats()).toMatchObject({ open: 0, closed: { shutdown: 1 } })
  })

  it('closes every space on shutdown and refuses requests after it', async () => {
    const spaces = await start()
    await spaces.request(request(await descriptor('a')))
    await spaces.request(request(await descriptor('b')))
    await spaces.shutdown()
    expect(opened.every((space) => space.closed)).toBe(true)
    expect(await spaces.request(request(await descriptor('c')))).toBe(false)
    expect(spaces.stats()).toMatchObject({
      open: 0,
      closed: { shutdown: 2 },
      refused: { closing: 1 },
    })
  })
})
