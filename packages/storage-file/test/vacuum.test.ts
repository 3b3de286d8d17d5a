// Erased records give their pages back to the file system (issue 18: collected tombstones must
// not leave a file the size of everything ever deleted).
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fileStoragePath, openFileStorage } from '../src/index.js'

let root: string
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mendsync-file-vacuum-'))
})
afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

async function sizeAfter(fill: number, erase: number): Promise<number> {
  const storage = await openFileStorage({ directory: root, space: `s${fill}-${erase}` })
  const value = new Uint8Array(200).fill(7)
  for (let i = 0; i < fill; i += 1000) {
    const values = Array.from({ length: Math.min(1000, fill - i) }, (_, j) => ({
      key: `k${i + j}`,
      value,
    }))
    await storage.write({ values })
  }
  const erased = Array.from({ length: erase }, (_, j) => ({ key: `k${j}`, value: null }))
  if (erased.length > 0) await storage.write({ values: erased })
  await storage.close()
  return statSync(fileStoragePath(root, `s${fill}-${erase}`)).size
}

describe('erasing records', () => {
  it('shrinks the file back to about the size of an empty one', async () => {
    const empty = await sizeAfter(0, 0)
    const full = await sizeAfter(20_000, 0)
    const erased = await sizeAfter(20_000, 20_000)
    expect(full).toBeGreaterThan(empty * 50)
    expect(erased).toBeLessThanOrEqual(empty * 1.1)
  })

  it('keeps every record that was not erased', async () => {
    const storage = await openFileStorage({ directory: root, space: 'kept' })
    const value = new Uint8Array(100).fill(1)
    await storage.write({
      values: Array.from({ length: 3000 }, (_, i) => ({ key: `k${i}`, value })),
    })
    await storage.write({
      values: Array.from({ length: 2900 }, (_, i) => ({ key: `k${i}`, value: null })),
    })
    const page = await storage.scan({ namespace: 'values', limit: 1000 })
    expect(page.entries.map((entry) => entry.key)).toEqual(
      Array.from({ length: 100 }, (_, i) => `k${2900 + i}`).sort(),
    )
    await storage.close()
  })
})
