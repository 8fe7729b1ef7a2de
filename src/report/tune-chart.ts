// The tune chart as inline SVG: offered rate against p99, one colour per
// candidate. It shows what decided each capacity: the open-loop windows, the
// confirmed capacity, the verified point and the SLO. The closed-loop plateau
// only bounds the search, so its points are hollow, labelled with their
// concurrency, and pinned to the right edge when they lie far beyond.
import {candidateKey, type CandidateResult, type TuneResult} from '../tune/types.js'
import {niceTicks} from './svg.js'
import {escapeText, figuresOf, rateText, sortedCandidates, verifiedPick} from './tune-figures.js'

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

/** Each candidate's colour, by its place in the table. */
export function candidateColors(result: TuneResult): Map<CandidateResult, string> {
  return new Map(sortedCandidates(result).map((c, i) => [c, PALETTE[i % PALETTE.length]]))
}

const WIDTH = 820
const HEIGHT = 460
const M = {left: 70, right: 200, top: 24, bottom: 50}
const f = (n: number): string => n.toFixed(1)

/** 1, 2, 5 × 10^n inside [lo, hi]: enough labels to read the SLO and the knee on a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = []
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(6))
      if (v >= lo && v <= hi) ticks.push(v)
    }
  }
  return ticks
}

export function tuneChart(result: TuneResult): string {
  const slo = result.constraints.sloP99Ms
  const colors = candidateColors(result)
  const candidates = sortedCandidates(result).filter((c) => c.capacity !== null)
  const pick = verifiedPick(result)
  const verifications = pick?.verifications ?? []
  const windows = candidates.flatMap((c) => c.capacity!.windows)

  // x: the offered rates the windows and verifications ran at; the plateau may lie far beyond and is clipped.
  const rates = [...windows.map((w) => w.rate), ...candidates.map((c) => c.capacity!.capacity), ...verifications.map((v) => v.rate)].filter((r) => r > 0)
  const fallback = candidates.flatMap((c) => c.capacity!.plateau.map((p) => p.throughput))
  const xTop = Math.max(1, ...(rates.length > 0 ? rates : fallback)) * 1.12
  const xTicks = niceTicks(0, xTop, 8).filter((t) => t <= xTop)

  // y: log p99, from half the lowest to 3× the SLO or the highest window still within 10× of it.
  const p99s = [...windows.map((w) => w.p99Ms), ...verifications.map((v) => v.p99Ms)].filter((p) => p > 0 && Number.isFinite(p))
  const yLo = Math.max(0.01, Math.min(slo, ...p99s) / 2)
  const yHi = Math.max(slo * 3, ...p99s.filter((p) => p <= slo * 10))
  const plotW = WIDTH - M.left - M.right
  const plotH = HEIGHT - M.top - M.bottom
  const bottom = M.top + plotH
  const right = M.left + plotW
  // Out of range (or not a number at all) is drawn at the edge it passed, never off the plot.
  const sx = (v: number): number => M.left + (Math.min(Math.max(Number.isNaN(v) ? 0 : v, 0), xTop) / xTop) * plotW
  const sy = (v: number): number => {
    const clamped = Math.min(Math.max(Number.isNaN(v) ? yHi : v, yLo), yHi)
    return bottom - ((Math.log10(clamped) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * plotH
  }

  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="system-ui, sans-serif" font-size="11" role="img" aria-label="Throughput against p99: offered rate (req/s) against p99 latency, one colour per candidate, with each confirmed capacity, the verified point and the SLO">`,
  )
  parts.push('<title>Throughput against p99</title>')
  for (const t of xTicks) {
    parts.push(`<line x1="${f(sx(t))}" y1="${M.top}" x2="${f(sx(t))}" y2="${bottom}" stroke="#eee"/><text x="${f(sx(t))}" y="${bottom + 16}" text-anchor="middle" fill="#4b5563">${escapeText(rateText(t))}</text>`)
  }
  for (const t of logTicks(yLo, yHi)) {
    parts.push(`<line x1="${M.left}" y1="${f(sy(t))}" x2="${right}" y2="${f(sy(t))}" stroke="#eee"/><text x="${M.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#4b5563">${t}</text>`)
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#9ca3af"/>`)
  parts.push(`<text x="${f(M.left + plotW / 2)}" y="${HEIGHT - 10}" text-anchor="middle" font-size="12" fill="#374151">offered rate (req/s, open loop)</text>`)
  parts.push(`<text transform="translate(16 ${f(M.top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="#374151">p99 latency (ms, log scale)</text>`)
  parts.push(
    `<g class="slo" data-slo="${slo}"><line x1="${M.left}" y1="${f(sy(slo))}" x2="${right}" y2="${f(sy(slo))}" stroke="#c00" stroke-width="1.5" stroke-dasharray="6 4"/><text x="${right - 4}" y="${f(sy(slo) - 5)}" text-anchor="end" fill="#c00">SLO p99 ≤ ${slo} ms</text></g>`,
  )

  candidates.forEach((c, i) => {
    const color = colors.get(c)!
    const fig = figuresOf(result, c)
    const cap = c.capacity!
    const label = escapeText(fig.label)
    const g: string[] = [`<g class="candidate" data-candidate="${escapeText(fig.key)}">`]
    // The plateau: hollow squares labelled with their concurrency; beyond the axis, pinned to its edge.
    for (const p of cap.plateau) {
      const beyond = p.throughput > xTop
      const x = sx(p.throughput)
      const y = sy(p.p99Ms)
      g.push(
        `<g class="plateau"><title>${label}: closed loop at concurrency ${p.concurrency}: ${escapeText(rateText(p.throughput))} req/s, p99 ${escapeText(p99Text(p.p99Ms))} ms${beyond ? ' (beyond the axis)' : ''}</title><rect x="${f(x - 3)}" y="${f(y - 3)}" width="6" height="6" fill="#fff" stroke="${color}" stroke-width="1.2"/><text x="${f(x + (beyond ? -5 : 5))}" y="${f(y - 4)}" font-size="9" fill="${color}"${beyond ? ' text-anchor="end"' : ''}>c=${p.concurrency}${beyond ? ' →' : ''}</text></g>`,
      )
    }
    // The open-loop windows: the line joins the mean p99 at each rate; each window is its own mark.
    const byRate = new Map<number, number[]>()
    for (const w of cap.windows) byRate.set(w.rate, [...(byRate.get(w.rate) ?? []), w.p99Ms])
    const line = [...byRate.entries()].sort((a, b) => a[0] - b[0]).map(([rate, ps]) => `${f(sx(rate))},${f(sy(ps.reduce((a, b) => a + b, 0) / ps.length))}`)
    if (line.length > 1) g.push(`<polyline points="${line.join(' ')}" fill="none" stroke="${color}" stroke-width="${fig.chosen ? 2.6 : 1.4}"/>`)
    for (const w of cap.windows) {
      const x = sx(w.rate)
      const y = sy(w.p99Ms)
      const title = `<title>${label}: ${w.phase} window at ${escapeText(rateText(w.rate))} req/s: p99 ${escapeText(p99Text(w.p99Ms))} ms, ${w.passes ? 'passes' : 'fails'}</title>`
      g.push(
        w.passes
          ? `<g class="window">${title}<circle cx="${f(x)}" cy="${f(y)}" r="3.2" fill="${color}"/></g>`
          : `<g class="window">${title}<path d="M${f(x - 3.5)},${f(y - 3.5)}L${f(x + 3.5)},${f(y + 3.5)}M${f(x - 3.5)},${f(y + 3.5)}L${f(x + 3.5)},${f(y - 3.5)}" stroke="${color}" stroke-width="1.8"/></g>`,
      )
    }
    // The confirmed capacity: a tick from the axis up to its p99, and its value.
    if (cap.capacity > 0) {
      const x = sx(cap.capacity)
      const yTop = fig.p99AtCapacityMs === null ? M.top : sy(fig.p99AtCapacityMs)
      const text = escapeText(rateText(cap.capacity))
      g.push(
        `<g class="capacity" data-capacity="${text}"><title>${label}: capacity ${text} req/s</title><line x1="${f(x)}" y1="${bottom}" x2="${f(x)}" y2="${f(yTop)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="3 2"/><text x="${f(x + 3)}" y="${f(bottom - 6 - i * 12)}" fill="${color}" font-weight="600">${text}</text></g>`,
      )
    }
    g.push('</g>')
    parts.push(g.join(''))
  })

  // The verified points, in the pick's colour, filled green for a pass and red for a failure.
  const picked = pick ? candidates.find((c) => candidateKey(c) === candidateKey(pick)) : undefined
  const recColor = picked ? colors.get(picked)! : '#111827'
  for (const v of verifications) {
    const x = sx(v.rate)
    const y = sy(v.p99Ms)
    const word = v.passed ? 'PASS' : 'FAIL'
    parts.push(
      `<g class="verification" data-verification="${word}"><title>verification ${word}: ${escapeText(rateText(v.rate))} req/s, p99 ${escapeText(p99Text(v.p99Ms))} ms</title><path d="M${f(x)},${f(y - 7)}L${f(x + 7)},${f(y)}L${f(x)},${f(y + 7)}L${f(x - 7)},${f(y)}Z" fill="${v.passed ? '#16a34a' : '#dc2626'}" stroke="${recColor}" stroke-width="2"/><text x="${f(x + 9)}" y="${f(y - 6)}" font-weight="700" fill="${v.passed ? '#166534' : '#991b1b'}">${word}</text></g>`,
    )
  }

  // Legend: one line per candidate, then what each mark means.
  const lx = right + 14
  let ly = M.top + 10
  for (const c of sortedCandidates(result)) {
    const fig = figuresOf(result, c)
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${colors.get(c)}" stroke-width="3"/><text x="${lx + 24}" y="${ly}"${fig.chosen ? ' font-weight="700"' : ''}>${escapeText(fig.label)}${fig.chosen ? ' (pick)' : ''}</text>`)
    ly += 16
  }
  ly += 8
  const key: Array<[string, (y: number) => string]> = [
    ['open-loop window, passes', (y) => `<circle cx="${lx + 9}" cy="${y - 4}" r="3.2" fill="#374151"/>`],
    ['open-loop window, fails', (y) => `<path d="M${lx + 5.5},${y - 7.5}L${lx + 12.5},${y - 0.5}M${lx + 5.5},${y - 0.5}L${lx + 12.5},${y - 7.5}" stroke="#374151" stroke-width="1.8"/>`],
    ['confirmed capacity', (y) => `<line x1="${lx + 9}" y1="${y - 10}" x2="${lx + 9}" y2="${y + 2}" stroke="#374151" stroke-dasharray="3 2"/>`],
    ['verified (PASS/FAIL)', (y) => `<path d="M${lx + 9},${y - 10}L${lx + 15},${y - 4}L${lx + 9},${y + 2}L${lx + 3},${y - 4}Z" fill="#16a34a" stroke="#374151"/>`],
    ['closed loop, c = concurrency', (y) => `<rect x="${lx + 6}" y="${y - 7}" width="6" height="6" fill="#fff" stroke="#374151"/>`],
  ]
  key.forEach(([words, mark], i) => {
    const y = ly + i * 16
    parts.push(`${mark(y)}<text x="${lx + 24}" y="${y}" fill="#374151">${words}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

function p99Text(value: number): string {
  return value < 10 ? value.toFixed(2) : String(Math.round(value))
}
