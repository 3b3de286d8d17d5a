// End-to-end helpers: build the demo with Vite, serve it, start a relay, drive Chromium
// (playwright-core) and read the page's state from its DOM (the app mirrors it in data-*).
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHROMIUM_LAUNCH_OPTIONS } from '@mendsync/bench/chromium'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { build } from 'vite'

export const RESULTS = fileURLToPath(new URL('../test-results/', import.meta.url))
const CONFIG = fileURLToPath(new URL('../vite.config.ts', import.meta.url))

/** Builds the demo into a new temporary directory; returns it. */
export async function buildDemo(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'mendsync-cart-demo-'))
  await build({
    configFile: CONFIG,
    logLevel: 'error',
    build: { outDir, emptyOutDir: true, sourcemap: false, minify: false },
  })
  return outDir
}

export async function launch(): Promise<Browser> {
  await mkdir(RESULTS, { recursive: true })
  return await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
}

/** A page's console and errors, for failure messages. */
const logs = new WeakMap<Page, string[]>()

/** Opens the app in a new tab of `context` (a browser profile) and waits until it is ready. */
export async function openApp(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage()
  await page.setViewportSize({ width: 1280, height: 900 })
  const lines: string[] = []
  logs.set(page, lines)
  page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`))
  page.on('pageerror', (error) => lines.push(`pageerror: ${String(error)}`))
  await page.goto(url)
  await waitFor(page, 'the app to start', () => document.body.dataset.ready === 'true')
  return page
}

/**
 * Waits (bounded) until `predicate` returns a truthy value in the page, and returns that value;
 * fails with the page's log otherwise.
 */
export async function waitFor<T, R>(
  page: Page,
  what: string,
  predicate: (arg: T) => R,
  arg?: T,
  timeoutMs = 15_000,
): Promise<R> {
  try {
    // (T and R are plain serialisable values here, so they cross unchanged.)
    const handle = await page.waitForFunction(predicate as (arg: unknown) => R, arg as unknown, {
      timeout: timeoutMs,
      polling: 50,
    })
    return (await handle.jsonValue()) as R
  } catch (error) {
    const state = await page
      .evaluate(() => ({
        ...document.body.dataset,
        cart: Array.from(document.querySelectorAll<HTMLElement>('#cart li[data-sku]')).map(
          (line) => `${line.dataset.sku}=${line.dataset.qty}`,
        ),
      }))
      .catch(() => 'unavailable')
    throw new Error(
      `timed out waiting for ${what}: ${(error as Error).message.split('\n')[0]}\nstate: ${JSON.stringify(state)}\n${(logs.get(page) ?? []).slice(-20).join('\n')}`,
    )
  }
}

/** The cart as the page shows it: `{ sku: qty }`. */
export async function cart(page: Page): Promise<Record<string, number>> {
  return await page.evaluate(() => {
    const result: Record<string, number> = {}
    for (const line of Array.from(document.querySelectorAll<HTMLElement>('#cart li[data-sku]'))) {
      result[line.dataset.sku ?? ''] = Number(line.dataset.qty)
    }
    return result
  })
}

/**
 * Waits until the page's cart is exactly `expected`; returns the page's clock (`Date.now()`) at
 * the first poll that saw it, at most 50 ms after it was drawn.
 */
export async function waitForCart(
  page: Page,
  expected: Record<string, number>,
  timeoutMs = 15_000,
): Promise<number> {
  return await waitFor(
    page,
    `the cart ${JSON.stringify(expected)}`,
    (want) => {
      const shown: Record<string, number> = {}
      for (const line of Array.from(document.querySelectorAll<HTMLElement>('#cart li[data-sku]'))) {
        shown[line.dataset.sku ?? ''] = Number(line.dataset.qty)
      }
      const keys = Object.keys(want)
      const same =
        Object.keys(shown).length === keys.length && keys.every((key) => shown[key] === want[key])
      return same ? Date.now() : 0
    },
    expected,
    timeoutMs,
  )
}

/** Adds one `sku` and waits until its line is drawn. */
export async function add(page: Page, sku: string): Promise<void> {
  await page.click(`[data-testid="add-${sku}"]`)
  await waitFor(
    page,
    `${sku} in the cart`,
    (want) => document.querySelector(`#cart li[data-sku="${want}"]`) !== null,
    sku,
  )
}

/** Removes the line `sku` and waits until it is gone from the drawn list. */
export async function remove(page: Page, sku: string): Promise<void> {
  await page.click(`[data-testid="remove-${sku}"]`)
  await waitFor(
    page,
    `${sku} removed`,
    (want) => document.querySelector(`#cart li[data-sku="${want}"]`) === null,
    sku,
  )
}

export async function setQty(page: Page, sku: string, qty: number): Promise<void> {
  const input = page.locator(`[data-testid="qty-${sku}"]`)
  await input.fill(String(qty))
  await input.press('Enter')
  await waitFor(
    page,
    `${sku} at ${qty}`,
    ([want, n]) =>
      document.querySelector<HTMLElement>(`#cart li[data-sku="${want}"]`)?.dataset.qty ===
      String(n),
    [sku, qty] as const,
  )
}

/** Switches the leader's network with the page's switch and waits for the panel to agree. */
export async function setOnline(page: Page, on: boolean): Promise<void> {
  const checked = await page.locator('#online').isChecked()
  if (checked !== on) await page.click('label.switch')
  await waitFor(
    page,
    on ? 'the network to connect' : 'the network to stop',
    (want) => document.body.dataset.net === want,
    on ? 'online' : 'offline',
    20_000,
  )
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true })
}

export async function saveNote(page: Page, text: string): Promise<void> {
  await page.fill('#note-input', text)
  await page.click('#note-form button[type="submit"]')
  await waitFor(
    page,
    `the note "${text}"`,
    (want) =>
      document.body.dataset.noteSiblings === '1' &&
      (document.querySelector('#note-input') as HTMLInputElement).value === want,
    text,
  )
}
