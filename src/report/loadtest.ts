// Renderers of a load-test result: pure functions from a LoadResult to text.
// Terminal table, JSON, CSV (one row per second plus a row for the whole run),
// Markdown, and a self-contained HTML page (inline CSS and SVG, no script, no
// external URL), so it opens offline.
import Table from 'cli-table3'
import type {LatencySummary, LoadResult, SecondStats} from '../loadtest/types.js'
import {csvField, escapeHtml, mdTable, ms, num, pct} from './format.js'
import {lineChart} from './svg.js'

export type ReportFormat = 'json' | 'csv' | 'md' | 'html'
export const REPORT_FORMATS: readonly ReportFormat[] = ['json', 'csv', 'md', 'html']

/** The format a file name asks for, by extension (.json, .csv, .md/.markdown, .html/.htm), or null. */
export function reportFormatOf(path: string): ReportFormat | null {
  const ext = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase()
  if (ext === 'json' || ext === 'csv' || ext === 'md' || ext === 'html') return ext
  if (ext === 'markdown') return 'md'
  if (ext === 'htm') return 'html'
  return null
}

export function renderLoadReport(result: LoadResult, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return renderLoadJson(result)
    case 'csv':
      return renderLoadCsv(result)
    case 'md':
      return renderLoadMarkdown(result)
    case 'html':
      return renderLoadHtml(result)
  }
}

/** "closed loop, 10 connections, 10 s (+2 s warm-up)" */
export function describeLoad(result: LoadResult): string {
  const s = result.settings
  const parts: string[] = []
  if (result.model === 'closed') {
    parts.push(`closed loop, ${s.connections} connection${s.connections === 1 ? '' : 's'}`)
  } else {
    parts.push(`open loop, ${num(s.rate, 2)} req/s ${s.arrival} arrivals (at most ${s.maxConnections} connections)`)
  }
  parts.push(s.amount !== null ? `${num(s.amount, 0)} requests` : `${num((s.durationMs ?? 0) / 1000, 3)} s`)
  let text = parts.join(', ')
  if (s.warmupMs > 0) text += ` (+${num(s.warmupMs / 1000, 3)} s warm-up)`
  return text
}

