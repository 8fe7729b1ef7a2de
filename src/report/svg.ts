// Line charts as inline SVG, drawn here rather than in the browser, so an
// HTML report opens offline and shows the same thing everywhere. Generic x/y:
// time series for load tests, throughput against p99 for tuning.
import {escapeHtml} from './format.js'

export interface ChartSeries {
  name: string
  color: string
  /** [x, y] pairs in x order; a null y breaks the line. */
  points: Array<[number, number | null]>
  dashed?: boolean
}

export interface LineChartSpec {
  title: string
  xLabel: string
  yLabel: string
  series: ChartSeries[]
  width?: number
  height?: number
}

const PAD = {left: 64, right: 16, top: 34, bottom: 44}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 720
  const height = spec.height ?? 260
  const plotW = width - PAD.left - PAD.right
  const plotH = height - PAD.top - PAD.bottom
  const xs = spec.series.flatMap((s) => s.points.map(([x]) => x))
  const ys = spec.series.flatMap((s) => s.points.map(([, y]) => y)).filter((y): y is number => y !== null && Number.isFinite(y))
  const xMin = xs.length > 0 ? Math.min(...xs) : 0
  const xMaxRaw = xs.length > 0 ? Math.max(...xs) : 1
  const xMax = xMaxRaw > xMin ? xMaxRaw : xMin + 1
  const yTicks = niceTicks(0, ys.length > 0 ? Math.max(...ys) : 1)
  const yMax = yTicks.at(-1)!
  const sx = (x: number): number => PAD.left + ((x - xMin) / (xMax - xMin)) * plotW
  const sy = (y: number): number => PAD.top + plotH - (y / yMax) * plotH
  const f = (n: number): string => n.toFixed(1)

  const parts: string[] = []
  parts.push(`<svg class="chart" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`)
  parts.push(`<title>${escapeHtml(spec.title)}</title>`)
  parts.push(`<text x="${PAD.left}" y="18" font-size="13" font-weight="600">${escapeHtml(spec.title)}</text>`)
  for (const tick of yTicks) {
    const y = f(sy(tick))
    parts.push(`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`)
    parts.push(`<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#4b5563">${escapeHtml(tickLabel(tick))}</text>`)
  }
  for (const tick of niceTicks(xMin, xMax, 8)) {
    if (tick < xMin || tick > xMax) continue
    parts.push(`<text x="${f(sx(tick))}" y="${height - PAD.bottom + 16}" text-anchor="middle" fill="#4b5563">${escapeHtml(tickLabel(tick))}</text>`)
  }
  parts.push(`<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${f(sy(0))}" y2="${f(sy(0))}" stroke="#9ca3af"/>`)
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#374151">${escapeHtml(spec.xLabel)}</text>`)
  parts.push(`<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#374151">${escapeHtml(spec.yLabel)}</text>`)

  for (const series of spec.series) {
    const dash = series.dashed ? ' stroke-dasharray="5 3"' : ''
    for (const run of runs(series.points)) {
      if (run.length === 1) {
        const [x, y] = run[0]
        parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${series.color}"/>`)
        continue
      }
      const d = run.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')
      parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.8"${dash} points="${d}"/>`)
    }
  }
  // Legend, top right.
  let lx = width - PAD.right
  for (const series of [...spec.series].reverse()) {
    const label = escapeHtml(series.name)
    const w = 18 + series.name.length * 6.2
    lx -= w + 10
    parts.push(`<line x1="${f(lx)}" x2="${f(lx + 14)}" y1="14" y2="14" stroke="${series.color}" stroke-width="2.5"${series.dashed ? ' stroke-dasharray="4 2"' : ''}/>`)
    parts.push(`<text x="${f(lx + 18)}" y="14" dominant-baseline="middle" fill="#111827">${label}</text>`)
  }
  parts.push('</svg>')
  return parts.join('')
}

/** Consecutive points with a y value. */
function runs(points: Array<[number, number | null]>): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = []
  let current: Array<[number, number]> = []
  for (const [x, y] of points) {
    if (y === null || !Number.isFinite(y)) {
      if (current.length > 0) out.push(current)
      current = []
    } else {
      current.push([x, y])
    }
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Round tick values (1, 2, 5 × 10^n) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1
  const rough = (max - min) / count
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power
  const start = Math.floor(min / step) * step
  const ticks: number[] = []
  for (let v = start; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

function tickLabel(value: number): string {
  if (value >= 10_000) return `${Number((value / 1000).toPrecision(4))}k`
  return String(Number(value.toPrecision(6)))
}
