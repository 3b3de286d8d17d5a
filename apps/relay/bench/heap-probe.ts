// Preloaded into the relay's process by the abuse scenario (NODE_OPTIONS="--expose-gc
// --import=<this file>"): on SIGUSR2 it runs a full garbage collection and prints the live heap as
// one JSON log line, so the scenario measures what the relay retains, not garbage not yet
// collected.
let probes = 0
process.on('SIGUSR2', () => {
  const collect = (globalThis as { gc?: () => void }).gc
  collect?.()
  probes += 1
  const { heapUsed, rss } = process.memoryUsage()
  process.stdout.write(
    `${JSON.stringify({ msg: 'heap probe', seq: probes, heapUsed, rss, collected: collect !== undefined })}\n`,
  )
})
