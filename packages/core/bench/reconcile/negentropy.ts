// Drives the reference negentropy implementation (hoytech/negentropy js/Negentropy.js, vendored
// in tools/bench) over the same scenario as mendsync, in the same process, and counts what it
// sends. An item is (timestamp = the time of the state's last change, the same time mendsync's
// tree is given, id = its 32-byte state hash): a changed state is a different id with a later
// timestamp, as in negentropy's own use.

import { Negentropy, NegentropyStorageVector } from '@mendsync/bench/negentropy'
import type { Scenario, Side } from './scenario.ts'

/** What one negentropy reconciliation cost and whether it found the true difference. */
export interface NegentropyResult {
  /** Round trips: client messages answered by the server (the client's last step sends none). */
  rounds: number
  bytesClientToServer: number
  bytesServerToClient: number
  /** CPU ms in the client's calls (A, initiating) and in the server's (B). */
  cpuA: number
  cpuB: number
  /** `have` and `need` are exactly A's and B's ids of the differing keys. */
  correct: boolean
}

function storageOf(side: Side): NegentropyStorageVector {
  const storage = new NegentropyStorageVector()
  for (let i = 0; i < side.keys.length; i++) {
    storage.insert(side.times[i]!, side.hashes.subarray(32 * i, 32 * i + 32))
  }
  storage.seal()
  return storage
}

function idsOf(side: Side, keys: ReadonlySet<string>): Set<string> {
  const ids = new Set<string>()
  side.keys.forEach((key, i) => {
    if (keys.has(key))
      ids.add(Buffer.from(side.hashes.subarray(32 * i, 32 * i + 32)).toString('hex'))
  })
  return ids
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x))
}

async function cpuMsAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = process.cpuUsage()
  const value = await f()
  const used = process.cpuUsage(start)
  return [value, (used.user + used.system) / 1000]
}

/** Reconciles `scenario` with negentropy (unlimited frame size: the fewest rounds it can do). */
export async function runNegentropy(scenario: Scenario): Promise<NegentropyResult> {
  const client = new Negentropy(storageOf(scenario.a), 0)
  const server = new Negentropy(storageOf(scenario.b), 0)
  client.wantUint8ArrayOutput = true
  server.wantUint8ArrayOutput = true
  const have = new Set<string>()
  const need = new Set<string>()
  const result: NegentropyResult = {
    rounds: 0,
    bytesClientToServer: 0,
    bytesServerToClient: 0,
    cpuA: 0,
    cpuB: 0,
    correct: false,
  }
  const [initial, initiateMs] = await cpuMsAsync(() => client.initiate())
  result.cpuA += initiateMs
  let message: Uint8Array | null = initial
  while (message !== null) {
    result.rounds++
    result.bytesClientToServer += message.length
    const query: Uint8Array = message
    const [[reply], serverMs] = await cpuMsAsync(() => server.reconcile(query))
    result.cpuB += serverMs
    if (reply === null) throw new Error('negentropy: the server returned no reply')
    result.bytesServerToClient += reply.length
    const [[next, haveIds, needIds], clientMs]: [
      [Uint8Array | null, Uint8Array[], Uint8Array[]],
      number,
    ] = await cpuMsAsync(() => client.reconcile(reply))
    result.cpuA += clientMs
    for (const id of haveIds) have.add(Buffer.from(id).toString('hex'))
    for (const id of needIds) need.add(Buffer.from(id).toString('hex'))
    message = next
  }
  result.correct =
    sameSet(have, idsOf(scenario.a, scenario.expected)) &&
    sameSet(need, idsOf(scenario.b, scenario.expected))
  return result
}
