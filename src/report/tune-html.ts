// A tune result as one self-contained HTML page (no scripts, no network):
// the recommendation in one sentence, a throughput-vs-p99 chart with one
// curve per candidate and the SLO as a line, the candidate table, the
// reasoning and the warnings.
import type {CandidateResult, TuneResult} from '../tune/types.js'

const escapeHtml = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

interface Series {
  label: string
  color: string
  points: Array<{x: number; y: number}>
  chosen: boolean
}

function niceTicks(max: number, count = 5): number[] {
  if (max <= 0) return [0]
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw
  return Array.from({length: Math.floor(max / step) + 1}, (_, i) => i * step)
}

/** p99 spans orders of magnitude between light load and past the knee, so its axis is logarithmic. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = []
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) ticks.push(10 ** e)
  return ticks
}

function throughputVsP99Svg(series: Series[], sloMs: number): string {
  const width = 760
  const height = 420
  const m = {left: 70, right: 160, top: 20, bottom: 50}
  const all = series.flatMap((s) => s.points)
  const maxX = Math.max(1, ...all.map((p) => p.x)) * 1.05
  const minY = Math.max(0.01, Math.min(sloMs, ...all.map((p) => p.y)) / 1.5)
  const maxY = Math.max(sloMs, ...all.map((p) => p.y)) * 1.5
  const x = (v: number): number => m.left + (v / maxX) * (width - m.left - m.right)
  const y = (v: number): number => {
    const t = (Math.log10(Math.max(v, minY)) - Math.log10(minY)) / (Math.log10(maxY) - Math.log10(minY))
    return height - m.bottom - t * (height - m.top - m.bottom)
  }
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Throughput against p99 latency, one curve per candidate">`)
  for (const t of niceTicks(maxX)) {
    parts.push(`<line x1="${x(t)}" y1="${m.top}" x2="${x(t)}" y2="${height - m.bottom}" stroke="#eee"/><text x="${x(t)}" y="${height - m.bottom + 18}" text-anchor="middle" font-size="11">${Math.round(t)}</text>`)
  }
  for (const t of logTicks(minY, maxY)) {
    if (t < minY || t > maxY) continue
    parts.push(`<line x1="${m.left}" y1="${y(t)}" x2="${width - m.right}" y2="${y(t)}" stroke="#eee"/><text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${t >= 1 ? t : t.toFixed(2)}</text>`)
  }
  parts.push(`<line x1="${m.left}" y1="${y(sloMs)}" x2="${width - m.right}" y2="${y(sloMs)}" stroke="#c00" stroke-dasharray="6 4"/><text x="${width - m.right - 4}" y="${y(sloMs) - 5}" text-anchor="end" font-size="11" fill="#c00">SLO p99 ${sloMs} ms</text>`)
  parts.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 10}" text-anchor="middle" font-size="12">throughput (req/s, 2xx)</text>`)
  parts.push(`<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">p99 latency (ms, log scale)</text>`)
  series.forEach((s, i) => {
    const pts = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="${s.chosen ? 3 : 1.5}"/>`)
    for (const p of s.points) parts.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="${s.chosen ? 3.5 : 2.5}" fill="${s.color}"/>`)
    const ly = m.top + 14 + i * 18
    parts.push(`<line x1="${width - m.right + 12}" y1="${ly - 4}" x2="${width - m.right + 32}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/><text x="${width - m.right + 38}" y="${ly}" font-size="12"${s.chosen ? ' font-weight="bold"' : ''}>${escapeHtml(s.label)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

function seriesOf(result: TuneResult): Series[] {
  const rec = result.recommendation
  return result.candidates
    .filter((c) => c.capacity && c.capacity.sweep.length > 0)
    .map((c: CandidateResult, i) => ({
      label: `${c.processes} × ${c.threads}${c.status === 'ok' ? '' : ` (${c.status})`}`,
      color: PALETTE[i % PALETTE.length],
      chosen: rec !== null && rec.processes_per_replica === c.processes && rec.threads_per_process === c.threads,
      points: [...c.capacity!.sweep].sort((a, b) => a.concurrency - b.concurrency).map((p) => ({x: p.throughput, y: p.p99Ms})),
    }))
}

export function renderTuneHtml(result: TuneResult): string {
  const rec = result.recommendation
  const headline = rec ? rec.sentence : `No candidate meets p99 ≤ ${result.constraints.sloP99Ms} ms; see the closest candidates below.`
  const rows = [...result.candidates]
    .sort((a, b) => a.processes - b.processes || a.threads - b.threads)
    .map((c) => {
      const cap = c.capacity
      const f = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d))
      return `<tr${rec && rec.processes_per_replica === c.processes && rec.threads_per_process === c.threads ? ' class="chosen"' : ''}><td>${c.processes} × ${c.threads}</td><td>${f(cap?.capacity, 0)}</td><td>${f(cap?.p50Ms)}</td><td>${f(cap?.p99Ms)}</td><td>${f(cap?.serviceTimeMs)}</td><td>${f(c.memory?.perProcessMiB, 0)}</td><td>${f(c.memory?.replicaMiB, 0)}</td><td>${escapeHtml(c.status)}${c.error ? `: ${escapeHtml(c.error.split('\n')[0])}` : ''}</td></tr>`
    })
    .join('\n')
  const settings = rec
    ? `<pre>predictor:\n  processes_per_replica: ${rec.processes_per_replica}\n  threads_per_process: ${rec.threads_per_process}\nautoscaling:\n  min_replicas: ${rec.min_replicas}\n  max_replica_concurrency: ${rec.max_replica_concurrency}\n  target_replica_concurrency: ${rec.target_replica_concurrency}</pre>`
    : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlserve tune: ${escapeHtml(result.api)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:980px;color:#222;line-height:1.45}
.headline{font-size:1.15rem;padding:1rem;border-left:5px solid ${rec ? '#2ca02c' : '#d62728'};background:#f6f8f6}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child,td:last-child{text-align:left}tr.chosen{background:#eef7ee;font-weight:600}
.warning{color:#8a5300}pre{background:#f6f6f6;padding:.8rem}
</style></head><body>
<h1>mlserve tune: ${escapeHtml(result.api)}</h1>
<p class="headline">${escapeHtml(headline)}</p>
<p>Constraints: p99 ≤ ${result.constraints.sloP99Ms} ms, peak ${result.constraints.peakRps} req/s, ${Math.round(result.constraints.utilization * 100)}% utilization${result.constraints.memLimitBytes ? `, compute.mem ${Math.round(result.constraints.memLimitBytes / 2 ** 20)} MiB` : ''}. ${escapeHtml(result.search)} search over processes ${result.grid.processes.join(', ')} × threads ${result.grid.threads.join(', ')}; ${result.candidates.length} candidate(s) measured in ${Math.round(result.durationS)} s.</p>
<h2>Throughput against p99</h2>
<p>Each curve is one candidate's closed-loop concurrency sweep: throughput rises until the knee, then only latency does.</p>
${throughputVsP99Svg(seriesOf(result), result.constraints.sloP99Ms)}
<h2>Candidates</h2>
<table><thead><tr><th>processes × threads</th><th>capacity req/s</th><th>p50 ms</th><th>p99 ms</th><th>service ms</th><th>MiB/process</th><th>MiB/replica</th><th>status</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${rec ? `<h2>Why</h2><p>${escapeHtml(rec.reasoning)}</p>${settings}` : ''}
${result.warnings.map((w) => `<p class="warning">⚠ ${escapeHtml(w)}</p>`).join('\n')}
<p><small>Made by mlserve tune from ${escapeHtml(result.file)}.</small></p>
</body></html>
`
}
