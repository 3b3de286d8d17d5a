// Child processes of the packaging tests: started with their output collected, waited for with
// a generous limit (a hung child fails the test instead of hanging the suite; the limit is a
// safety net, never what a test asserts).
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'

/** A running child and everything it printed so far. */
export interface Child {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name) once the child has exited. */
  readonly exited: Promise<number | NodeJS.Signals>
}

/** Starts `command` with `args`; its output is kept in memory. */
export function startChild(command: string, args: readonly string[], options: SpawnOptions): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | NodeJS.Signals>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve(code ?? (signal as NodeJS.Signals)))
  })
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited }
}

/**
 * Waits for the child to exit; after `limitMs` kills it (SIGKILL) and rejects with what it
 * printed, so a child that never exits fails the test that waited for it.
 */
export async function waitForExit(
  child: Child,
  limitMs: number,
  what: string,
): Promise<number | NodeJS.Signals> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.process.kill('SIGKILL')
      reject(
        new Error(
          `${what} had not exited after ${limitMs} ms\nstdout:\n${child.stdout()}\nstderr:\n${child.stderr()}`,
        ),
      )
    }, limitMs)
  })
  try {
    return await Promise.race([child.exited, limit])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Resolves with the first line of the child's stdout or stderr that `match` accepts; rejects
 * when the child exits first.
 */
export function waitForLine(child: Child, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = (): string[] => `${child.stdout()}\n${child.stderr()}`.split('\n')
    const check = (): boolean => {
      const line = lines().find(match)
      if (line === undefined) return false
      child.process.stdout?.off('data', onData)
      child.process.stderr?.off('data', onData)
      resolve(line)
      return true
    }
    const onData = (): void => {
      // The collector above runs first (it was attached first), so the text is complete here.
      check()
    }
    if (check()) return
    child.process.stdout?.on('data', onData)
    child.process.stderr?.on('data', onData)
    void child.exited.then((status) => {
      if (!check()) {
        reject(
          new Error(`exited (${status}) before printing the line awaited\n${lines().join('\n')}`),
        )
      }
    })
  })
}
