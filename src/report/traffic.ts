// Traffic policies as text: each splitter's weights, shadow and the weights a
// rollback would restore, with each API's live figures (ready replicas,
// requests and their share of the splitter, shed, errors, p50/p99 decoded from
// the gateway's HdrHistogram), and weight changes as old → new.
import * as hdr from 'hdr-histogram-js'
import type {ApiFigures, SplitterStatus, TrafficStatus} from '../runtime/gateway/traffic-types.js'
import {ms, num, pct} from './format.js'

/** One API of a splitter, as `traffic show` lists it. */
export interface SplitterApiLine {
  api: string
  /** Its weight, or the shadow's percent. */
  weight: number
  shadow: boolean
  endpoint: string | null
  replicas: number | null
  readyReplicas: number | null
  requests: number | null
  /** Its share of the requests the splitter placed (null for the shadow, or before any request). */
  share: number | null
  shed: number | null
  errors: number | null
  p50Ms: number | null
  p99Ms: number | null
  /** The copies it received as the shadow. */
  copies: ApiFigures['shadow'] | null
}

export interface SplitterView extends SplitterStatus {
  apis: SplitterApiLine[]
}

/** Latency percentiles (ms) from the gateway's encoded histogram of microseconds; nulls when empty or unreadable. */
export function latencyPercentiles(encoded: string | undefined): {p50Ms: number | null; p99Ms: number | null} {
  if (!encoded) return {p50Ms: null, p99Ms: null}
  try {
    const histogram = hdr.decodeFromCompressedBase64(encoded, 32, false)
    if (histogram.totalCount === 0) return {p50Ms: null, p99Ms: null}
    // HdrHistogram answers with the top of a value's bucket; never more than the largest value seen.
    const at = (p: number): number => Math.min(histogram.getValueAtPercentile(p), histogram.maxValue) / 1000
    return {p50Ms: at(50), p99Ms: at(99)}
  } catch {
    return {p50Ms: null, p99Ms: null}
  }
}

/** A splitter with its APIs' figures from the same /traffic answer. */
export function splitterView(splitter: SplitterStatus, apis: TrafficStatus['apis']): SplitterView {
  const weighted = Object.keys(splitter.weights)
  // The splitter's own count per API when the gateway gives it; an API's figures also count its other endpoints.
  const routed = splitter.routed as Record<string, number> | undefined
  const placed = (api: string): number => (routed ? (routed[api] ?? 0) : (apis[api]?.requests ?? 0))
  const total = weighted.reduce((sum, api) => sum + placed(api), 0)
  const line = (api: string, weight: number, shadow: boolean): SplitterApiLine => {
    const figures = apis[api]
    return {
      api,
      weight,
      shadow,
      endpoint: figures?.endpoint ?? null,
      replicas: figures?.replicas ?? null,
      readyReplicas: figures?.readyReplicas ?? null,
      requests: figures?.requests ?? null,
      share: !shadow && total > 0 ? placed(api) / total : null,
      shed: figures?.shed ?? null,
      errors: figures?.errors ?? null,
      ...latencyPercentiles(figures?.latencyHistogram),
      copies: shadow ? (figures?.shadow ?? null) : null,
    }
  }
  const lines = weighted.map((api) => line(api, splitter.weights[api], false))
  if (splitter.shadow) lines.push(line(splitter.shadow.api, splitter.shadow.percent, true))
  return {...splitter, apis: lines}
}

/** Weights as "a 90 · b 10". */
export function formatWeights(weights: Record<string, number> | null): string {
  if (!weights) return '-'
  return Object.entries(weights)
    .map(([api, weight]) => `${api} ${weight}`)
    .join(' · ')
}

const count = (value: number | null): string => (value === null ? '-' : num(value, 0))

/** One splitter as a table of text lines (no colour: the command adds none to tables). */
export function renderSplitterText(view: SplitterView): string {
  const head = ['api', 'weight', 'ready', 'requests', 'share', 'shed', 'errors', 'p50 ms', 'p99 ms']
  const rows = view.apis.map((line) => [
    line.api,
    line.shadow ? `shadow ${line.weight}%` : String(line.weight),
    line.replicas === null ? '-' : `${line.readyReplicas}/${line.replicas}`,
    count(line.requests),
    line.share === null ? '-' : pct(line.share, 1),
    count(line.shed),
    count(line.errors),
    ms(line.p50Ms),
    ms(line.p99Ms),
  ])
  const out = [`${view.name}  ${view.endpoint}  (changed ${view.changedAt})`, table(head, rows)]
  const shadow = view.apis.find((line) => line.shadow)
  if (shadow?.copies) {
    const c = shadow.copies
    out.push(`  shadow ${shadow.api}: ${num(c.sent, 0)} copies sent, ${num(c.completed, 0)} completed, ${num(c.shed, 0)} shed, ${num(c.failed, 0)} failed`)
  }
  out.push(`  rollback restores: ${view.previous ? formatWeights(view.previous) : 'nothing (unchanged since start)'}`)
  return out.join('\n')
}

/** A weight change, one API a line: "a  90 → 50". */
export function renderWeightChange(name: string, before: Record<string, number> | null, after: Record<string, number>): string {
  const apis = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after)])]
  const width = Math.max(...apis.map((api) => api.length))
  const lines = apis.map((api) => {
    return `  ${api.padEnd(width)}  ${before?.[api] ?? '-'} → ${after[api] ?? '-'}`
  })
  return [`${name}:`, ...lines].join('\n')
}

/** A plain left-aligned table, columns two spaces apart. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]): string => `  ${cells.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`.trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}
