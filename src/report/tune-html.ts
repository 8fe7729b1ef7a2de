// A tune result as one self-contained HTML page (no scripts, no network): the
// recommendation in one sentence, how the replica was placed and measured, the
// chart of offered rate against p99, the candidate table (the same figures as
// the terminal's), the settings, the verification, the alternative, the cost,
// the reasoning, what --write changed and the warnings.
import {candidateLabel, type TuneResult, type Verification} from '../tune/types.js'
import {ms, num, pct} from './format.js'
import {candidateColors, tuneChart} from './tune-chart.js'
import {bandText, costText, costUnit, escapeText, failedVerificationText, figuresOf, lightestWindow, money, rateText, sortedCandidates, verificationLine} from './tune-figures.js'

function candidateTable(result: TuneResult): string {
  const colors = candidateColors(result)
  const rows = sortedCandidates(result).map((c) => {
    const f = figuresOf(result, c)
    const cells = [
      `<td><span class="swatch" style="background:${colors.get(c)}"></span>${f.chosen ? '→ ' : ''}${escapeText(f.label)}</td>`,
      `<td data-capacity="${escapeText(rateText(f.capacity))}">${escapeText(rateText(f.capacity))}</td>`,
      `<td>${ms(f.p99AtCapacityMs)}</td>`,
      `<td>${ms(f.meanAtCapacityMs)}</td>`,
      `<td>${f.utilization === null ? '-' : pct(f.utilization, 0)}</td>`,
      `<td>${bandText(f.band)}</td>`,
      `<td>${f.replicas ?? '-'}</td>`,
      `<td>${num(f.replicaMiB, 0)}</td>`,
      `<td>${costText(f.perHour)}</td>`,
      `<td>${escapeText(f.status)}</td>`,
      `<td>${num(f.durationS, 0)}</td>`,
    ]
    return `<tr data-candidate="${escapeText(f.key)}"${f.chosen ? ' class="chosen"' : ''}>${cells.join('')}</tr>`
  })
  const head = ['candidate', 'capacity req/s', 'p99 ms', 'mean ms', 'CPU %', 'noise', 'replicas', 'MiB/replica', costUnit(result), 'status', 'time s']
  return `<table><thead><tr>${head.map((h) => `<th>${escapeText(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table>`
}

function recommendationSection(result: TuneResult): string {
  const rec = result.recommendation
  if (!rec) {
    const parts: string[] = []
    if (result.failedVerification) {
      parts.push(`<h2>Verification failed</h2><p>${escapeText(failedVerificationText(result)!)}</p>`)
      parts.push(verificationList(result.failedVerification.verifications))
    }
    if (result.bestFailing.length === 0) return parts.join('\n')
    const items = result.bestFailing.map((c) => {
      const w = lightestWindow(c)
      return `<li>${escapeText(candidateLabel(c))}: ${w ? `p99 ${ms(w.p99Ms)} ms at ${escapeText(rateText(w.rate))} req/s` : 'no open-loop window measured'}</li>`
    })
    parts.push(`<h2>Closest candidates</h2><p>No candidate meets the SLO. At their lightest load:</p><ul>${items.join('')}</ul>`)
    return parts.join('\n')
  }
  const env = Object.entries(rec.env)
  const settings = [
    'predictor:',
    `  processes_per_replica: ${rec.processes_per_replica}`,
    `  threads_per_process: ${rec.threads_per_process}`,
    ...(env.length > 0 ? ['  env:', ...env.map(([k, v]) => `    ${k}: "${v}"`)] : []),
    'autoscaling:',
    `  max_replica_concurrency: ${rec.max_replica_concurrency}`,
    `  target_replica_concurrency: ${rec.target_replica_concurrency}`,
    `  min_replicas: ${rec.min_replicas}`,
    'compute:',
    `  cpu: ${rec.compute.cpu}`,
    `  mem: ${rec.compute.mem}`,
  ]
  const parts: string[] = ['<h2>Recommendation</h2>']
  if (rec.projected) parts.push(`<p class="projected">Projected: this capacity is projected to compute.cpu ${result.placement.cpu} from CPU seconds per request measured on fewer CPUs.</p>`)
  parts.push(`<pre>${escapeText(settings.join('\n'))}</pre>`)
  if (rec.verifications.length > 0) {
    parts.push('<h3>Verification</h3><p>The pick run as <code>mlserve run</code> would, driven open loop at the per-replica rate.</p>')
    parts.push(verificationList(rec.verifications))
  }
  if (rec.alternative) {
    const alt = rec.alternative
    parts.push(
      `<p>Alternative (most capacity per replica): ${escapeText(alt.label)}, ${escapeText(rateText(alt.capacity))} req/s per replica, ${alt.cost.replicas} replica(s) for the peak at ${costText(alt.cost.perHour)} ${costUnit(result)} (the pick: ${costText(rec.cost.perHour)} ${costUnit(result)}).</p>`,
    )
  }
  if (rec.dollars) parts.push(`<p>Cost: $${rec.dollars.per1000Requests.toFixed(4)} per 1,000 requests; $${money(rec.dollars.perMonthAtPeak)} per month at the peak.</p>`)
  parts.push(`<h3>Why</h3><p>${escapeText(rec.reasoning)}</p>`)
  return parts.join('\n')
}

function verificationList(runs: Verification[]): string {
  const items = runs.map((v) => `<li class="${v.passed ? 'pass' : 'fail'}">${escapeText(verificationLine(v, {num, ms, pct}))}</li>`)
  return `<ol class="verifications">${items.join('')}</ol>`
}

function writesSection(result: TuneResult): string {
  if (result.writes.length === 0) return ''
  const items = result.writes.map((w) => `<li><code>${escapeText(w.path)} = ${escapeText(String(w.value))}</code>: ${escapeText(w.why)}</li>`)
  return `<h2>Changes to ${escapeText(result.wrote ?? result.file)}</h2><ul class="writes">${items.join('')}</ul>`
}

export function renderTuneHtml(result: TuneResult): string {
  const rec = result.recommendation
  const c = result.constraints
  const headline = rec ? rec.sentence : (failedVerificationText(result) ?? `No candidate meets p99 ≤ ${c.sloP99Ms} ms; see the closest candidates below.`)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlserve tune: ${escapeText(result.api)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1000px;color:#222;line-height:1.45}
.headline{font-size:1.15rem;padding:1rem;border-left:5px solid ${rec ? '#2ca02c' : '#d62728'};background:#f6f8f6}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child,td:nth-last-child(2),th:nth-last-child(2){text-align:left}tr.chosen{background:#eef7ee;font-weight:600}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}
.warning{color:#8a5300}.projected{color:#8a5300;font-weight:600}pre{background:#f6f6f6;padding:.8rem}
li.pass{color:#166534}li.fail{color:#991b1b}
</style></head><body>
<h1>mlserve tune: ${escapeText(result.api)}</h1>
<p class="headline">${escapeText(headline)}</p>
<p>Constraints: p99 ≤ ${c.sloP99Ms} ms, peak ${num(c.peakRps)} req/s, ${Math.round(c.utilization * 100)}% utilization${c.memLimitBytes ? `, compute.mem ${Math.round(c.memLimitBytes / 2 ** 20)} MiB` : ''}. ${escapeText(result.search)} search; ${result.candidates.length} candidate(s) measured in ${Math.round(result.durationS)} s.</p>
<p>Placement: ${escapeText(result.placement.note)}</p>
<p>Windows: ${escapeText(result.window.reason)}</p>
<h2>Throughput against p99</h2>
<p>Each colour is one candidate. Dots are open-loop windows at a fixed offered rate (a cross failed); the dashed tick marks the confirmed capacity, the highest rate whose windows all passed. Diamonds are the verification runs of the pick. Hollow squares are the closed-loop sweep, labelled with concurrency: an upper bound for the search, not a capacity.</p>
${tuneChart(result)}
<h2>Candidates</h2>
${candidateTable(result)}
${recommendationSection(result)}
${writesSection(result)}
${result.warnings.map((w) => `<p class="warning">⚠ ${escapeText(w)}</p>`).join('\n')}
<p><small>Made by mlserve tune from ${escapeText(result.file)}.</small></p>
</body></html>
`
}
