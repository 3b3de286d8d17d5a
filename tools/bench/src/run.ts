import { spawn } from 'node:child_process'

/** What a bench process printed, and how it ended. */
export interface BenchRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a bench file with this Node (`node [nodeOptions] <file> [args]`) and collects its output:
 * how the smoke run and the tests drive whole benches.
 */
export function runBenchProcess(
  file: string,
  args: readonly string[],
  nodeOptions: readonly string[] = [],
): Promise<BenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, file, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}
