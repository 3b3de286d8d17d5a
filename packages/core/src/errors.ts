/**
 * What went wrong, as a stable machine-readable code. Codes are part of the public API: callers
 * branch on them, so a code is never renamed or reused for another meaning.
 */
export type MendsyncErrorCode =
  /** A caller passed a value the API does not accept (wrong type, empty key, oversize value). */
  | 'INVALID_ARGUMENT'
  /** Bytes that should hold a mendsync structure do not (truncated, wrong types, bad version). */
  | 'DECODE_ERROR'
  /** A reconciliation message was malformed, out of order, replayed or inconsistent. */
  | 'RECONCILE_PROTOCOL'
  /** The storage was used after `close()`. */
  | 'STORAGE_CLOSED'
  /** A stored record or file failed its integrity check; the message names what and where. */
  | 'STORAGE_CORRUPT'
  /** The storage backend refused or failed an operation (disk full, quota, I/O error). */
  | 'STORAGE_FAILURE'
  /** An IndexedDB upgrade is blocked by another connection that does not close. */
  | 'STORAGE_BLOCKED'
  /** A network operation did not finish before its deadline. */
  | 'TIMEOUT'
  /** The caller aborted the operation through its AbortSignal. */
  | 'ABORTED'
  /** The network or a connection was closed while an operation was in flight. */
  | 'NETWORK_CLOSED'
  /** A peer sent a frame that violates the protocol (bad type, oversize, unknown request id). */
  | 'PROTOCOL_ERROR'
  /** A frame is larger than the negotiated maximum. */
  | 'FRAME_TOO_LARGE'
  /**
   * The peer is not on the space's allowlist, or the local side is not on the remote's; in a
   * private space: no valid proof, a revoked or expired grant, or rights that do not cover the
   * request (a write from a read-only device).
   */
  | 'ACCESS_DENIED'
  /** A space reached a quota of the peer that holds it (keys or bytes); nothing was stored. */
  | 'QUOTA_EXCEEDED'
  /** A peer is unknown, unreachable, or its circuit breaker is open. */
  | 'PEER_UNAVAILABLE'
  /** A bounded queue or buffer is full; the caller should retry later. */
  | 'OVERLOADED'
  /** A peer received the request but its handler failed; the message carries the peer's reason. */
  | 'REMOTE_ERROR'
  /** The replica, network or node was used after it was closed. */
  | 'CLOSED'
  /** Used while it is still opening (a React hook's replica has not resolved): wait for it. */
  | 'NOT_READY'
  /** The JavaScript runtime is older than a package needs (e.g. Node without node:sqlite); the message names the version. */
  | 'UNSUPPORTED_RUNTIME'
  /** Sealed entries failed authentication (altered, moved or replayed); they were quarantined. */
  | 'SEALED_TAMPERED'

/**
 * The one error type mendsync throws at its boundaries. `code` says what kind of failure it is;
 * `message` says what to do about it; `cause` keeps the underlying error when there is one.
 */
export class MendsyncError extends Error {
  readonly code: MendsyncErrorCode

  constructor(code: MendsyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MendsyncError'
    this.code = code
  }
}

/** True when `error` is a MendsyncError, optionally of the given code. */
export function isMendsyncError(error: unknown, code?: MendsyncErrorCode): error is MendsyncError {
  return error instanceof MendsyncError && (code === undefined || error.code === code)
}
