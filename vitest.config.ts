import { existsSync, readdirSync } from 'node:fs'
import { playwright } from '@vitest/browser-playwright'
import { defaultClientConditions, defaultServerConditions } from 'vite'
import { configDefaults, defineConfig } from 'vitest/config'

// Tests import workspace packages from their TypeScript sources (the `mendsync-source` export
// condition), so `vitest` needs no prior build; child processes and benchmarks use `dist`.
const SOURCE_CONDITION = 'mendsync-source'

const packageRoots = ['packages', 'apps']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => `${dir}/${name}`))
  .filter((root) => existsSync(`${root}/test`))

// `*.browser.test.ts` files run in real Chromium (vitest browser mode), in their own projects;
// the Node projects skip them.
const BROWSER_TESTS = 'test/**/*.browser.test.ts'
const CHROMIUM = process.env.MENDSYNC_CHROMIUM ?? '/usr/bin/chromium'
const chromium = playwright({
  launchOptions: {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
})

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    // One fresh worker per test file, chosen on purpose: suites install globals (fake-indexeddb,
    // Buffer-dependent fixtures) that must not leak into other files.
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      ...packageRoots.map((root) => ({
        extends: true as const,
        test: {
          name: root.split('/')[1],
          root,
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, BROWSER_TESTS],
        },
      })),
      {
        extends: true as const,
        test: {
          name: 'storage-idb-browser',
          root: 'packages/storage-idb',
          include: [BROWSER_TESTS],
          browser: {
            enabled: true,
            provider: chromium,
            headless: true,
            screenshotFailures: false,
            instances: [{ browser: 'chromium' as const }],
          },
        },
      },
      {
        extends: true as const,
        test: { name: 'cross-package', root: 'test', include: ['**/*.test.ts'] },
      },
    ],
  },
})
