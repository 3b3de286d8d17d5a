import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runReconnectStorm } from '../bench/reconnect-storm.ts'
import { assertBuilt } from './helpers.js'

// The reconnect storm of bench/reconnect-storm.ts, smaller: a relay (the built binary) with
// CLIENTS full peers connected and subscribed is SIGKILLed, every client writes a key while it is
// down, the relay restarts on the same port and data, and every client must come back by itself
// (no redial code in the clients: the library's keepConnected) and converge: every client and the
// relay hold every key. It waits for that with a generous timeout and asserts no timing (the
// seconds are the bench's `reconnect_all_after_restart_s`, run with 200 clients).
//
// 60 clients, not 200: 200 full peers take minutes to start on the shared 2-core CI machine,
// which is too large a part of the suite; the bench runs 200.
const CLIENTS = 60

let relayDir: string
beforeAll(async () => {
  assertBuilt()
  relayDir = await mkdtemp(join(tmpdir(), 'mendsync-relay-reconnect-'))
})
afterAll(async () => {
  await rm(relayDir, { recursive: true, force: true })
})

describe('relay restart under many connected clients (reconnect storm)', () => {
  it(`gets every one of ${CLIENTS} clients connected again and converged after a SIGKILL and restart`, async () => {
    const result = await runReconnectStorm({
      clients: CLIENTS,
      workers: 2,
      relayDir,
      phaseTimeoutMs: 240_000,
    })
    expect(result.connected).toBe(CLIENTS)
    expect(result.converged).toBe(CLIENTS)
    expect(result.relayKeys).toBe(CLIENTS)
  }, 600_000)
})
