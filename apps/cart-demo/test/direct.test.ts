import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RelayHandle, startRelay } from '@mendsync/relay'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DemoServer, serveDemo } from '../serve.js'
import { add, buildDemo, launch, openApp, waitFor, waitForCart } from './helpers.js'

const SPACE = 'e2e-direct'

/** The relay of these tests: circuit relay on (the signalling path of WebRTC), one named space. */
async function relayOn(dataDir: string, port: number): Promise<RelayHandle> {
  return await startRelay({
    host: '127.0.0.1',
    port,
    dataDir,
    spaces: [SPACE],
    metrics: false,
    circuitRelay: true,
    logLevel: 'error',
  })
}

function portOf(address: string): number {
  const parts = address.split('/')
  return Number(parts[parts.indexOf('tcp') + 1])
}

describe('cart demo: two browsers connected directly over WebRTC', () => {
  let dist: string
  let dataDir: string
  let relay: RelayHandle | undefined
  let server: DemoServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    ;[dist, dataDir, browser] = await Promise.all([
      buildDemo(),
      mkdtemp(join(tmpdir(), 'mendsync-direct-relay-')),
      launch(),
    ])
    relay = await relayOn(dataDir, 0)
    const address = relay.multiaddrs.find((candidate) => candidate.includes('/ws/'))!
    server = await serveDemo({ port: 0, dist, relay: address })
  }, 120_000)

  afterAll(async () => {
    for (const context of contexts) await context.close()
    await browser?.close()
    await server?.close()
    await relay?.stop()
    await rm(dist, { recursive: true, force: true })
    await rm(dataDir, { recursive: true, force: true })
  })

  it('labels the other device direct (WebRTC), keeps syncing with the relay stopped, and the restarted relay gets what it missed', async () => {
    const open = async () => {
      const context = await browser.newContext()
      contexts.push(context)
      return await openApp(context, `${server.url}?space=${SPACE}`)
    }
    const alice = await open()
    const bob = await open()
    for (const [page, name] of [
      [alice, 'alice'],
      [bob, 'bob'],
    ] as const) {
      // Asserted from the connection's transport (the leader's `peerTransports`), shown as the role.
      await waitFor(
        page,
        `${name} connected to the other device directly`,
        () => document.querySelector('.peers li[data-role="direct (WebRTC)"]') !== null,
        undefined,
        60_000,
      )
    }

    const address = relay!.multiaddrs.find((candidate) => candidate.includes('/ws/'))!
    await relay!.stop()
    relay = undefined
    await waitFor(
      alice,
      'the relay gone from the connected peers',
      () => document.querySelector('.peers li[data-role="relay"]') === null,
      undefined,
      30_000,
    )
    await add(alice, 'coffee')
    await waitForCart(bob, { coffee: 1 })
    await add(bob, 'milk')
    await waitForCart(alice, { coffee: 1, milk: 1 })

    // Same data, same port, same identity (from the data dir): the browsers redial it by themselves.
    relay = await relayOn(dataDir, portOf(address))
    const restarted = relay
    await expect
      .poll(
        async () => {
          const lines = (await restarted.replica(SPACE)?.cart('cart').view())?.lines ?? []
          return Object.fromEntries(lines.map((line) => [line.sku, line.qty]))
        },
        { timeout: 60_000, interval: 250 },
      )
      .toEqual({ coffee: 1, milk: 1 })
  }, 240_000)
})
