import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, peerIdOf } from '@mendsync/libp2p'
import { type RelayHandle, startRelay } from '@mendsync/relay'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type DemoServer, serveDemo } from '../serve.js'
import {
  add,
  buildDemo,
  cart,
  launch,
  openApp,
  remove,
  saveNote,
  screenshot,
  setOnline,
  setQty,
  waitFor,
  waitForCart,
} from './helpers.js'

const SPACES = [
  'e2e-tabs',
  'e2e-sync',
  'e2e-merge',
  'e2e-handover',
  'e2e-offline',
  'e2e-browser-offline',
  'e2e-narrow',
  'e2e-peers',
  'e2e-comeback',
  'e2e-progress',
]

describe('cart demo in Chromium', () => {
  let dist: string
  let dataDir: string
  let relay: RelayHandle
  let relayAddress: string
  let server: DemoServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    ;[dist, dataDir, browser] = await Promise.all([
      buildDemo(),
      mkdtemp(join(tmpdir(), 'mendsync-cart-relay-')),
      launch(),
    ])
    relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      spaces: SPACES,
      metrics: false,
      circuitRelay: false,
      logLevel: 'error',
    })
    relayAddress = relay.multiaddrs.find((address) => address.includes('/ws/'))!
    server = await serveDemo({ port: 0, dist, relay: relayAddress })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await relay?.stop()
    await rm(dist, { recursive: true, force: true })
    await rm(dataDir, { recursive: true, force: true })
  })

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close()
  })

  async function profile(): Promise<BrowserContext> {
    const context = await browser.newContext()
    contexts.push(context)
    return context
  }

  const at = (space: string, query = '') => `${server.url}?space=${space}${query}`

  /**
   * Two tabs of one new profile in `space`, given a relay address nothing listens on, so that
   * the tabs only have each other; waits until A leads and B follows.
   */
  async function twoTabsWithoutRelay(space: string): Promise<{ a: Page; b: Page }> {
    const nobody = `/ip4/127.0.0.1/tcp/9/ws/p2p/${peerIdOf(await generateIdentity())}`
    const url = at(space, `&relay=${encodeURIComponent(nobody)}`)
    const context = await profile()
    const a = await openApp(context, url)
    const b = await openApp(context, url)
    await waitFor(a, 'tab A to lead', () => document.body.dataset.role === 'leader')
    await waitFor(b, 'tab B to follow', () => document.body.dataset.role === 'follower')
    return { a, b }
  }

  /** Two new profiles in `space`, both online through the relay. */
  async function twoProfilesOnline(space: string): Promise<{ alice: Page; bob: Page }> {
    const url = at(space)
    const alice = await openApp(await profile(), url)
    const bob = await openApp(await profile(), url)
    await waitFor(alice, 'alice online', () => document.body.dataset.net === 'online')
    await waitFor(bob, 'bob online', () => document.body.dataset.net === 'online')
    return { alice, bob }
  }

  it('shows an add in one tab in the other tab of the profile, both ways, with no relay', async () => {
    const { a, b } = await twoTabsWithoutRelay('e2e-tabs')

    // How fast is the tabs bench's business (`tabs.change_latency.p50/p99`); this checks that
    // a change crosses from the leader to the follower and back through the leader.
    await a.click('[data-testid="add-apple"]')
    await waitForCart(b, { apple: 1 }, 5_000)

    await b.click('[data-testid="add-bread"]') // from the follower, through the leader
    await waitForCart(a, { apple: 1, bread: 1 }, 5_000)
    await waitForCart(b, { apple: 1, bread: 1 })
    await waitFor(
      b,
      'the panel to say connecting',
      () => document.body.dataset.net === 'connecting',
    )
    await screenshot(b, '1-two-tabs-follower')
  })

  it('converges the edits of two profiles through the relay', async () => {
    const { alice, bob } = await twoProfilesOnline('e2e-sync')

    await add(alice, 'coffee')
    await waitForCart(bob, { coffee: 1 })
    await add(bob, 'milk')
    await setQty(bob, 'coffee', 3)
    await waitForCart(alice, { coffee: 3, milk: 1 })
    await waitForCart(bob, { coffee: 3, milk: 1 })
    await screenshot(alice, '2-two-profiles-alice')
    await screenshot(bob, '2-two-profiles-bob')
  })

  it('merges concurrent offline edits as the cart semantics say', async () => {
    const { alice, bob } = await twoProfilesOnline('e2e-merge')
    // Both see Y (eggs) and Z (pasta, quantity 2).
    await add(alice, 'eggs')
    await add(alice, 'pasta')
    await setQty(alice, 'pasta', 2)
    await waitForCart(bob, { eggs: 1, pasta: 2 })
    await waitForCart(alice, { eggs: 1, pasta: 2 })

    await setOnline(alice, false)
    await setOnline(bob, false)
    // Alice adds X (cheese) and sets Z to 5. Bob removes Y, sets Z to 3, then adds one more Z.
    await add(alice, 'cheese')
    await setQty(alice, 'pasta', 5)
    await remove(bob, 'eggs')
    await setQty(bob, 'pasta', 3)
    await bob.click('[data-testid="inc-pasta"]')
    // And both write the delivery note (a register): concurrent writes become siblings.
    await saveNote(alice, 'Leave it at the door')
    await saveNote(bob, 'Ring twice')
    await waitForCart(alice, { eggs: 1, pasta: 5, cheese: 1 })
    await waitForCart(bob, { pasta: 4 })
    await waitFor(alice, 'an outbox while offline', () => Number(document.body.dataset.outbox) > 0)
    await screenshot(alice, '3-offline-alice')
    await screenshot(bob, '3-offline-bob')

    await setOnline(alice, true)
    await setOnline(bob, true)
    // pasta = max(5, 3) + Bob's +1 that Alice's set did not see = 6; cheese kept; eggs stay removed.
    const merged = { cheese: 1, pasta: 6 }
    await waitForCart(alice, merged, 20_000)
    await waitForCart(bob, merged, 20_000)
    await waitFor(
      alice,
      'the outbox for the relay to drain',
      () => document.body.dataset.outboxConnected === '0',
    )
    for (const page of [alice, bob]) {
      await waitFor(page, 'the note conflict', () => document.body.dataset.noteSiblings === '2')
      await waitFor(page, 'the conflict count', () => document.body.dataset.conflicts === '1')
    }
    await screenshot(alice, '3-merged-alice')
    await screenshot(bob, '3-merged-bob')
    expect(await cart(alice)).toEqual(merged)

    // Bob keeps one sibling: written with the read's context, it supersedes both, everywhere.
    const kept = await bob
      .locator('[data-action="keep-note"] >> nth=0')
      .evaluate((button) => button.parentElement?.querySelector('q')?.textContent)
    expect(['Leave it at the door', 'Ring twice']).toContain(kept)
    await bob.click('[data-action="keep-note"] >> nth=0')
    for (const page of [alice, bob]) {
      await waitFor(page, 'the note resolved', () => document.body.dataset.noteSiblings === '1')
      expect(await page.inputValue('#note-input')).toBe(kept)
    }
    await screenshot(alice, '3-resolved-alice')
  })

  it('keeps a quantity being typed while another tab changes the cart', async () => {
    const { a, b } = await twoTabsWithoutRelay('e2e-typing')
    await add(a, 'apple')
    await waitForCart(b, { apple: 1 })
    // Tab A starts typing a quantity, and before it presses Enter, tab B changes the cart.
    const typing = a.locator('[data-testid="qty-apple"]')
    await typing.fill('7')
    await add(b, 'bread')
    await add(b, 'apple') // the very line being edited: its count moves to 2 under the input
    await waitForCart(a, { apple: 2, bread: 1 })
    expect(await typing.inputValue()).toBe('7')
    expect(await typing.evaluate((input) => document.activeElement === input)).toBe(true)
    await typing.press('Enter')
    await waitForCart(a, { apple: 7, bread: 1 })
    await waitForCart(b, { apple: 7, bread: 1 })
    // Escape abandons an edit: the input shows the cart's quantity again and nothing is written.
    await typing.fill('3')
    await add(b, 'apple')
    await waitForCart(a, { apple: 8, bread: 1 })
    expect(await typing.inputValue()).toBe('3')
    await typing.press('Escape')
    expect(await typing.inputValue()).toBe('8')
    expect(await typing.evaluate((input) => document.activeElement === input)).toBe(false)
    await add(b, 'bread') // had Escape written 3, tab A would show it before this later add
    await waitForCart(a, { apple: 8, bread: 2 })
    await waitForCart(b, { apple: 8, bread: 2 })
    // Leaving an input with a new value commits it, as a form field does.
    await typing.fill('5')
    await a.locator('[data-testid="inc-bread"]').focus()
    await waitForCart(a, { apple: 5, bread: 2 })
    await waitForCart(b, { apple: 5, bread: 2 })
  })

  it('keeps syncing with the relay after the leader tab closes', async () => {
    const url = at('e2e-handover')
    const home = await profile()
    const first = await openApp(home, url)
    const second = await openApp(home, url)
    const other = await openApp(await profile(), url)
    await waitFor(first, 'the first tab to lead', () => document.body.dataset.role === 'leader')
    await waitFor(other, 'the other profile online', () => document.body.dataset.net === 'online')
    await add(second, 'tomato')
    await waitForCart(other, { tomato: 1 })

    // How fast the handover is, is measured by `pnpm bench:tabs` (tabs.handover_after_close).
    await first.close()
    await waitFor(second, 'the second tab to lead', () => document.body.dataset.role === 'leader')
    await waitFor(second, 'the new leader online', () => document.body.dataset.net === 'online')
    await add(second, 'bread')
    await waitForCart(other, { tomato: 1, bread: 1 })
    await add(other, 'apple')
    await waitForCart(second, { tomato: 1, bread: 1, apple: 1 })
    await screenshot(second, '4-new-leader')
  })

  it('reloads offline from the service worker, with its data', async () => {
    const url = at('e2e-offline')
    const context = await profile()
    const page = await openApp(context, url)
    await add(page, 'apple')
    await add(page, 'cheese')
    await waitForCart(page, { apple: 1, cheese: 1 })
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready
    })
    await context.setOffline(true)
    await page.reload()
    await waitFor(page, 'the app to start offline', () => document.body.dataset.ready === 'true')
    expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true)
    await waitForCart(page, { apple: 1, cheese: 1 })
    await add(page, 'milk') // and it keeps working
    await waitForCart(page, { apple: 1, cheese: 1, milk: 1 })
    await screenshot(page, '5-offline-reload')
    await context.setOffline(false)
  })

  it('says offline when the browser is offline, also after an offline reload, and reconnects when it is back', async () => {
    const context = await profile()
    const page = await openApp(context, at('e2e-browser-offline'))
    await waitFor(page, 'online', () => document.body.dataset.net === 'online')
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready
    })
    await context.setOffline(true)
    await waitFor(page, 'offline shown', () => document.body.dataset.net === 'offline')
    expect(await page.locator('#net-badge').textContent()).toBe('offline (no network)')
    await page.reload()
    await waitFor(page, 'the app to start offline', () => document.body.dataset.ready === 'true')
    await waitFor(page, 'offline after the reload', () => document.body.dataset.net === 'offline')
    expect(await page.locator('#net-badge').textContent()).toBe('offline (no network)')
    await screenshot(page, '7-browser-offline')
    await context.setOffline(false)
    await waitFor(
      page,
      'online again',
      () => document.body.dataset.net === 'online',
      undefined,
      30_000,
    )
  })

  it('fits a phone from 360 to 430 px wide: no horizontal overflow, Add and remove buttons on screen', async () => {
    const page = await openApp(await profile(), at('e2e-narrow'))
    await waitFor(page, 'online', () => document.body.dataset.net === 'online')
    for (const sku of ['bread', 'coffee', 'eggs', 'cheese']) await add(page, sku)
    // A line with its explanation showing, the widest state a line has.
    const input = page.locator('[data-testid="qty-bread"]')
    await input.fill('-3')
    await input.press('Enter')
    await page.locator('[data-testid="note-bread"]').waitFor()
    for (const width of [360, 375, 390, 414, 430]) {
      await page.setViewportSize({ width, height: 800 })
      const layout = await page.evaluate(() => {
        const buttons = Array.from(
          document.querySelectorAll<HTMLElement>('[data-action="add"], [data-action="remove"]'),
        )
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          buttons: buttons.length,
          offScreen: buttons
            .map((button) => ({ id: button.dataset.testid, box: button.getBoundingClientRect() }))
            .filter(({ box }) => box.left < 0 || box.right > window.innerWidth || box.width === 0)
            .map(({ id }) => id),
        }
      })
      expect({ width, ...layout }).toEqual({
        width,
        scrollWidth: width,
        innerWidth: width,
        buttons: 8 + 4,
        offScreen: [],
      })
    }
    await screenshot(page, '8-phone-390')
  })

  it('explains a refused quantity on its line and writes nothing', async () => {
    const { a, b } = await twoTabsWithoutRelay('e2e-quantity')
    await add(a, 'apple')
    await setQty(a, 'apple', 4)
    await waitForCart(b, { apple: 4 })
    const input = a.locator('[data-testid="qty-apple"]')
    const note = a.locator('[data-testid="note-apple"]')
    for (const typed of ['-3', '2.5']) {
      await input.fill(typed)
      await input.press('Enter')
      await note.waitFor()
      expect(await note.textContent()).toContain(
        `“${typed}” is not a quantity: type a whole number`,
      )
      expect(await input.getAttribute('aria-invalid')).toBe('true')
    }
    await input.blur()
    expect(await input.inputValue()).toBe('4') // back to the cart's quantity
    await add(b, 'bread') // had a refused quantity been written, tab B would show it by now
    await waitForCart(b, { apple: 4, bread: 1 })
    await waitForCart(a, { apple: 4, bread: 1 })
    await setQty(a, 'apple', 2) // a good quantity clears the explanation
    await waitFor(a, 'the note hidden', () => {
      const shown = document.querySelector<HTMLElement>('[data-testid="note-apple"]')
      return shown?.hidden === true
    })
    await waitForCart(b, { apple: 2, bread: 1 })
  })

  it('labels the peers (relay) and the version vector (this device, via relay), and aggregates handoffs in the activity log', async () => {
    const { alice, bob } = await twoProfilesOnline('e2e-peers')
    await add(bob, 'milk')
    await waitForCart(alice, { milk: 1 })
    // Each add reaches Bob before the next: at least one handoff per add from Alice's replica.
    const added: Record<string, number> = { milk: 1 }
    for (const sku of ['apple', 'bread', 'cheese', 'coffee', 'eggs', 'pasta']) {
      await add(alice, sku)
      added[sku] = 1
      await waitForCart(bob, added)
    }
    await waitFor(
      alice,
      'the relay labelled among the connected peers',
      () => document.querySelector('.peers li[data-role="relay"]') !== null,
    )
    await waitFor(
      alice,
      "this device's and Bob's rows of the version vector labelled",
      () =>
        document.querySelectorAll('.vector [data-role="this device"]').length === 1 &&
        document.querySelectorAll('.vector [data-role="via relay"]').length >= 1,
    )
    const handoffs = await alice.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>('.activity li[data-kind="handoff"]')).map(
        (line) => Number(line.dataset.count),
      ),
    )
    // Six handed-off writes in a row: one line (two if another kind of event came in between).
    expect(handoffs.length).toBeGreaterThanOrEqual(1)
    expect(handoffs.length).toBeLessThanOrEqual(2)
    expect(Math.max(...handoffs)).toBeGreaterThanOrEqual(2)
    await screenshot(alice, '9-peers-alice')
  })

  it('counts the keys a reconnect brings in the sync progress the panel reads', async () => {
    const { alice, bob } = await twoProfilesOnline('e2e-progress')
    await setOnline(bob, false)
    const keys = 300
    await alice.evaluate(async (count) => {
      const { tabs } = (
        globalThis as unknown as {
          mendsyncDemo: { tabs: { put(key: string, value: unknown): Promise<void> } }
        }
      ).mendsyncDemo
      for (let i = 0; i < count; i++) await tabs.put(`bulk/${i}`, { i })
    }, keys)
    await setOnline(bob, true)
    await waitFor(
      bob,
      'the keys Alice wrote while Bob was away to arrive',
      (want) => Number(document.body.dataset.keys) >= want,
      keys,
      60_000,
    )
    // Every round's last progress event counts what it received; the panel shows their sum.
    await waitFor(
      bob,
      'the sync progress to count them',
      (want) => Number(document.body.dataset.syncKeysReceived) >= want,
      keys,
      20_000,
    )
    expect(Number(await bob.evaluate(() => document.body.dataset.syncRounds))).toBeGreaterThan(0)
    await waitFor(bob, 'the round to end', () => document.body.dataset.syncing === 'false')
    expect(await bob.locator('#sync-progress').count()).toBe(0)
  })

  it('explains a removed line that came back because another device added to it meanwhile', async () => {
    const { alice, bob } = await twoProfilesOnline('e2e-comeback')
    await add(alice, 'eggs')
    await waitForCart(bob, { eggs: 1 })
    await setOnline(alice, false)
    await setOnline(bob, false)
    await remove(bob, 'eggs') // Bob removes the eggs he saw...
    await alice.click('[data-testid="inc-eggs"]') // ...while Alice adds one more
    await waitForCart(alice, { eggs: 2 })
    await setOnline(bob, true)
    await setOnline(alice, true)
    // Add wins: Alice's unseen +1 survives Bob's removal, and Bob is told why the line is back.
    await waitForCart(bob, { eggs: 1 }, 20_000)
    await waitForCart(alice, { eggs: 1 }, 20_000)
    const note = bob.locator('[data-testid="note-eggs"]')
    await note.waitFor()
    expect(await note.textContent()).toMatch(/^Back in the cart: another device added one/)
    expect(await alice.locator('[data-testid="note-eggs"]').isHidden()).toBe(true)
    await screenshot(bob, '10-comeback-bob')
    await bob.click('[data-testid="remove-eggs"]') // acting on the line again clears the note
    await waitForCart(bob, {})
    await waitForCart(alice, {})
  })

  it('keeps a private cart to the devices holding a grant: one joins through the invite link, a profile without it has another cart, the owner revokes from the card', async () => {
    const owner = await openApp(await profile(), server.url)
    const ownerSpace = await waitFor(owner, 'a private cart', () =>
      document.body.dataset.space?.startsWith('ms1') ? document.body.dataset.space : undefined,
    )
    await waitFor(owner, 'the owner online', () => document.body.dataset.net === 'online')
    await add(owner, 'apple')
    await owner.click('[data-testid="add-device"]')
    const link = await owner.locator('[data-testid="invite-link"]').inputValue()
    expect(link).toMatch(/#invite=/)
    expect(await owner.locator('[data-testid="invite-qr"] svg').count()).toBe(1)
    await screenshot(owner, '11-invite-owner')

    // The second profile opens the link: its own grant, the same cart, both ways.
    const joiner = await openApp(await profile(), link)
    expect(await joiner.evaluate(() => document.body.dataset.space)).toBe(ownerSpace)
    expect(await joiner.evaluate(() => location.hash)).toBe('') // the token leaves the address bar
    await waitForCart(joiner, { apple: 1 }, 20_000)
    await add(joiner, 'bread')
    await waitForCart(owner, { apple: 1, bread: 1 }, 20_000)

    // A third profile without the link gets a cart of its own, empty.
    const outsider = await openApp(await profile(), server.url)
    const outsiderSpace = await outsider.evaluate(() => document.body.dataset.space)
    expect(outsiderSpace).toMatch(/^ms1/)
    expect(outsiderSpace).not.toBe(ownerSpace)
    expect(await cart(outsider)).toEqual({})

    // The owner revokes the joiner from the devices card: the owner's replica signs it.
    const joinerPeer = await waitFor(
      joiner,
      "the joiner's device row",
      () =>
        document.querySelector<HTMLElement>('[data-testid="devices"] li[data-peer]')?.dataset
          .peer ?? '',
    )
    await owner.fill('[data-testid="revoke-peer"]', joinerPeer)
    await owner.click('[data-testid="revoke-submit"]')
    await waitFor(
      owner,
      'the revoke form cleared by a redraw',
      () =>
        (document.querySelector<HTMLInputElement>('[data-testid="revoke-peer"]')?.value ?? 'x') ===
        '',
    )
    expect(await owner.locator('#devices .error').count()).toBe(0)
  }, 180_000)
})
