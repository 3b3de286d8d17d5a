// A relay started through a package manager's `node` shim: inside a pnpm workspace that depends
// on the `node` package, `node` is `node_modules/.bin/node`, a shell script that runs Node as its
// child without `exec` and passes no signal on. `kill -TERM <shim>` (what a process manager or
// `docker stop` does) kills the shim and leaves the relay running, orphaned. The relay notices
// when that parent is gone and stops gracefully, as on SIGTERM.
import { readFileSync } from 'node:fs'

/** How often the relay checks whether its shim parent is still there, ms. */
export const PARENT_CHECK_MS = 500

/** The pid of this process's parent when it is a `node_modules/.bin/node` shim (Linux), else undefined. */
export function shimParent(): number | undefined {
  const parent = process.ppid
  let commandLine: string
  try {
    commandLine = readFileSync(`/proc/${parent}/cmdline`, 'utf8')
  } catch {
    // No /proc (macOS, Windows) or the parent is already gone: no shim to watch.
    return undefined
  }
  const [shell, script] = commandLine.split('\0')
  return /(^|\/)(ba|da)?sh$/.test(shell ?? '') && /node_modules\/\.bin\/node$/.test(script ?? '')
    ? parent
    : undefined
}

/**
 * Calls `onGone` once when this process's parent is no longer `parent` (it exited and this
 * process was re-parented). The check timer does not keep the process alive. Returns the stop
 * function.
 */
export function watchParent(parent: number, onGone: () => void): () => void {
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    onGone()
  }, PARENT_CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
