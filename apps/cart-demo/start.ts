// `npm start`: the relay on its embedded defaults plus the built cart demo, in one process.
// Prints the URL to open; Ctrl-C (or SIGTERM) stops both gracefully.
import { startRelay } from '@mendsync/relay'
import { serveDemo } from './serve.ts'

const SHUTDOWN_TIMEOUT_MS = 10_000

const relay = await startRelay()
const browserAddress = relay.multiaddrs.find((address) => address.includes('/ws'))
const demo = await serveDemo({ relay: browserAddress })
console.log(
  `\nmendsync cart demo: open ${demo.url} (relay ${browserAddress ?? 'not reachable over WebSockets'})`,
)

let stopping = false
function stop(): void {
  if (stopping) return
  stopping = true
  const timer = setTimeout(() => {
    console.error(`shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms`)
    process.exit(1)
  }, SHUTDOWN_TIMEOUT_MS)
  Promise.all([demo.close(), relay.stop()]).then(
    () => {
      clearTimeout(timer)
      process.exit(0)
    },
    (error: unknown) => {
      console.error('shutdown failed:', error)
      process.exit(1)
    },
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
