// Running a child so that signals sent to this process reach it: SIGINT, SIGTERM and SIGHUP are
// passed on (a process manager, `docker stop` or `kill` signals only the top-level process), and
// this process ends the way the child ended. Without it, a parent that is killed leaves its
// child running, orphaned, and the child's graceful shutdown never runs.
import { spawn } from 'node:child_process'

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Runs `command` with `args` (stdio inherited), passing on every forwarded signal while it runs.
 * Resolves with `{ code, signal }` once it has exited.
 */
export function runForwardingSignals(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options })
    const forward = (signal) => {
      child.kill(signal)
    }
    for (const signal of FORWARDED) process.on(signal, forward)
    const done = () => {
      for (const signal of FORWARDED) process.off(signal, forward)
    }
    child.once('error', (error) => {
      done()
      reject(error)
    })
    child.once('exit', (code, signal) => {
      done()
      resolve({ code, signal })
    })
  })
}

/** Ends this process as the child ended: the same exit code, or killed by the same signal. */
export function exitLike({ code, signal }) {
  if (signal) process.kill(process.pid, signal)
  process.exit(code ?? 1)
}
