import { fileURLToPath } from 'node:url'
import { CHROMIUM_LAUNCH_OPTIONS } from '@mendsync/bench/chromium'
import { type AccessProof, AccessVerifier, proofToWire, READ, WRITE } from '@mendsync/core/access'
import { createSuiteSpace, FakeSpaceStore } from '@mendsync/replica/testing'
import { encode } from 'cborg'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity, identityToBytes, type Libp2pNetwork, peerIdOf } from '../src/index.js'
import { startNetwork } from './helpers.js'
import { type ServedPage, servePage } from './page-server.js'
import type { PageConfig, TestState as PageState } from './webrtc-page/page.js'

const PAGE_ROOT = fileURLToPath(new URL('./webrtc-page/', import.meta.url))

interface PageActions {
  put(key: string, value: string): Promise<void>
  dial(peer: string): Promise<void>
  pull(peer: string, key: string): Promise<string | null>
}

describe('Browser <-> browser over WebRTC, signalled through the relay', () => {
  let served: ServedPage
  let browser: Browser

  beforeAll(async () => {
    served = await servePage(PAGE_ROOT, 'mendsync-webrtc-')
    browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await served?.close()
  })

  /** A relay: a Node peer serving circuit-relay reservations that joined `space`. */
  async function startRelay(
    space: string,
    verifier?: AccessVerifier,
  ): Promise<{ relay: Libp2pNetwork; address: string }> {
    const relay = await startNetwork({}, { relayServer: true })
    await relay.join(space, new FakeSpaceStore(), verifier ? { access: { verifier } } : {})
    const address = relay.node.getMultiaddrs().find((entry) => entry.toString().includes('/ws'))!
    return { relay, address: address.toString() }
  }

  /** A device: a page in its own browser context, bootstrapped to `config.relay`. */
  async function openDevice(config: PageConfig): Promise<Device> {
    const context = await browser.newContext()
    const page = await context.newPage()
    const logs: string[] = []
    page.on('console', (message) => logs.push(message.text()))
    page.on('pageerror', (error) => logs.push(String(error)))
    const port = served.port
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.waitForFunction(() => 'mendsyncStart' in window)
    await page.evaluate((start) => {
      ;(window as unknown as { mendsyncStart(config: PageConfig): void }).mendsyncStart(start)
    }, config)
    return new Device(page, logs, async () => await context.close())
  }

  it('two devices connect directly, and pull from each other with the relay stopped', {
    timeout: 180_000,
  }, async () => {
    const space = 'webrtc-direct'
    const { relay, address } = await startRelay(space)
    const a = await openDevice({ relay: address, space, webrtc: true })
    const b = await openDevice({ relay: address, space, webrtc: true })
    try {
      const idA = (await a.until('a peer id', 'state.peerId !== null')).peerId!
      const idB = (await b.until('a peer id', 'state.peerId !== null')).peerId!
      await a.until(
        'b connected by WebRTC',
        `state.transports[${JSON.stringify(idB)}] === 'webrtc'`,
      )
      await b.until(
        'a connected by WebRTC',
        `state.transports[${JSON.stringify(idA)}] === 'webrtc'`,
      )
      // Each is a peer of the other's channel: the direct protocols run over the direct link.
      await a.until('b in the space', `state.peers.includes(${JSON.stringify(idB)})`)
      await relay.close()
      await a.until(
        'the relay gone',
        `state.transports[${JSON.stringify(relay.peerId)}] === undefined`,
      )
      await b.act((actions) => actions.put('k-while-relay-down', 'from-b'))
      expect(await a.act((actions, peer) => actions.pull(peer, 'k-while-relay-down'), idB)).toBe(
        'from-b',
      )
      expect((await a.state()).transports[idB]).toBe('webrtc')
    } finally {
      await a.close()
      await b.close()
      await relay.close()
    }
  })

  it('a device without WebRTC still hears the other through the relay', {
    timeout: 180_000,
  }, async () => {
    const space = 'webrtc-fallback'
    const { relay, address } = await startRelay(space)
    const a = await openDevice({ relay: address, space, webrtc: true })
    const b = await openDevice({ relay: address, space, webrtc: false })
    try {
      const idA = (await a.until('a peer id', 'state.peerId !== null')).peerId!
      const idB = (await b.until('a peer id', 'state.peerId !== null')).peerId!
      // Gossip every second: the third message of each arrived through the relay.
      await a.until('three messages of b', `(state.heard[${JSON.stringify(idB)}] ?? 0) >= 3`)
      await b.until('three messages of a', `(state.heard[${JSON.stringify(idA)}] ?? 0) >= 3`)
      expect((await a.state()).transports[idB]).not.toBe('webrtc')
      expect((await b.state()).transports[idA]).not.toBe('webrtc')
      expect((await a.state()).transports[relay.peerId]).toBe('websockets')
    } finally {
      await a.close()
      await b.close()
      await relay.close()
    }
  })

  it('a direct peer without a grant gets nothing from a member of a private space', {
    timeout: 180_000,
  }, async () => {
    const space = await createSuiteSpace('webrtc-private')
    const { relay, address } = await startRelay(space.id, new AccessVerifier(space.descriptor))
    const [keyA, keyB] = [await generateIdentity(), await generateIdentity()]
    const [idA, idB] = [peerIdOf(keyA), peerIdOf(keyB)]
    const access = (proof?: AccessProof) => ({
      owner: [...space.descriptor.owner],
      name: space.descriptor.name,
      trusted: [relay.peerId],
      ...(proof ? { proof: [...encode(proofToWire(proof))] } : {}),
    })
    const member = await openDevice({
      relay: address,
      space: space.id,
      webrtc: true,
      key: [...identityToBytes(keyA)],
      access: access(await space.proofFor(idA, READ | WRITE)),
    })
    // The outsider joins the space's id with the verifier only: it holds no grant.
    const outsider = await openDevice({
      relay: address,
      space: space.id,
      webrtc: true,
      key: [...identityToBytes(keyB)],
      access: access(),
    })
    try {
      await member.until(
        'the relay connected',
        `state.transports[${JSON.stringify(relay.peerId)}] === 'websockets'`,
      )
      await member.act((actions) => actions.put('secret', 'members only'))
      // The relay forwards no private gossip to a peer without a proof, so the outsider dials
      // the member's circuit WebRTC address itself, as any libp2p peer could.
      await outsider.act((actions, peer) => actions.dial(peer), idA)
      await outsider.until(
        'the member connected by WebRTC',
        `state.transports[${JSON.stringify(idA)}] === 'webrtc'`,
      )
      expect(await outsider.act((actions, peer) => actions.pull(peer, 'secret'), idA)).toMatch(
        /^refused: /,
      )
      expect((await outsider.state()).heard[idA]).toBeUndefined()
      expect((await member.state()).peers).not.toContain(idB)
    } finally {
      await member.close()
      await outsider.close()
      await relay.close()
    }
  })
})

