import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type Bound, type Figure, type FigureInput, meetsTarget, toFigure } from './figure.ts'
import { markdownTable } from './table.ts'

type OptionsConfig = NonNullable<ParseArgsConfig['options']>

/** Flags every bench takes. */
export interface CommonFlags {
  /** `--json`: one JSON line per figure on stdout (the table then goes to stderr). */
  readonly json: boolean
  /** `--runs N`: how many runs a median is taken over. */
  readonly runs: number
  /** `--runs` was on the command line (else `runs` is the bench's default). */
  readonly runsGiven: boolean
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
  /** Where the JSON lines and the table go; default `process.stdout` / `process.stderr`. */
  readonly output?: BenchOutput
}

/** The two streams a bench prints to. */
export interface BenchOutput {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
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
  /** A progress line for people: on stderr, so `--json` output stays JSON lines only. */
  log(line: string): void
  /** Prints the table of every figure (stdout, or stderr under `--json`), `title` above it. */
  finish(title?: string): void
}

const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  runs: { type: 'string' },
  quick: { type: 'boolean', default: false },
} as const satisfies OptionsConfig

/** The common flags as a command line again, to hand to a child bench (`--runs` if given). */
export function commonArgv(flags: CommonFlags): string[] {
  return [
    ...(flags.json ? ['--json'] : []),
    ...(flags.quick ? ['--quick'] : []),
    ...(flags.runsGiven ? ['--runs', String(flags.runs)] : []),
  ]
}

/** Parses the command line and returns the bench's recorder. */
export function startBench<O extends OptionsConfig = Record<never, never>>(
  setup: BenchSetup<O>,
): Bench<O> {
  const argv = [...(setup.argv ?? process.argv.slice(2))].filter((arg) => arg !== '--')
  const out = setup.output ?? process
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
  const flags: CommonFlags = {
    json: values.json === true,
    runs,
    runsGiven: typeof runsFlag === 'string',
    quick,
  }
  const figures: Figure[] = []
  const extras: { bound: Bound; note: string }[] = []
  return {
    name: setup.name,
    flags,
    values: parsed.values as Bench<O>['values'],
    figures,
    record(input) {
      const figure = toFigure(setup.name, input)
      figures.push(figure)
      extras.push({ bound: input.bound ?? 'max', note: input.note ?? '' })
      if (flags.json) out.stdout.write(`${JSON.stringify(figure)}\n`)
      return figure
    },
    log(line) {
      out.stderr.write(`${line}\n`)
    },
    finish(title) {
      const table = markdownTable(
        ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'note'],
        figures.map((figure, i) => {
          const { bound, note } = extras[i] ?? { bound: 'max', note: '' }
          return [
            figure.figure,
            formatNumber(figure.value),
            figure.unit,
            figure.baseline === null ? '' : formatNumber(figure.baseline),
            figure.ratio === null ? '' : figure.ratio.toFixed(3),
            targetCell(figure, bound),
            note,
          ]
        }),
        [0, 2, 6],
      )
      const text = `${title ? `${title}\n\n` : ''}${table}\n`
      if (flags.json) out.stderr.write(text)
      else out.stdout.write(text)
    },
  }
}

/** `<= 0.35 ok`, `>= 0.7 MISSED`, or empty: the target, which way, and whether it is met. */
function targetCell(figure: Figure, bound: Bound): string {
  if (figure.target === null) return ''
  const met = meetsTarget(figure, bound)
  const verdict = met === null ? '' : met ? ' ok' : ' MISSED'
  return `${bound === 'max' ? '<=' : '>='} ${formatNumber(figure.target)}${verdict}`
}

/** A number for the table: integers as they are, others to 4 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value)
  return Number(value.toPrecision(4)).toString()
}
