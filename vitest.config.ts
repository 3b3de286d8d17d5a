import { existsSync, readdirSync } from 'node:fs'
import { defaultClientConditions, defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

// Tests import workspace packages from their TypeScript sources (the `mendsync-source` export
// condition), so `vitest` needs no prior build; child processes and benchmarks use `dist`.
const SOURCE_CONDITION = 'mendsync-source'

const packageRoots = ['packages', 'apps']
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => `${dir}/${name}`))
  .filter((root) => existsSync(`${root}/test`))

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      ...packageRoots.map((root) => ({
        extends: true as const,
        test: { name: root.split('/')[1], root, include: ['test/**/*.test.ts'] },
      })),
      {
        extends: true as const,
        test: { name: 'cross-package', root: 'test', include: ['**/*.test.ts'] },
      },
    ],
  },
})
