// Text for the terminal: an inspect report as a table and summary lines. Pure
// functions of the result, so commands stay thin.
import Table from 'cli-table3'
import type {InspectReport} from './inspect.js'

/** 1234567 → "1.2 MB" (SI units, as Docker shows sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = -1
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`
}

export function formatPercent(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)}%`
}

function truncate(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ')
  return flat.length <= width ? flat : flat.slice(0, width - 1) + '…'
}

/** The layers table and the efficiency summary. */
export function renderInspect(report: InspectReport, options: {width?: number} = {}): string[] {
  const width = Math.max(60, Math.min(options.width ?? 120, 160))
  const table = new Table({
    head: ['#', 'size', 'digest', 'created by'],
    colAligns: ['right', 'right', 'left', 'left'],
    style: {head: [], border: [], compact: true},
  })
  for (const layer of report.layers) {
    table.push([String(layer.index), formatBytes(layer.size), layer.digest.replace(/^sha256:/, '').slice(0, 12), truncate(layer.createdBy, width - 40)])
  }
  const lines = [
    `${report.image} (${report.id.replace(/^sha256:/, '').slice(0, 12)}): ${report.layers.length} layers, ${formatBytes(report.totalSize)}`,
    table.toString(),
    `Efficiency ${formatPercent(report.efficiency, 4)}; wasted ${formatBytes(report.wastedBytes)} (${report.wastedBytes} bytes), ${formatPercent(report.userWastedPercent)} of the ${formatBytes(report.userSize)} in the layers after the first.`,
  ]
  if (report.inefficientPaths.length > 0) {
    lines.push('Paths in two or more layers (wasted = cumulative − minimum):')
    for (const p of report.inefficientPaths.slice(0, 10)) {
      lines.push(`  ${formatBytes(p.wasted).padStart(9)}  ${p.count}×  /${p.path}`)
    }
  }
  return lines
}
