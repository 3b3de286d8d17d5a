import { describe, expect, it, vi } from 'vitest'
import { assertNodeVersion, isMendsyncError } from '../src/index.js'

function runOn(runtime: object | undefined): void {
  vi.stubGlobal('process', runtime)
  try {
    assertNodeVersion('22.13.0', '@mendsync/storage-file (node:sqlite)')
  } finally {
    vi.unstubAllGlobals()
  }
}

describe('assertNodeVersion', () => {
  it('refuses an older Node with UNSUPPORTED_RUNTIME naming the versions, the binary and the fix', () => {
    let caught: unknown
    try {
      runOn({ versions: { node: '20.20.2' }, execPath: '/usr/bin/node' })
    } catch (error) {
      caught = error
    }
    expect(isMendsyncError(caught, 'UNSUPPORTED_RUNTIME')).toBe(true)
    const message = (caught as Error).message
    expect(message).toContain('@mendsync/storage-file (node:sqlite) needs Node.js >= 22.13.0')
    expect(message).toContain('Node.js 20.20.2 (/usr/bin/node)')
    expect(message).toContain('nvm install 22')
  })

  it('compares every part of the version: 22.12.9 is older than 22.13.0, 22.13.0 and 24.0.0 are not', () => {
    expect(() => runOn({ versions: { node: '22.12.9' }, execPath: 'node' })).toThrow(/22\.12\.9/)
    expect(() => runOn({ versions: { node: '22.13.0' }, execPath: 'node' })).not.toThrow()
    expect(() => runOn({ versions: { node: '24.0.0' }, execPath: 'node' })).not.toThrow()
  })

  it('does nothing outside Node, where there is no process.versions.node', () => {
    expect(() => runOn(undefined)).not.toThrow()
    expect(() => runOn({ versions: {} })).not.toThrow()
  })
})
