// The built relay on a full disk: its data directory is a real 16 MiB tmpfs, filled by a file the
// test writes. A change that cannot be committed is refused to the pusher with STORAGE_FAILURE
// saying the disk is full, the client's replica keeps the change, reads keep being served,
// /healthz says `degraded`, and once the filler is deleted the relay accepts pushes again and
// the client's change arrives by itself (the client's own retries, no restart, no new write).
//
// Needs root (mount -t tmpfs), as the sandbox and CI containers of this project run.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeValue, emptyValue, encodeValue, readRegister, writeRegister } from '@mendsync/core'
import type { SpaceChannel } from '@mendsync/replica/adapter'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Client,
  connectedTo,
  RelayProcess,
  rawPeer,
  sampleValue,
  scrape,
  startClient,
  waitFor,
} from './helpers.js'

const TMPFS_BYTES = 16 * 1024 * 1024
/** Free bytes left on the tmpfs by the filler: less than the big change needs. */
const LEFT_FREE = 96 * 1024
const BIG_VALUE_CHARS = 400 * 1024

let root: string
let mount: string
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mendsync-disk-full-'))
  mount = join(root, 'disk')
  mkdirSync(mount)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mount])
})
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  execFileSync('umount', [mount])
  await rm(root, { recursive: true, force: true })
})

interface Health {
  readonly status: number
  readonly body: { status?: string; degraded?: { space: string; reason: string }[] }
}

async function health(url: string): Promise<Health> {
  const response = await fetch(url)
  return { status: response.status, body: (await response.json()) as Health['body'] }
}

/** The register value the relay holds at `key`, or undefined when it has none. */
async function relayValue(
  channel: SpaceChannel,
  relay: string,
  key: string,
): Promise<unknown | undefined> {
  const result = await channel.pull(relay, [key], 'state')
  if (result.mode !== 'state') throw new Error('expected states')
  const state = result.states[0]
  return state === null || state === undefined ? undefined : readRegister(decodeValue(state)).value
}

describe('mendsync-relay on a full disk', () => {
  it('refuses pushes with a typed error, serves reads, reports degraded, and recovers when space is freed', async () => {
    const relay = RelayProcess.spawn(['--data-dir', join(mount, 'relay'), '--log-level', 'debug'])
    closers.push(async () => {
      relay.kill('SIGKILL')
      await relay.exited
    })
    const info = await relay.started()
    const client: Client = await startClient([info.address], {
      // Retries quickly, so that recovery shows within the test.
      tunables: { antiEntropyIntervalMs: 500, retryBaseMs: 50 },
    })
    closers.push(() => client.close())
    await connectedTo(client, info.peerId)
    const reader = await rawPeer(info.address, info.peerId, (close) => closers.push(close))

    await client.replica.put('before', 'written before the disk filled up')
    await waitFor(
      'the relay to store "before"',
      async () => (await relayValue(reader, info.peerId, 'before')) !== undefined,
    )
    expect((await health(info.healthUrl)).body.status).toBe('ok')

    // Fill the tmpfs up to LEFT_FREE bytes.
    const filler = join(mount, 'filler')
    const stats = statfsSync(mount)
    writeFileSync(filler, Buffer.alloc(Number(stats.bavail) * Number(stats.bsize) - LEFT_FREE))

    const big = 'x'.repeat(BIG_VALUE_CHARS)
    await client.replica.put('big', big)
    await relay.waitForEvent('the relay to notice the full disk', (event) =>
      String(event.msg).startsWith('the disk is full'),
    )
    // The write that failed stopped the replica (then it is reopened), unless a background write
    // of the relay hit the full disk first and the push was refused before reaching it.
    await relay.waitForEvent(
      'the relay to serve the space again',
      (event) =>
        String(event.msg).startsWith('reopened the space') ||
        String(event.msg).startsWith('a write failed on a full disk; the replica still works'),
    )

    const degraded = await health(info.healthUrl)
    expect(degraded.status).toBe(200)
    expect(degraded.body.status).toBe('degraded')
    expect(degraded.body.degraded?.[0]?.space).toBe('demo')
    expect(degraded.body.degraded?.[0]?.reason).toMatch(/disk is full/)
    const degradedGauge = async () =>
      sampleValue(await scrape(info.metricsUrl), 'mendsync_relay_storage_degraded', {
        space: 'demo',
      })
    expect(await degradedGauge()).toBe(1)

    // A pusher is refused with a typed error naming the cause.
    const state = encodeValue(writeRegister(emptyValue(), { replica: 'raw' }, big).state)
    const refused = await reader.push(info.peerId, [{ key: 'raw-big', state }]).then(
      () => undefined,
      (error: unknown) => error as { code?: string; message?: string },
    )
    expect(refused?.code).toBe('REMOTE_ERROR')
    expect(refused?.message).toMatch(/\(STORAGE_FAILURE\).*disk is full.*push again later/)

    // Reads keep working; the client still holds its change, waiting to be delivered.
    expect(await relayValue(reader, info.peerId, 'before')).toBe(
      'written before the disk filled up',
    )
    expect(await relayValue(reader, info.peerId, 'big')).toBeUndefined()
    expect(client.replica.status().outbox).toBeGreaterThan(0)
    expect(relay.exitCode).toBeUndefined()

    // Free the space: the relay notices by itself, and the client's retries deliver the change.
    rmSync(filler)
    await relay.waitForEvent('the relay to see free space', (event) =>
      String(event.msg).startsWith('disk space is available again'),
    )
    await waitFor(
      'the client to deliver "big" by itself',
      async () => (await relayValue(reader, info.peerId, 'big')) === big,
      30_000,
    )
    const recovered = await health(info.healthUrl)
    expect(recovered.status).toBe(200)
    expect(recovered.body.status).toBe('ok')
    expect(recovered.body.degraded).toBeUndefined()
    expect(await degradedGauge()).toBe(0)
    await waitFor('the client outbox to drain', () => client.replica.status().outbox === 0)
    expect(relay.exitCode).toBeUndefined()
  })
})
