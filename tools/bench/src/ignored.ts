// Benches clean up and retry best-effort steps whose failure must not stop the measurement; such a
// failure is still said, on stderr (so `--json` output stays JSON lines).

/**
 * A `.catch` handler for a best-effort step (closing a peer, a redial, a bounded wait whose
 * shortfall a figure reports): writes `bench: <what> failed (ignored): <error>` to stderr.
 */
export function reportIgnored(what: string): (error: unknown) => void {
  return (error) => {
    const reason = error instanceof Error ? error.message : String(error)
    process.stderr.write(`bench: ${what} failed (ignored): ${reason}\n`)
  }
}
