// Builds the cart demo (static files in dist/) and its service worker. Workspace packages are
// bundled from their TypeScript sources (the `mendsync-source` condition): no prior tsc needed.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultClientConditions, defineConfig, type Plugin } from 'vite'

const ROOT = dirname(fileURLToPath(import.meta.url))

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

/**
 * Emits `sw.js` (from src/sw.ts) and prepends to it the list of files to precache: every file
 * of the build and of public/, and a version that changes whenever any of them changes.
 */
function serviceWorker(): Plugin {
  let publicDir = join(ROOT, 'public')
  return {
    name: 'mendsync-cart-service-worker',
    apply: 'build',
    enforce: 'post',
    configResolved(config) {
      publicDir = config.publicDir
    },
    buildStart() {
      this.emitFile({ type: 'chunk', id: join(ROOT, 'src/sw.ts'), fileName: 'sw.js' })
    },
    generateBundle(_options, bundle) {
      const hash = createHash('sha256')
      const files = new Set<string>(['/', '/index.html'])
      for (const [name, output] of Object.entries(bundle).sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (name === 'sw.js' || name.endsWith('.map')) continue
        files.add(`/${name}`)
        hash.update(name)
        hash.update(output.type === 'chunk' ? output.code : output.source)
      }
      for (const path of filesUnder(publicDir).sort()) {
        const name = relative(publicDir, path).split(sep).join('/')
        files.add(`/${name}`)
        hash.update(name)
        hash.update(readFileSync(path))
      }
      const worker = bundle['sw.js']
      if (worker?.type !== 'chunk') throw new Error('the service worker chunk is missing')
      const precache = { version: hash.digest('hex').slice(0, 16), files: [...files] }
      worker.code = `self.__MENDSYNC_PRECACHE__ = ${JSON.stringify(precache)};\n${worker.code}`
    },
  }
}

export default defineConfig({
  root: ROOT,
  logLevel: 'warn',
  resolve: { conditions: ['mendsync-source', ...defaultClientConditions] },
  build: {
    target: 'es2022',
    outDir: join(ROOT, 'dist'),
    emptyOutDir: true,
    sourcemap: true,
    // libp2p makes the app about 770 KB (220 KB gzipped): one chunk, cached by the service worker.
    chunkSizeWarningLimit: 1000,
  },
  plugins: [serviceWorker()],
})
