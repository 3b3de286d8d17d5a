import { isMendsyncError } from '@mendsync/core'
import type { Logger } from '@mendsync/core/toolbox'

/**
 * Codes of failures that network churn and shutdown produce in normal operation (a peer left, a
 * call timed out, the replica is closing): logged at `debug`. Anything else is a real failure
 * (a storage error, a bug, a peer answering garbage): logged at `warn`.
 */
const CHURN = ['CLOSED', 'NETWORK_CLOSED', 'PEER_UNAVAILABLE', 'TIMEOUT', 'ABORTED'] as const

/** Whether `error` is one that network churn or shutdown produces in normal operation. */
export function isChurn(error: unknown): boolean {
  return CHURN.some((code) => isMendsyncError(error, code))
}

/** Logs a handled failure with its context, at `debug` for churn and `warn` otherwise. */
export function logFailure(
  logger: Logger,
  message: string,
  error: unknown,
  context: Record<string, unknown> = {},
): void {
  if (isChurn(error)) logger.debug(message, { ...context, error })
  else logger.warn(message, { ...context, error })
}
