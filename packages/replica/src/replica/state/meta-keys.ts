// The keys of the records the replica keeps in its storage's `meta` namespace (besides the
// handoff log's `log/` and `ack/` records, see `change-log.ts`).

/** This replica's id, UTF-8. */
export const META_REPLICA_ID = 'replica-id'
/** The space version vector (`encodeVersionVector`). */
export const META_VERSION_VECTOR = 'version-vector'
/** The hybrid logical clock's last timestamp, so that it stays monotonic across restarts. */
export const META_CLOCK = 'clock'
