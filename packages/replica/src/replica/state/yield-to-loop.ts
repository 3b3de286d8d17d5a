// TOOLBOX: a generic "let the event loop run" step; the lead may move it to @mendsync/core/toolbox.

type Immediate = (callback: () => void) => unknown
const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate

/**
 * Resolves after the event loop has run once: timers, I/O callbacks and the requests waiting on
 * them get their turn. A long background loop (indexing every stored state) awaits this between
 * pages, since awaiting an already settled promise only queues a microtask and starves them.
 * `setImmediate` in Node; a `MessageChannel` message in browsers (no 4 ms timer clamping).
 */
export function yieldToEventLoop(): Promise<void> {
  if (immediate !== undefined) return new Promise((resolve) => immediate(resolve))
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((resolve) => {
      const channel = new MessageChannel()
      channel.port1.onmessage = () => {
        channel.port1.close()
        resolve()
      }
      channel.port2.postMessage(undefined)
    })
  }
  return new Promise((resolve) => setTimeout(resolve, 0))
}
