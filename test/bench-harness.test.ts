import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type FigureInput, parseFigureLine, runBenchProcess, startBench } from '@mendsync/bench'
import { describe, expect, it } from 'vitest'

// The one bench harness (tools/bench): every bench parses its flags and prints its figures through
// startBench, so these checks hold for every `pnpm bench:*`.

/** A bench started on `argv` whose stdout and stderr are captured. */
function fakeBench(argv: string[]) {
  const stdout: string[] = []
  const stderr: string[] = []
  const bench = startBench({
    name: 'fake',
    defaultRuns: 7,
    quickRuns: 2,
    argv,
    options: { size: { type: 'string', default: '10' }, verbose: { type: 'boolean' } },
    output: {
      stdout: { write: (text: string) => stdout.push(text) },
      stderr: { write: (text: string) => stderr.push(text) },
    },
  })
  return { bench, stdout, stderr }
}

const FIGURES: FigureInput[] = [
  { figure: 'with_baseline', value: 3, unit: 'ms', baseline: 12, target: 0.35 },
  { figure: 'lower_bound', value: 900, unit: 'ops/s', baseline: 1000, target: 0.7, bound: 'min' },
  { figure: 'plain', value: 1.5, unit: 'ms' },
  { figure: 'value_target', value: 120, unit: 'ms', target: 100, note: 'a note' },
]

describe('startBench', () => {
  it('prints one JSON line of the seven-field schema per figure under --json, the table on stderr', () => {
    const { bench, stdout, stderr } = fakeBench(['--json'])
    for (const figure of FIGURES) bench.record(figure)
    bench.finish('title')
    const lines = stdout.join('').trimEnd().split('\n')
    expect(lines).toHaveLength(FIGURES.length)
    const figures = lines.map(parseFigureLine)
    expect(figures[0]).toEqual({
      bench: 'fake',
      figure: 'with_baseline',
      value: 3,
      unit: 'ms',
      baseline: 12,
      ratio: 0.25,
      target: 0.35,
    })
    expect(figures[2]).toMatchObject({ baseline: null, ratio: null, target: null })
    const table = stderr.join('')
    expect(table).toContain('title')
    expect(table).toMatch(/with_baseline.*<= 0\.35 ok/)
    expect(table).toMatch(/lower_bound.*>= 0\.7 ok/)
    expect(table).toMatch(/value_target.*<= 100 MISSED.*a note/)
  })

  it('prints the table on stdout and no JSON without --json', () => {
    const { bench, stdout, stderr } = fakeBench([])
    for (const figure of FIGURES) bench.record(figure)
    bench.finish()
    expect(stdout.join('')).toMatch(/^\| figure/)
    expect(stdout.join('')).not.toContain('{')
    expect(stderr).toEqual([])
  })

  it('takes --runs, --quick and the bench options, and ignores the -- that pnpm passes', () => {
    expect(fakeBench([]).bench.flags).toEqual({
      json: false,
      runs: 7,
      runsGiven: false,
      quick: false,
    })
    expect(fakeBench(['--quick']).bench.flags.runs).toBe(2)
    const { bench } = fakeBench(['--', '--quick', '--runs', '4', '--size', '99', '--verbose'])
    expect(bench.flags).toEqual({ json: false, runs: 4, runsGiven: true, quick: true })
    expect(bench.values).toMatchObject({ size: '99', verbose: true })
    expect(fakeBench([]).bench.values.size).toBe('10')
  })

  it('rejects an unknown flag and a --runs that is not a positive integer', () => {
    expect(() => fakeBench(['--nope'])).toThrow(/nope/)
    expect(() => fakeBench(['--runs', '0'])).toThrow(/--runs must be a positive integer/)
    expect(() => fakeBench(['--runs', '2.5'])).toThrow(/--runs must be a positive integer/)
  })

  it('refuses a figure whose value is not a finite number', () => {
    const { bench } = fakeBench(['--json'])
    expect(() => bench.record({ figure: 'broken', value: Number.NaN, unit: 'ms' })).toThrow(
      /broken: value NaN/,
    )
  })
})

describe('parseFigureLine', () => {
  const line = (fields: Record<string, unknown>) =>
    JSON.stringify({
      bench: 'b',
      figure: 'f',
      value: 2,
      unit: 'ms',
      baseline: 4,
      ratio: 0.5,
      target: null,
      ...fields,
    })

  it('accepts a line of the schema', () => {
    expect(parseFigureLine(line({})).ratio).toBe(0.5)
  })

  it('rejects an extra or a missing field, a wrong type, and a ratio that is not value / baseline', () => {
    expect(() => parseFigureLine(line({ mode: 'light' }))).toThrow(/fields/)
    expect(() => parseFigureLine(JSON.stringify({ bench: 'b', figure: 'f' }))).toThrow(/fields/)
    expect(() => parseFigureLine(line({ value: '2' }))).toThrow(/wrong type/)
    expect(() => parseFigureLine(line({ ratio: 2 }))).toThrow(/ratio/)
    expect(() => parseFigureLine(line({ baseline: null }))).toThrow(/ratio/)
  })
})

describe('bench:reconcile --against negentropy', () => {
  const BENCH = fileURLToPath(new URL('../packages/core/bench/reconcile.bench.ts', import.meta.url))
  const DIST = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url))

  it('prints valid figure lines for every pattern and exits 0 (both sides found the true difference)', async () => {
    if (!existsSync(DIST)) throw new Error('build first: the bench runs dist (pnpm exec tsc -b)')
    const { code, stdout, stderr } = await runBenchProcess(BENCH, [
      '--against',
      'negentropy',
      '--n',
      '10000',
      '--d',
      '100',
      '--runs',
      '1',
      '--json',
    ])
    expect(code, stderr).toBe(0)
    const figures = stdout.trimEnd().split('\n').map(parseFigureLine)
    const names = figures.map((f) => f.figure)
    for (const pattern of ['uniform', 'one-sided', 'versions', 'clustered', 'mixed']) {
      for (const kind of ['bytes', 'rounds', 'cpu_ms']) {
        expect(names).toContain(`${kind}_vs_negentropy_${pattern}_n1e4_d1e2`)
      }
    }
    for (const figure of figures) {
      expect(figure.bench).toBe('reconcile')
      expect(figure.baseline).toBeGreaterThan(0)
    }
    expect(stderr).not.toContain('WRONG')
  }, 120_000)
})
