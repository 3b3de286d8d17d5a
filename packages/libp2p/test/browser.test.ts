import { fileURLToPath } from 'node:url'
import { CHROMIUM_LAUNCH_OPTIONS } from '@mendsync/bench/chromium'
import { FakeSpaceStore, text } from '@mendsync/replica/testing'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2pNetwork } from '../src/index.js'
import { startNetwork, waitFor } from './helpers.js'
import { type ServedPage, servePage } from './page-server.js'

const PAGE_ROOT = fileURLToPath(new URL('./browser/', import.meta.url))

interface PageState {
  peerId: string | null
  peers: string[]
  gossip: { peer: string; counter: number }[]
  pulls: number
  error: string | null
}

describe('Browser <-> Node', () => {
  let served: ServedPage
  let browser: Browser
  let node: Libp2pNetwork

  beforeAll(async () => {
    served = await servePage(PAGE_ROOT, 'mendsync-browser-')
    browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
    node = await startNetwork()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await node?.close()
    await served?.close()
  })

  it('dials a Node peer, receives its gossip in order and serves its pull', {
    timeout: 120_000,
  }, async () => {
    const channel = await node.join('browser-space', new FakeSpaceStore())
    const address = node.node.getMultiaddrs().find((entry) => entry.toString().includes('/ws'))!
    const port = served.port
    const page = await browser.newPage()
    const logs: string[] = []
    page.on('console', (message) => logs.push(message.text()))
    page.on('pageerror', (error) => logs.push(String(error)))
    await page.goto(
      `http://127.0.0.1:${port}/#${encodeURIComponent(`${address.toString()} browser-space`)}`,
    )
    /** Waits until the page's state satisfies `check` (evaluated in the page) or the page failed. */
    const untilPage = async (what: string, check: string): Promise<PageState> => {
      try {
        await page.waitForFunction(
          `(() => { const state = window.mendsyncTest; return state !== undefined && (state.error !== null || (${check})) })()`,
          undefined,
          { timeout: 30_000 },
        )
      } catch (cause) {
        throw new Error(`the page never reached ${what}\n${logs.join('\n')}`, { cause })
      }
      const state = await page.evaluate(
        () => (window as unknown as { mendsyncTest: PageState }).mendsyncTest,
      )
      if (state.error) throw new Error(`page failed: ${state.error}\n${logs.join('\n')}`)
      return state
    }
    const state = await untilPage(
      'the Node peer as a peer of the space',
      `state.peers.includes(${JSON.stringify(node.peerId)})`,
    )
    const browserId = state.peerId!
    await waitFor('the browser as a peer of the space', () => channel.peers().includes(browserId))

    for (let counter = 1; counter <= 3; counter++) {
      await channel.publish({
        replicaId: 'node',
        versionVector: new Map([['node', counter]]),
        summary: new Uint8Array(24),
        hints: [{ key: 'k', dots: [{ replica: 'node', counter }] }],
      })
      // Each message is sent once the page holds the one before: what arrives, in which order.
      await untilPage(`gossip ${counter}`, `state.gossip.length >= ${counter}`)
    }
    const received = await untilPage('three gossip messages', 'state.gossip.length >= 3')
    expect(received.gossip).toEqual([1, 2, 3].map((counter) => ({ peer: node.peerId, counter })))

    expect(await channel.pull(browserId, ['k-browser', 'missing'], 'state')).toEqual({
      mode: 'state',
      states: [text('from-browser'), null],
    })
    expect((await untilPage('the pull served', 'state.pulls >= 1')).pulls).toBe(1)
    await page.close()
  })
})
