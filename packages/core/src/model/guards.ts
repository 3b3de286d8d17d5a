// Internal validation helpers shared by the model modules (not part of the public API).
import { MendsyncError, type MendsyncErrorCode } from '../errors.js'
import { LIMITS } from './limits.js'
import type { ReplicaId } from './types.js'

/** Matches a lone surrogate: in `u` mode a well-formed pair is one code point, never `Cs`. */
const LONE_SURROGATE = /\p{Cs}/u

/** True when `text` has no lone surrogate, so it survives a UTF-8 round trip unchanged. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

/** True when `value` is a usable replica id: a non-empty, well-formed, bounded string. */
export function isReplicaId(value: unknown): value is ReplicaId {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= LIMITS.maxReplicaIdLength &&
    isWellFormed(value)
  )
}

/** True when `value` is a dot counter: a positive safe integer. */
export function isCounter(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** Throws `INVALID_ARGUMENT` with `message`. */
export function invalid(message: string): never {
  throw new MendsyncError('INVALID_ARGUMENT', message)
}

/** Throws a MendsyncError of `code` with `message`. */
export function fail(code: MendsyncErrorCode, message: string): never {
  throw new MendsyncError(code, message)
}

/** Throws `INVALID_ARGUMENT` unless `value` is a replica id. */
export function assertReplicaId(value: unknown, what = 'replica id'): asserts value is ReplicaId {
  if (!isReplicaId(value)) {
    invalid(
      `${what} must be a non-empty well-formed string of at most ${LIMITS.maxReplicaIdLength} characters`,
    )
  }
}

/** Throws `INVALID_ARGUMENT` unless `value` is a dot counter. */
export function assertCounter(value: unknown, what = 'counter'): asserts value is number {
  if (!isCounter(value)) invalid(`${what} must be a positive safe integer, got ${String(value)}`)
}
