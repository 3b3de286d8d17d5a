import { existsSync, readdirSync } from 'node:fs'
import { playwright } from '@vitest/browser-playwright'
import { defaultClientConditions, defaultServerConditions } from 'vite'
import { configDefaults, defineConfig } from 'vitest/config'
import { CHROMIUM_LAUNCH_OPTIONS } from './tools/bench/src/chromium.ts'

// Tests import workspace packages from their TypeScript sources (the `mendsync-source` export
// condition), so `vitest` needs no prior build; child processes and benchmarks use `dist`.
const SOURCE_CONDITION = 'mendsync-source'

const packageRoots = ['packages', 'apps']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => `${dir}/${name}`))
  .filter((root) => existsSync(`${root}/test`))

// `*.browser.test.ts` files run in real Chromium (vitest browser mode), in a `<name>-browser`
// project of their package; the Node projects skip them.
const BROWSER_TESTS = 'test/**/*.browser.test.ts'
const hasBrowserTests = (root: string) =>
  readdirSync(`${root}/test`, { recursive: true }).some((file) =>
    String(file).endsWith('.browser.test.ts'),
  )
const chromium = playwright({ launchOptions: CHROMIUM_LAUNCH_OPTIONS })

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
      ...packageRoots.filter(hasBrowserTests).map((root) => ({
        extends: true as const,
        test: {
          name: `${root.split('/')[1]}-browser`,
          root,
          include: [BROWSER_TESTS],
          browser: {
            enabled: true,
            provider: chromium,
            headless: true,
            screenshotFailures: false,
            instances: [{ browser: 'chromium' as const }],
          },
        },
      })),
      {
        extends: true as const,
        test: {
          name: 'cross-package',
          root: 'test',
          include: ['**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'packaging/**'],
        },
      },
      {
        // The packages as another project gets them (packed, installed with npm, run): see
        // test/packaging/install.test.ts. Needs a build (`tsc -b`) like every child process.
        extends: true as const,
        test: { name: 'packaging', root: 'test/packaging', include: ['*.test.ts'] },
      },
    ],
  },
})
