import { describe, expect, it } from 'vitest'
import { isMendsyncError, MendsyncError } from '../src/index.js'

describe('MendsyncError', () => {
  it('carries a code, a message and a cause, and is recognised by isMendsyncError', () => {
    const cause = new Error('disk full')
    const error = new MendsyncError('STORAGE_FAILURE', 'could not write', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('MendsyncError')
    expect(error.code).toBe('STORAGE_FAILURE')
    expect(error.cause).toBe(cause)
    expect(isMendsyncError(error)).toBe(true)
    expect(isMendsyncError(error, 'STORAGE_FAILURE')).toBe(true)
    expect(isMendsyncError(error, 'TIMEOUT')).toBe(false)
    expect(isMendsyncError(new Error('plain'))).toBe(false)
  })
})