/** One page of the test: its state and actions. */
class Device {
  private readonly page: Page
  private readonly logs: string[]
  readonly close: () => Promise<void>

  constructor(page: Page, logs: string[], close: () => Promise<void>) {
    this.page = page
    this.logs = logs
    this.close = close
  }

  async state(): Promise<PageState> {
    return await this.page.evaluate(
      () => (window as unknown as { mendsyncTest: PageState }).mendsyncTest,
    )
  }

  /** Waits until the page's state satisfies `check` (evaluated in the page) or the page failed. */
  async until(what: string, check: string): Promise<PageState> {
    try {
      await this.page.waitForFunction(
        `(() => { const state = window.mendsyncTest; return state !== undefined && (state.error !== null || (${check})) })()`,
        undefined,
        { timeout: 60_000, polling: 50 },
      )
    } catch (cause) {
      throw new Error(`the page never reached ${what}\n${this.logs.join('\n')}`, { cause })
    }
    const state = await this.state()
    if (state.error) throw new Error(`page failed: ${state.error}\n${this.logs.join('\n')}`)
    return state
  }

  /** Runs `action` with the page's actions (once the page has them). */
  async act<T, A>(action: (actions: PageActions, arg: A) => Promise<T>, arg?: A): Promise<T> {
    await this.until('its actions', 'window.mendsyncActions.put !== undefined')
    return await this.page.evaluate(
      `(${action.toString()})(window.mendsyncActions, ${JSON.stringify(arg ?? null)})`,
    )
  }
}
