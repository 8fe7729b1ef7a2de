// Number and text formatting shared by every renderer.

/** Milliseconds: microseconds shown below 10 ms, one decimal below 1 s, whole ms above. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  if (value < 10) return value.toFixed(3)
  if (value < 1000) return value.toFixed(1)
  return Math.round(value).toLocaleString('en-US')
}

/** A rate or count with thousands separators and at most `digits` decimals. */
export function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: 0})
}

/** A fraction (0.0123) as a percentage ("1.23%"). */
export function pct(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)}%`
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

/** A CSV field: quoted when it holds a comma, quote or line break. */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
export function mdCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  return String(value).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

export function mdTable(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const lines = [`| ${head.map(mdCell).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`]
  for (const row of rows) lines.push(`| ${row.map(mdCell).join(' | ')} |`)
  return lines.join('\n')
}
