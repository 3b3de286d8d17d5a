// The table every benchmark prints for people (Markdown, so it pastes into a README as is).

/**
 * `header` and `rows` as a Markdown table: text columns left-aligned (the first `textColumns`, or
 * the columns whose indices are listed), the others right-aligned (numbers), every column as wide
 * as its widest cell.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  textColumns: number | readonly number[] = 1,
): string {
  const isText = (i: number) =>
    typeof textColumns === 'number' ? i < textColumns : textColumns.includes(i)
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    `| ${widths
      .map((width, i) =>
        isText(i) ? (cells[i] ?? '').padEnd(width) : (cells[i] ?? '').padStart(width),
      )
      .join(' | ')} |`
  const rule = `|${widths
    .map((width, i) => (isText(i) ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`))
    .join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
