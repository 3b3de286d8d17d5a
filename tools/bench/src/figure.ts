/**
 * One measured figure, exactly as `--json` prints it (one JSON object per line). The schema is
 * the same for every bench: `baseline` is the same quantity measured on the comparison side in
 * the same run (or `null` when there is none), `ratio` is `value / baseline`, `target` the
 * issue's bound on `ratio` when there is a baseline, else on `value` (or `null`).
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

/** What a bench records: a figure without its bench name; `ratio` is derived when omitted. */
export interface FigureInput {
  readonly figure: string
  readonly value: number
  readonly unit: string
  readonly baseline?: number | null
  readonly ratio?: number | null
  readonly target?: number | null
  /** A word for people (not in the JSON line): what the baseline is, a caveat. */
  readonly note?: string
}

/** `value / baseline`, or `null` when there is no usable baseline. */
export function ratioOf(value: number, baseline: number | null | undefined): number | null {
  if (baseline === null || baseline === undefined || baseline === 0) return null
  return value / baseline
}

/** Completes `input` into the JSON-line {@link Figure} of bench `bench`. */
export function toFigure(bench: string, input: FigureInput): Figure {
  const baseline = input.baseline ?? null
  return {
    bench,
    figure: input.figure,
    value: input.value,
    unit: input.unit,
    baseline,
    ratio: input.ratio ?? ratioOf(input.value, baseline),
    target: input.target ?? null,
  }
}
