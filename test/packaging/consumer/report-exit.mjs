// Runs the module named by argv[2] (a README snippet that ends with its close() calls) and, when
// the process exits, prints how long after that module finished the exit came: the time a
// leaked socket or timer would keep the process alive after close().
import { pathToFileURL } from 'node:url'

await import(pathToFileURL(process.argv[2]).href)
const closedAt = performance.now()
process.on('exit', () => {
  process.stderr.write(`exit-after-close-ms=${(performance.now() - closedAt).toFixed(1)}\n`)
})
