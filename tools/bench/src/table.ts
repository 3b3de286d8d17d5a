// The table every benchmark prints for people (Markdown, so it pastes into a README as is).

/**
 * `header` and `rows` as a Markdown table: the first `textColumns` columns left-aligned (names),
 * the others right-aligned (numbers), every column as wide as its widest cell.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  textColumns = 1,
): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    `| ${widths
      .map((width, i) =>
        i < textColumns ? (cells[i] ?? '').padEnd(width) : (cells[i] ?? '').padStart(width),
      )
      .join(' | ')} |`
  const rule = `|${widths
    .map((width, i) =>
      i < textColumns ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`,
    )
    .join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
