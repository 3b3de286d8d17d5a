// A full disk under a real store: its directory is a 4 MiB tmpfs filled by a file. A write that
// does not fit fails with STORAGE_FAILURE saying the disk is full (isDiskFull), nothing of it is
// stored, reads keep working, and the same open storage accepts writes again once the filler is
// deleted; a reopen finds exactly the committed data. Needs root (mount -t tmpfs).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMendsyncError } from '@mendsync/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isDiskFull, openFileStorage } from '../src/index.js'

const TMPFS_BYTES = 4 * 1024 * 1024
let root: string
let mount: string

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mendsync-file-full-'))
  mount = join(root, 'disk')
  mkdirSync(mount)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mount])
})
afterAll(() => {
  execFileSync('umount', [mount])
  rmSync(root, { recursive: true, force: true })
})

describe('a full disk', () => {
  it('fails the write with STORAGE_FAILURE saying so, keeps reads, and writes again once space is freed', async () => {
    const directory = join(mount, 'data')
    const storage = await openFileStorage({ directory, space: 'full' })
    const small = new Uint8Array(100).fill(1)
    await storage.write({ values: [{ key: 'before', value: small }] })

    const filler = join(mount, 'filler')
    const stats = statfsSync(mount)
    writeFileSync(filler, Buffer.alloc(Number(stats.bavail) * Number(stats.bsize) - 32 * 1024))
    const big = new Uint8Array(512 * 1024).fill(2)
    const failure = await storage.write({ values: [{ key: 'big', value: big }] }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(isMendsyncError(failure, 'STORAGE_FAILURE')).toBe(true)
    expect(String((failure as Error).message)).toMatch(/The disk is full; free space and retry/)
    expect(isDiskFull(failure)).toBe(true)
    expect(isDiskFull(new Error('wrapped', { cause: failure }))).toBe(true)
    expect(isDiskFull(new Error('other'))).toBe(false)

    expect(await storage.get('values', ['before', 'big'])).toEqual([small, undefined])

    rmSync(filler)
    await storage.write({ values: [{ key: 'big', value: big }] })
    expect(await storage.get('values', ['big'])).toEqual([big])
    await storage.close()

    const reopened = await openFileStorage({ directory, space: 'full', check: 'full' })
    expect(await reopened.get('values', ['before', 'big'])).toEqual([small, big])
    await reopened.close()
  })
})
