// A shadow diff as text: how often the shadow API answers as the primary does,
// how often one fails where the other answers, how their latencies compare,
// and a few of the requests they disagree on, each with both answers.
import type {DiffExample, DiffReport} from '../runtime/gateway/traffic-types.js'
import {ms, num, pct} from './format.js'

export function renderDiffText(report: DiffReport, splitter: string): string {
  if (report.kept === 0) {
    return [
      `Splitter "${splitter}": no shadowed requests yet${report.shadowApi ? ` for ${report.shadowApi}` : ''}.`,
      `  Send requests to the splitter's endpoint (\`mlserve traffic show ${splitter}\` names it): the shadow API gets a copy of its percentage of them,`,
      '  and each request appears here once both the primary and the shadow have answered.',
    ].join('\n')
  }
  const primary = report.primaryApi ?? 'primary'
  const shadow = report.shadowApi ?? 'shadow'
  const lines: string[] = []
  const since = report.since ? `, since ${report.since}` : ''
  const of = report.pairs > report.kept ? ` (of ${num(report.pairs, 0)} since the runtime started)` : ''
  lines.push(`Splitter "${splitter}": shadow ${shadow} against ${primary}, over the last ${num(report.kept, 0)} shadowed request${report.kept === 1 ? '' : 's'}${of}${since}.`)

  if (report.compared === 0) {
    lines.push('  agreement: -  (no request where both answered 2xx, so no answers to compare)')
  } else {
    lines.push(`  agreement: ${pct(report.agreement ?? 0, 2)} of ${num(report.compared, 0)} compared (both answered 2xx)`)
    lines.push(`    ${num(report.exact, 0)} exact, ${num(report.withinTolerance, 0)} within tolerance ${report.tolerance}, ${num(report.differ, 0)} differ`)
  }
  lines.push(`  status mismatches: ${num(report.statusMismatch, 0)} (one answered 2xx, the other not)`)
  lines.push(`  shadow failed: ${num(report.shadowFailed, 0)} (no answer or 5xx)`)

  const l = report.latency
  if (l.primary.p50 !== null || l.shadow.p50 !== null) {
    lines.push('')
    lines.push('  latency over the compared requests (ms):')
    const rows = [
      [primary, ms(l.primary.p50), ms(l.primary.p99)],
      [`${shadow} (shadow)`, ms(l.shadow.p50), ms(l.shadow.p99)],
    ]
    lines.push(columns([['api', 'p50', 'p99'], ...rows], '    '))
    const parts: string[] = []
    if (l.ratioP50 !== null) parts.push(`shadow p50 is ${num(l.ratioP50, 2)}× the primary's`)
    if (l.medianDeltaMs !== null) parts.push(`median shadow − primary per request: ${l.medianDeltaMs >= 0 ? '+' : '−'}${ms(Math.abs(l.medianDeltaMs))} ms`)
    if (parts.length > 0) lines.push(`    ${parts.join('; ')}`)
  }

  if (report.examples.length > 0) {
    lines.push('')
    lines.push('  examples (newest first):')
    report.examples.forEach((e, i) => lines.push(...exampleLines(e, i + 1, primary, shadow)))
  } else if (report.differ + report.statusMismatch > 0) {
    lines.push('')
    lines.push('  (examples left out; ask for some with --examples)')
  }
  return lines.join('\n')
}

function exampleLines(e: DiffExample, n: number, primary: string, shadow: string): string[] {
  const what = e.verdict === 'differ' ? 'answers differ' : 'statuses differ'
  return [
    `    ${n}. ${what}  request ${e.requestId}  at ${e.at}`,
    `       request: ${oneLine(e.request) || '(empty)'}`,
    `       ${primary}: ${answerText(e.primary)}`,
    `       ${shadow}: ${answerText(e.shadow)}`,
  ]
}

function answerText(answer: DiffExample['primary']): string {
  if (answer.status === 0) return 'no answer'
  return `${answer.status} ${oneLine(answer.body) || '(empty body)'}`
}

/** Line breaks flattened, so each answer stays on its own line. */
function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim()
}

/** Left-aligned columns two spaces apart, numbers right-aligned. */
function columns(rows: string[][], indent: string): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  return rows.map((row) => indent + row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n')
}
