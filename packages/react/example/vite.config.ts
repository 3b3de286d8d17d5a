// Builds the React example (static files). Workspace packages are bundled from their TypeScript
// sources (the `mendsync-source` condition); an app outside the workspace uses their `dist`.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultClientConditions, defineConfig } from 'vite'

const ROOT = dirname(fileURLToPath(import.meta.url))

export default defineConfig({
  root: ROOT,
  logLevel: 'warn',
  resolve: { conditions: ['mendsync-source', ...defaultClientConditions] },
  build: { target: 'es2022', outDir: join(ROOT, 'dist'), emptyOutDir: true },
})
