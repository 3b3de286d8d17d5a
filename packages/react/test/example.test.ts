// The example app (example/): built with Vite, served, and used in Chromium (playwright-core):
// it builds, its hooks render the list, an invalid quantity is explained, and the list survives
// a reload (IndexedDB).
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHROMIUM_LAUNCH_OPTIONS } from '@mendsync/bench/chromium'
import { type Browser, chromium } from 'playwright-core'
import { build, type PreviewServer, preview } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CONFIG = fileURLToPath(new URL('../example/vite.config.ts', import.meta.url))

describe('the React example app', () => {
  let outDir: string
  let server: PreviewServer
  let browser: Browser
  let url: string

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'mendsync-react-example-'))
    await build({ configFile: CONFIG, logLevel: 'error', build: { outDir, emptyOutDir: true } })
    server = await preview({
      configFile: CONFIG,
      logLevel: 'error',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, open: false },
    })
    const address = server.httpServer.address() as AddressInfo
    url = `http://127.0.0.1:${address.port}/`
    browser = await chromium.launch(CHROMIUM_LAUNCH_OPTIONS)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true })
  })

  it('builds with Vite and runs in Chromium: adds, explains a refused quantity, keeps the list over a reload', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(String(error)))
      await page.goto(url)
      await page.getByText('Nothing yet.').waitFor()
      await page.getByRole('button', { name: 'Add Apples' }).click()
      await page.locator('li[data-sku="apple"][data-qty="1"]').waitFor()
      await page.getByRole('button', { name: 'Add Apples' }).click()
      await page.locator('li[data-sku="apple"][data-qty="2"]').waitFor()

      const quantity = page.getByLabel('quantity of apple')
      await quantity.fill('-3')
      await quantity.blur()
      const alert = page.getByRole('alert')
      await alert.waitFor()
      expect(await alert.textContent()).toMatch(/qty must be an integer from 0/)

      await page.locator('footer[data-keys="1"]').waitFor()
      await page.reload()
      await page.locator('li[data-sku="apple"][data-qty="2"]').waitFor()
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
})
