// `npm start` as a user, a container or a process manager runs it: its options come from the
// environment, a taken port is one line, and SIGTERM to the one process `npm start` is (what
// `docker stop`, systemd or `kill` signal) stops everything gracefully, leaving nothing behind.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startChild, waitForExit, waitForLine } from './child.ts'

const ROOT = resolve(import.meta.dirname, '../..')

/**
 * PATH as a user's shell has it: a real Node first and no workspace `node_modules/.bin`. Inside
 * `npm test` the PATH leads with the workspace's bins, where `node` is pnpm's shim; `npm`'s own
 * `#!/usr/bin/env node` would then run npm under the shim, and a SIGTERM to "npm" would stop at
 * the shim (the very problem npm start avoids for its own children).
 */
const USER_PATH = [
  dirname(process.execPath),
  ...(process.env.PATH ?? '').split(delimiter).filter((entry) => !entry.includes('node_modules')),
].join(delimiter)
/** Installing (a no-op when up to date), building and starting: generous on a loaded machine. */
const START_LIMIT_MS = 300_000
const STOP_LIMIT_MS = 60_000

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mendsync-start-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A port nothing listens on right now (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as { port: number }
  await new Promise<void>((done) => server.close(() => done()))
  return port
}

/** Every process below `pid` now (Linux /proc), children first found first. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)])
    } catch {
      // The process exited between listing /proc and reading its stat: not a descendant now.
    }
  }
  const found: number[] = []
  const pending = [pid]
  while (pending.length > 0) {
    for (const child of parents.get(pending.shift()!) ?? []) {
      found.push(child)
      pending.push(child)
    }
  }
  return found
}

/**
 * Whether `pid` is still running: a zombie (exited, not yet reaped by whoever adopted it) is not.
 */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
  } catch {
    return false // no /proc entry: exited and reaped
  }
}

describe('npm start', () => {
  it(
    'honours MENDSYNC_RELAY_PORT and MENDSYNC_RELAY_METRICS_PORT, and on SIGTERM to the npm process logs its shutdown, exits 0 and leaves no process and no WAL behind',
    async () => {
      const dataDir = temporaryDirectory()
      const relayPort = await freePort()
      const metricsPort = await freePort()
      const npm = startChild('npm', ['start'], {
        cwd: ROOT,
        env: {
          ...process.env,
          PATH: USER_PATH,
          MENDSYNC_RELAY_PORT: String(relayPort),
          MENDSYNC_RELAY_METRICS_PORT: String(metricsPort),
          MENDSYNC_RELAY_DATA_DIR: dataDir,
          MENDSYNC_DEMO_PORT: '0',
        },
      })
      cleanups.push(() => npm.process.kill('SIGKILL'))
      const ready = waitForLine(npm, (line) => line.includes('mendsync cart demo: open'))
      await Promise.race([ready, waitForExit(npm, START_LIMIT_MS, 'npm start')])
      expect(await ready).toContain(`/tcp/${relayPort}/ws/p2p/`)
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      expect(metrics.status).toBe(200)
      await metrics.text()
      const wal = join(dataDir, 'spaces', 'demo.sqlite-wal')
      expect(existsSync(wal), 'the open space has a WAL while running').toBe(true)
      const processes = descendants(npm.process.pid!)
      expect(processes.length).toBeGreaterThan(0)

      npm.process.kill('SIGTERM')
      const status = await waitForExit(npm, STOP_LIMIT_MS, 'npm start after SIGTERM')
      const output = npm.stdout() + npm.stderr()
      expect(status, output).toBe(0)
      expect(output).toContain('SIGTERM: shutting down')
      expect(output).toContain('stopping: refusing new connections')
      expect(output).toMatch(/INFO {2}stopped/)
      expect(processes.filter(running), 'processes left running').toEqual([])
      expect(existsSync(wal), 'WAL left behind').toBe(false)
      // npm start builds the workspace and the demo first: minutes on a loaded 2-core machine.
    },
    START_LIMIT_MS + STOP_LIMIT_MS,
  )

  it('reports a taken relay port in one line naming the port and the variable that chooses another, and exits 1', async () => {
    const holder: Server = createServer()
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done))
    cleanups.push(() => holder.close())
    const taken = (holder.address() as { port: number }).port
    // The program `npm start` runs once it has built; starting it directly skips the build.
    const start = startChild(process.execPath, [join(ROOT, 'apps/cart-demo/start.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        MENDSYNC_RELAY_PORT: String(taken),
        MENDSYNC_RELAY_METRICS_PORT: '0',
        MENDSYNC_RELAY_DATA_DIR: temporaryDirectory(),
        MENDSYNC_DEMO_PORT: '0',
      },
    })
    expect(await waitForExit(start, STOP_LIMIT_MS, 'start.ts on a taken port')).toBe(1)
    expect(start.stderr().trim().split('\n')).toEqual([
      `mendsync: port ${taken} (the relay's listener /ip4/127.0.0.1/tcp/${taken}/ws) is already in use; stop what holds it or choose another with --port <n> or MENDSYNC_RELAY_PORT=<n> (0: a free port)`,
    ])
  })
})

describe("the relay started through the workspace's node shim", () => {
  it('stops gracefully (logged, no process, no WAL left) when SIGTERM kills the shim, which passes no signal on', async () => {
    const dataDir = temporaryDirectory()
    const shim = startChild(
      join(ROOT, 'node_modules/.bin/node'),
      [join(ROOT, 'apps/relay/dist/cli.js'), '--port', '0', '--no-metrics', '--data-dir', dataDir],
      { cwd: ROOT },
    )
    cleanups.push(() => shim.process.kill('SIGKILL'))
    await waitForLine(shim, (line) =>
      line.includes("started through the package manager's node shim"),
    )
    const relay = descendants(shim.process.pid!)
    expect(relay.length).toBeGreaterThan(0)
    cleanups.push(() => {
      for (const pid of relay.filter(running)) process.kill(pid, 'SIGKILL')
    })
    expect(existsSync(join(dataDir, 'spaces', 'demo.sqlite-wal'))).toBe(true)

    shim.process.kill('SIGTERM')
    // The relay holds the shim's stdout: the pipe closes when the relay itself has exited.
    await waitForExit(shim, STOP_LIMIT_MS, 'the relay after its shim was killed')
    const output = shim.stdout() + shim.stderr()
    expect(output).toContain('shutting down signal="launcher exited"')
    expect(output).toMatch(/INFO {2}stopped/)
    expect(relay.filter(running), 'processes left running').toEqual([])
    expect(existsSync(join(dataDir, 'spaces', 'demo.sqlite-wal')), 'WAL left behind').toBe(false)
  })
})
