import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type Figure, type FigureInput, toFigure } from './figure.ts'
import { markdownTable } from './table.ts'

type OptionsConfig = NonNullable<ParseArgsConfig['options']>

/** Flags every bench takes. */
export interface CommonFlags {
  /** `--json`: one JSON line per figure on stdout (the table then goes to stderr). */
  readonly json: boolean
  /** `--runs N`: how many runs a median is taken over. */
  readonly runs: number
  /** `--quick`: smaller sizes and fewer runs, for a smoke run (figures are not comparable). */
  readonly quick: boolean
}

/** Options of {@link startBench}. */
export interface BenchSetup<O extends OptionsConfig> {
  /** The bench's name, the `bench` field of every figure (`core`, `net`, `relay`, ...). */
  readonly name: string
  /** Runs when `--runs` is not given. */
  readonly defaultRuns?: number
  /** Runs under `--quick` when `--runs` is not given. */
  readonly quickRuns?: number
  /** The bench's own flags, in `node:util` `parseArgs` form. */
  readonly options?: O
  /** The command line; default `process.argv.slice(2)` (a leading `--` from pnpm is ignored). */
  readonly argv?: readonly string[]
}

/** A running bench: its parsed flags, and where its figures go. */
export interface Bench<O extends OptionsConfig> {
  readonly name: string
  readonly flags: CommonFlags
  /** The bench's own flags, parsed. */
  readonly values: ReturnType<
    typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
  >['values']
  /** Records a figure; with `--json` its line is printed at once (a long bench streams). */
  record(input: FigureInput): Figure
  /** Every figure recorded so far. */
  readonly figures: readonly Figure[]
  /** Prints the table of every figure (stdout, or stderr under `--json`). */
  finish(title?: string): void
}

const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  runs: { type: 'string' },
  quick: { type: 'boolean', default: false },
} as const satisfies OptionsConfig

/** Parses the command line and returns the bench's recorder. */
export function startBench<O extends OptionsConfig = Record<never, never>>(
  setup: BenchSetup<O>,
): Bench<O> {
  const argv = [...(setup.argv ?? process.argv.slice(2))].filter((arg) => arg !== '--')
  const parsed = parseArgs({
    args: argv,
    options: { ...COMMON_OPTIONS, ...(setup.options ?? {}) } as O & typeof COMMON_OPTIONS,
    strict: true,
    allowPositionals: false,
  })
  const values = parsed.values as Record<string, unknown>
  const quick = values.quick === true
  const runsFlag = values.runs
  const runs =
    typeof runsFlag === 'string'
      ? Number(runsFlag)
      : quick
        ? (setup.quickRuns ?? 1)
        : (setup.defaultRuns ?? 5)
  if (!(Number.isInteger(runs) && runs >= 1)) {
    throw new Error(`--runs must be a positive integer, got '${String(runsFlag)}'`)
  }
  const flags: CommonFlags = { json: values.json === true, runs, quick }
  const figures: Figure[] = []
  const notes: string[] = []
  return {
    name: setup.name,
    flags,
    values: parsed.values as Bench<O>['values'],
    figures,
    record(input) {
      const figure = toFigure(setup.name, input)
      figures.push(figure)
      notes.push(input.note ?? '')
      if (flags.json) process.stdout.write(`${JSON.stringify(figure)}\n`)
      return figure
    },
    finish(title) {
      const table = markdownTable(
        ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'note'],
        figures.map((figure, i) => [
          figure.figure,
          formatNumber(figure.value),
          figure.unit,
          figure.baseline === null ? '' : formatNumber(figure.baseline),
          figure.ratio === null ? '' : figure.ratio.toFixed(3),
          figure.target === null ? '' : formatNumber(figure.target),
          notes[i] ?? '',
        ]),
      )
      const text = `${title ? `${title}\n\n` : ''}${table}\n`
      if (flags.json) process.stderr.write(text)
      else process.stdout.write(text)
    },
  }
}

/** A number for the table: integers as they are, others to 4 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value)
  return Number(value.toPrecision(4)).toString()
}
