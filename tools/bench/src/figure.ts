/**
 * One measured figure, exactly as `--json` prints it (one JSON object per line). The schema is
 * the same for every bench:
 * - `value`: the measured quantity, in `unit`;
 * - `baseline`: the same quantity measured on the comparison side in the same run, in the same
 *   unit (raw `node:sqlite`, a new stream, JSON, negentropy, ...), or `null` when there is none;
 * - `ratio`: exactly `value / baseline` (`null` without a baseline);
 * - `target`: the bound the issue sets, on `ratio` when there is a baseline, else on `value`
 *   (`null` when there is none). Whether it is an upper or a lower bound is in the table and the
 *   bench's README.
 */
export interface Figure {
  readonly bench: string
  readonly figure: string
  readonly value: number
  readonly unit: string
  readonly baseline: number | null
  readonly ratio: number | null
  readonly target: number | null
}

/** Whether a figure's target is an upper (`max`, the default) or a lower (`min`) bound. */
export type Bound = 'max' | 'min'

/** What a bench records: a figure without its bench name and ratio (derived). */
export interface FigureInput {
  readonly figure: string
  readonly value: number
  readonly unit: string
  readonly baseline?: number | null
  readonly target?: number | null
  /** `max` (default): the checked quantity must be at most `target`; `min`: at least. */
  readonly bound?: Bound
  /** A word for people (not in the JSON line): what the baseline is, a caveat. */
  readonly note?: string
}

/** `value / baseline`, or `null` when there is no usable baseline. */
export function ratioOf(value: number, baseline: number | null | undefined): number | null {
  if (baseline === null || baseline === undefined || baseline === 0) return null
  return value / baseline
}

/**
 * Completes `input` into the JSON-line {@link Figure} of bench `bench`. Throws on a value,
 * baseline or target that is not a finite number (JSON would print it as `null`).
 */
export function toFigure(bench: string, input: FigureInput): Figure {
  const baseline = input.baseline ?? null
  for (const [field, x] of [
    ['value', input.value],
    ['baseline', baseline],
    ['target', input.target ?? null],
  ] as const) {
    if (x !== null && !Number.isFinite(x)) {
      throw new Error(`figure ${input.figure}: ${field} ${x} is not a finite number`)
    }
  }
  return {
    bench,
    figure: input.figure,
    value: input.value,
    unit: input.unit,
    baseline,
    ratio: ratioOf(input.value, baseline),
    target: input.target ?? null,
  }
}

/**
 * Whether `figure` meets its target (`bound` says which way), or `null` when it has none. The
 * checked quantity is `ratio` when the figure has a baseline, else `value`.
 */
export function meetsTarget(figure: Figure, bound: Bound = 'max'): boolean | null {
  if (figure.target === null) return null
  const checked = figure.baseline === null ? figure.value : figure.ratio
  if (checked === null) return null
  return bound === 'max' ? checked <= figure.target : checked >= figure.target
}

const FIELDS = ['bench', 'figure', 'value', 'unit', 'baseline', 'ratio', 'target'] as const

/**
 * Parses one `--json` line into a {@link Figure}, or throws saying what is wrong: exactly the
 * seven fields, strings and numbers where the schema says, and `ratio = value / baseline`.
 */
export function parseFigureLine(line: string): Figure {
  const parsed: unknown = JSON.parse(line)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`not a JSON object: ${line}`)
  }
  const record = parsed as Record<string, unknown>
  const keys = Object.keys(record).sort()
  if (keys.join() !== [...FIELDS].sort().join()) {
    throw new Error(`fields ${keys.join(', ')}, expected ${FIELDS.join(', ')}: ${line}`)
  }
  const nullableNumber = (x: unknown) => x === null || typeof x === 'number'
  if (
    typeof record.bench !== 'string' ||
    typeof record.figure !== 'string' ||
    typeof record.value !== 'number' ||
    typeof record.unit !== 'string' ||
    !nullableNumber(record.baseline) ||
    !nullableNumber(record.ratio) ||
    !nullableNumber(record.target)
  ) {
    throw new Error(`a field of the wrong type: ${line}`)
  }
  const figure = record as unknown as Figure
  const expected = ratioOf(figure.value, figure.baseline)
  const consistent =
    expected === null
      ? figure.ratio === null
      : figure.ratio !== null && Math.abs(figure.ratio - expected) <= 1e-9 * Math.abs(expected)
  if (!consistent) throw new Error(`ratio is not value / baseline: ${line}`)
  return figure
}