const LATENCY_HEAD = ['answers', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean']

/**
 * The latency rows: successful answers always, then sheds (503) and errors
 * (other statuses, timeouts) when there were any. Apart, as Locust reports
 * failures apart: with 16 connections against a cap of 8, 96% of answers can
 * be sheds, whose sub-millisecond latency would otherwise be the p50.
 */
function latencyRows(r: LoadResult): string[][] {
  const row = (label: string, l: LatencySummary): string[] =>
    l.samples === 0 ? [label, '0', '-', '-', '-', '-', '-', '-', '-'] : [label, num(l.samples, 0), ...[l.p50, l.p90, l.p95, l.p99, l.p999, l.max, l.mean].map(ms)]
  const rows = [row('ok (2xx)', r.latencyMs)]
  if (r.shedLatencyMs.samples > 0) rows.push(row('shed (503)', r.shedLatencyMs))
  if (r.errorLatencyMs.samples > 0) rows.push(row('errors', r.errorLatencyMs))
  return rows
}

/** How latency is measured, for headings. */
function latencyBasis(r: LoadResult): string {
  return r.model === 'open' ? 'from the planned send time' : 'per request'
}

const BY_API_HEAD = ['API', 'answers', 'share', 'ok', 'shed (503)', 'errors', 'p50 ms', 'p99 ms']

/** One row per API the answers named (X-Mlserve-Api), in the result's order; empty when none did. The latencies are of the API's 2xx answers. */
function byApiRows(r: LoadResult): string[][] {
  return Object.entries(r.byApi ?? {}).map(([name, a]) => [name, num(a.requests, 0), pct(a.share, 1), num(a.ok, 0), num(a.shed, 0), num(a.errors, 0), ms(a.p50Ms), ms(a.p99Ms)])
}

/** "12 answers named no API." when some HTTP answers carried no X-Mlserve-Api (so the shares sum to less than 100%), else null. */
function unnamedText(r: LoadResult): string | null {
  if (!r.byApi) return null
  const c = r.requests
  const answers = c.total - c.timeouts - c.connectionErrors
  const named = Object.values(r.byApi).reduce((sum, a) => sum + a.requests, 0)
  const unnamed = answers - named
  return unnamed > 0 ? `${num(unnamed, 0)} answer${unnamed === 1 ? '' : 's'} named no API.` : null
}

function failedText(r: LoadResult): string {
  const c = r.requests
  return `${num(c.failed, 0)} (${pct(r.errorRate)}): ${num(c.shed, 0)} shed (503), ${num(c.httpErrors, 0)} other HTTP errors, ${num(c.timeouts, 0)} timeouts, ${num(c.connectionErrors, 0)} connection errors`
}

function statusText(r: LoadResult): string {
  const entries = Object.entries(r.requests.byStatus).sort(([a], [b]) => Number(a) - Number(b))
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code} ×${num(n, 0)}`).join(', ')
}

function sendText(r: LoadResult): string | null {
  if (r.model !== 'open') return null
  const g = r.generator
  const late = g.lateness ? `; lateness p50 ${ms(g.lateness.p50)} ms, p99 ${ms(g.lateness.p99)} ms` : ''
  return `${num(r.sendRate, 1)} req/s achieved of ${num(r.settings.rate, 2)} planned; ${num(g.lateSends, 0)} late (${num(g.latePercent, 2)}% over ${g.lateThresholdMs} ms)${late}`
}

/** The terminal summary: two plain tables (no colour codes). */
export function renderLoadTable(result: LoadResult): string {
  const plain = {style: {head: [], border: [], compact: true}}
  const summary = new Table(plain)
  const rows: Array<[string, string]> = [
    ['target', result.target.api ? `${result.target.url} (API ${result.target.api}, one replica)` : result.target.url],
    ['load', describeLoad(result)],
    ['window', `${num(result.durationS, 2)} s${result.aborted ? ' (stopped early)' : ''}`],
    ['requests', `${num(result.requests.total, 0)} (${num(result.requests.ok, 0)} ok)`],
    ['failed', failedText(result)],
    ['status codes', statusText(result)],
    ['throughput', `${num(result.throughput, 1)} req/s (2xx); ${num(result.responseRate, 1)} answers/s of any status`],
  ]
  const send = sendText(result)
  if (send) rows.push(['sends', send])
  rows.push(['generator', `CPU ${num(result.generator.cpuPercent, 1)}% of a core${result.generator.saturated ? ' (saturated: see warnings)' : ''}`])
  for (const row of rows) summary.push(row)
  const latency = new Table({...plain, head: [`latency (ms, ${result.model === 'open' ? 'from planned send' : 'per request'})`, ...LATENCY_HEAD]})
  for (const row of latencyRows(result)) latency.push(row)
  const tables = [summary.toString(), latency.toString()]
  if (result.byApi) {
    const byApi = new Table({...plain, head: [`by API (latency of 2xx, ms)`, ...BY_API_HEAD.slice(1)]})
    for (const row of byApiRows(result)) byApi.push(row)
    tables.push(byApi.toString())
    const unnamed = unnamedText(result)
    if (unnamed) tables.push(unnamed)
  }
  return tables.join('\n')
}

export function renderLoadJson(result: LoadResult): string {
  return `${JSON.stringify(result, null, 2)}\n`
}

export const CSV_COLUMNS = [
  'second',
  'length_s',
  'sent',
  'completed',
  'ok',
  'shed',
  'failed',
  'timeouts',
  'throughput_rps',
  'p50_ms',
  'p90_ms',
  'p99_ms',
  'max_ms',
  'late_sends',
] as const

/** One row per second of the timeline, then a row whose `second` is "all" for the whole window. */
export function renderLoadCsv(result: LoadResult): string {
  const lines = [CSV_COLUMNS.join(',')]
  const row = (values: Array<string | number | null>): string => values.map(csvField).join(',')
  for (const s of result.timeline) {
    lines.push(row([s.second, s.lengthS, s.sent, s.completed, s.ok, s.shed, s.failed, s.timeouts, s.throughput, s.p50Ms, s.p90Ms, s.p99Ms, s.maxMs, s.lateSends]))
  }
  const c = result.requests
  const l = result.latencyMs
  const open = result.model === 'open'
  const sent = open ? result.timeline.reduce((sum, s) => sum + (s.sent ?? 0), 0) : null
  const empty = l.samples === 0
  lines.push(
    row([
      'all',
      result.durationS,
      sent,
      c.total,
      c.ok,
      c.shed,
      c.failed,
      c.timeouts,
      result.throughput,
      empty ? null : l.p50,
      empty ? null : l.p90,
      empty ? null : l.p99,
      empty ? null : l.max,
      open ? result.generator.lateSends : null,
    ]),
  )
  return `${lines.join('\n')}\n`
}

function timelineRows(timeline: SecondStats[]): Array<Array<string | number | null>> {
  return timeline.map((s) => [s.second, s.sent ?? '', s.completed, s.ok, s.failed, num(s.throughput, 1), ms(s.p50Ms), ms(s.p99Ms), ms(s.maxMs)])
}

const TIMELINE_HEAD = ['second', 'sent', 'completed', 'ok', 'failed', 'throughput (2xx/s)', 'p50 ms', 'p99 ms', 'max ms']

export function renderLoadMarkdown(result: LoadResult): string {
  const c = result.requests
  const out: string[] = []
  out.push(`# Load test: ${result.target.url}`)
  out.push('')
  out.push(`${describeLoad(result)}; started ${result.startedAt}; measured window ${num(result.durationS, 2)} s${result.aborted ? ' (stopped early)' : ''}.`)
  if (result.target.api) out.push(`\nAPI \`${result.target.api}\`, one replica behind the mlserve gateway.`)
  out.push('')
  out.push('## Summary')
  out.push('')
  out.push(
    mdTable(
      ['requests', 'ok', 'failed', 'error rate', 'shed (503)', 'other HTTP errors', 'timeouts', 'connection errors', 'throughput (2xx/s)'],
      [[c.total, c.ok, c.failed, pct(result.errorRate), c.shed, c.httpErrors, c.timeouts, c.connectionErrors, num(result.throughput, 1)]],
    ),
  )
  out.push('')
  out.push(`## Latency (ms, ${latencyBasis(result)})`)
  out.push('')
  out.push(mdTable(['', ...LATENCY_HEAD], latencyRows(result)))
  out.push('')
  if (result.byApi) {
    out.push('## By API')
    out.push('')
    out.push(mdTable(BY_API_HEAD, byApiRows(result)))
    const unnamed = unnamedText(result)
    if (unnamed) out.push('', unnamed)
    out.push('')
  }
  out.push('## Status codes')
  out.push('')
  out.push(mdTable(['status', 'count'], Object.entries(c.byStatus).sort(([a], [b]) => Number(a) - Number(b))))
  out.push('')
  out.push('## Generator')
  out.push('')
  const gen: Array<[string, string]> = [['CPU', `${num(result.generator.cpuPercent, 1)}% of a core`]]
  const send = sendText(result)
  if (send) gen.push(['sends', send])
  gen.push(['saturated', result.generator.saturated ? 'yes' : 'no'])
  out.push(mdTable(['', ''], gen))
  const warnings = [...result.generator.warnings, ...result.warnings]
  if (warnings.length > 0) {
    out.push('')
    out.push('## Warnings')
    out.push('')
    for (const w of warnings) out.push(`- ${w}`)
  }
  if (result.thresholds) {
    out.push('')
    out.push('## Thresholds')
    out.push('')
    out.push(result.thresholds.passed ? 'All thresholds met.' : result.thresholds.failures.map((f) => `- Missed: ${f}`).join('\n'))
  }
  out.push('')
  out.push('## Timeline')
  out.push('')
  out.push(mdTable(TIMELINE_HEAD, timelineRows(result.timeline)))
  return `${out.join('\n')}\n`
}

