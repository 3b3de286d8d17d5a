import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { busyPort, busyPortMessage } from '../src/busy-port.js'
import { startRelay } from '../src/index.js'

const PORTS = [{ port: 0, what: 'x', choose: 'y' }]

describe('busyPortMessage', () => {
  it("names the port, what listens there and how to choose another when the relay's WebSocket port is taken", async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const taken = (holder.address() as { port: number }).port
    const dataDir = mkdtempSync(join(tmpdir(), 'mendsync-busy-port-'))
    try {
      const failure = await startRelay({
        port: taken,
        metrics: false,
        logLevel: 'silent',
        dataDir,
      }).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(busyPort(failure)).toBe(taken)
      const line = busyPortMessage(failure, [
        { port: taken, what: "the relay's WebSocket listener", choose: '--port <n>' },
      ])
      expect(line).toBe(
        `port ${taken} (the relay's WebSocket listener) is already in use; stop what holds it or choose another with --port <n> (0: a free port)`,
      )
    } finally {
      holder.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("reads Node's own EADDRINUSE error (the metrics server's) and leaves other errors alone", () => {
    const nodeError = Object.assign(
      new Error('listen EADDRINUSE: address already in use 127.0.0.1:9464'),
      {
        code: 'EADDRINUSE',
        port: 9464,
      },
    )
    expect(busyPort(new Error('wrapped', { cause: nodeError }))).toBe(9464)
    expect(busyPortMessage(new Error('ENOENT: no such file'), PORTS)).toBeUndefined()
  })
})