export function renderLoadHtml(result: LoadResult): string {
  const c = result.requests
  const t = result.timeline
  const mid = (s: SecondStats): number => s.second + s.lengthS / 2
  const throughputChart = lineChart({
    title: 'Throughput per second',
    xLabel: 'seconds into the measured window',
    yLabel: 'requests / s',
    series: [
      {name: 'ok (2xx)', color: '#2563eb', points: t.map((s) => [mid(s), s.throughput])},
      {name: 'failed', color: '#dc2626', points: t.map((s) => [mid(s), s.lengthS > 0 ? s.failed / s.lengthS : 0])},
      ...(result.model === 'open' ? [{name: 'sent', color: '#9ca3af', dashed: true, points: t.map((s): [number, number | null] => [mid(s), s.lengthS > 0 ? (s.sent ?? 0) / s.lengthS : 0])}] : []),
    ],
  })
  const latencyChart = lineChart({
    title: `Latency of successful answers per second (${latencyBasis(result)})`,
    xLabel: 'seconds into the measured window',
    yLabel: 'ms',
    series: [
      {name: 'p50', color: '#16a34a', points: t.map((s) => [mid(s), s.p50Ms])},
      {name: 'p99', color: '#ea580c', points: t.map((s) => [mid(s), s.p99Ms])},
      {name: 'max', color: '#7c3aed', dashed: true, points: t.map((s) => [mid(s), s.maxMs])},
    ],
  })
  const cards: Array<[string, string]> = [
    ['throughput', `${num(result.throughput, 1)} req/s`],
    ['p50 (2xx)', result.latencyMs.samples > 0 ? `${ms(result.latencyMs.p50)} ms` : '-'],
    ['p99 (2xx)', result.latencyMs.samples > 0 ? `${ms(result.latencyMs.p99)} ms` : '-'],
    ['error rate', pct(result.errorRate)],
    ['requests', num(c.total, 0)],
  ]
  const table = (head: string[], rows: Array<Array<string | number | null>>): string =>
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v === null ? '' : String(v))}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`
  const warnings = [...result.generator.warnings, ...result.warnings]
  const send = sendText(result)
  const thresholds = result.thresholds
  const unnamed = unnamedText(result)
  const body = [
    `<h1>Load test</h1>`,
    `<p class="target">${escapeHtml(result.target.url)}${result.target.api ? ` &middot; API <code>${escapeHtml(result.target.api)}</code>, one replica` : ''}</p>`,
    `<p>${escapeHtml(describeLoad(result))}; started ${escapeHtml(result.startedAt)}; measured window ${escapeHtml(num(result.durationS, 2))} s${result.aborted ? ' (stopped early)' : ''}.</p>`,
    thresholds
      ? `<p class="${thresholds.passed ? 'pass' : 'fail'}">${thresholds.passed ? 'All thresholds met.' : `Thresholds missed: ${escapeHtml(thresholds.failures.join('; '))}`}</p>`
      : '',
    `<div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${escapeHtml(k)}</div><div class="v">${escapeHtml(v)}</div></div>`).join('')}</div>`,
    warnings.length > 0 ? `<div class="warn"><strong>Warnings</strong><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>` : '',
    `<h2>Over time</h2>`,
    throughputChart,
    latencyChart,
    `<h2>Latency (ms, ${escapeHtml(latencyBasis(result))})</h2>`,
    `<p>Successful answers, sheds and errors apart: the thresholds judge the successful answers; sheds and errors count in the error rate.</p>`,
    table(['', ...LATENCY_HEAD], latencyRows(result)),
    `<h2>Requests</h2>`,
    table(
      ['requests', 'ok', 'failed', 'shed (503)', 'other HTTP errors', 'timeouts', 'connection errors', 'answers/s (any status)'],
      [[num(c.total, 0), num(c.ok, 0), num(c.failed, 0), num(c.shed, 0), num(c.httpErrors, 0), num(c.timeouts, 0), num(c.connectionErrors, 0), num(result.responseRate, 1)]],
    ),
    table(['status', 'count'], Object.entries(c.byStatus).sort(([a], [b]) => Number(a) - Number(b)).map(([k, v]) => [k, num(v, 0)])),
    ...(result.byApi
      ? [
          `<h2>By API</h2>`,
          `<p>Answers by the API that gave them (the gateway's X-Mlserve-Api header); the latency is of each API's 2xx answers.${unnamed ? ` ${escapeHtml(unnamed)}` : ''}</p>`,
          table(BY_API_HEAD, byApiRows(result)),
        ]
      : []),
    `<h2>Generator</h2>`,
    table(['', ''], [['CPU', `${num(result.generator.cpuPercent, 1)}% of a core`], ...(send ? [['sends', send]] : []), ['saturated', result.generator.saturated ? 'yes' : 'no']]),
    `<h2>Timeline</h2>`,
    table(TIMELINE_HEAD, timelineRows(t)),
  ].join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test: ${escapeHtml(result.target.url)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;max-width:960px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{margin-bottom:4px}h2{margin-top:28px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.target{font-family:ui-monospace,monospace;color:#374151;margin-top:0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:120px}
.card .k{font-size:12px;color:#6b7280;text-transform:uppercase}.card .v{font-size:20px;font-weight:600}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}th,td{border:1px solid #e5e7eb;padding:4px 10px;text-align:right}th{background:#f9fafb}
td:first-child,th:first-child{text-align:left}.warn{background:#fffbeb;border:1px solid #f59e0b;border-radius:8px;padding:8px 14px}
.pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}svg.chart{display:block;margin:12px 0;max-width:100%;height:auto}
</style>
</head>
<body>
${body}
</body>
</html>
`
}
