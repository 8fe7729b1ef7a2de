// src/report's load-test renderers: each format renders, with the shape its
// readers expect, and the HTML page is self-contained.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {Recorder, checkThresholds, type LoadResult, type RunSettings} from '../../src/loadtest/index.js'
import {
  CSV_COLUMNS,
  lineChart,
  niceTicks,
  renderLoadCsv,
  renderLoadHtml,
  renderLoadJson,
  renderLoadMarkdown,
  renderLoadReport,
  renderLoadTable,
  reportFormatOf,
} from '../../src/report/index.js'

const S = 1e9
const MS = 1e6

function sample(model: 'open' | 'closed' = 'open', url = 'http://127.0.0.1:8888/iris?x=1&y=<b>'): LoadResult {
  const settings: RunSettings =
    model === 'open'
      ? {connections: null, rate: 100, arrival: 'poisson', maxConnections: 512, durationMs: 3000, amount: null, warmupMs: 1000, timeoutMs: 5000}
      : {connections: 8, rate: null, arrival: null, maxConnections: null, durationMs: 3000, amount: null, warmupMs: 0, timeoutMs: 5000}
  const r = new Recorder({model, startNs: 0})
  for (let i = 0; i < 300; i++) {
    const planned = i * 10 * MS
    if (model === 'open') r.recordSend(planned, planned + 0.05 * MS)
    const status = i % 50 === 0 ? 503 : i % 77 === 0 ? 500 : 200
    const latency = i >= 100 && i < 110 ? 800 * MS : 0.4 * MS
    r.recordAnswer(status, latency, planned + latency)
  }
  r.recordTimeout(5000 * MS, 2.9 * S)
  const result = r.finish({
    endNs: 3 * S,
    cpuPercent: 12.5,
    aborted: false,
    url,
    api: 'iris',
    request: {method: 'POST', bodies: [Buffer.from('{}')], description: 'inline JSON'},
    settings,
    startedAt: new Date('2026-01-01T00:00:00Z'),
    plannedWindowS: 3,
  })
  result.thresholds = checkThresholds(result, {maxP99Ms: 100})
  return result
}

/** Splits one CSV line, honouring quotes. */
function csvFields(line: string): string[] {
  const fields: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        current += '"'
        i++
      } else if (c === '"') quoted = false
      else current += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      fields.push(current)
      current = ''
    } else current += c
  }
  fields.push(current)
  return fields
}

describe('load-test reports', () => {
  test('JSON is the result itself, and parses back to it', () => {
    const result = sample()
    assert.deepEqual(JSON.parse(renderLoadJson(result)), JSON.parse(JSON.stringify(result)))
    assert.equal(renderLoadReport(result, 'json'), renderLoadJson(result))
  })

  test('CSV: a header, one row per second, then a row for the whole run, all the same width', () => {
    for (const model of ['open', 'closed'] as const) {
      const result = sample(model)
      const lines = renderLoadCsv(result).trimEnd().split('\n')
      assert.deepEqual(lines[0].split(','), [...CSV_COLUMNS])
      assert.equal(lines.length, 1 + result.timeline.length + 1)
      for (const line of lines) assert.equal(csvFields(line).length, CSV_COLUMNS.length, line)
      const rows = lines.slice(1).map(csvFields)
      assert.deepEqual(rows.slice(0, -1).map((r) => r[0]), result.timeline.map((s) => String(s.second)))
      const all = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, rows.at(-1)![i]]))
      assert.equal(all.second, 'all')
      assert.equal(Number(all.completed), result.requests.total)
      assert.equal(Number(all.ok), result.requests.ok)
      assert.equal(Number(all.shed), result.requests.shed)
      assert.equal(Number(all.p99_ms), result.latencyMs.p99)
      assert.equal(Number(all.throughput_rps), result.throughput)
      // The sent column is empty for the closed loop, which has no schedule.
      assert.equal(all.sent === '', model === 'closed')
      // Per-second counts add up to the totals.
      assert.equal(rows.slice(0, -1).reduce((sum, r) => sum + Number(r[3]), 0), result.requests.total)
    }
  })

  test('Markdown: headings and well-formed tables, warnings and missed thresholds', () => {
    const md = renderLoadMarkdown(sample())
    assert.match(md, /^# Load test: http:\/\/127\.0\.0\.1:8888\/iris/)
    for (const heading of ['## Summary', '## Latency (ms, from the planned send time)', '## Status codes', '## Generator', '## Warnings', '## Thresholds', '## Timeline']) {
      assert.ok(md.includes(`\n${heading}\n`), heading)
    }
    // Every table's rows have as many cells as its header.
    const blocks = md.split(/\n\n+/).map((b) => b.trim()).filter((b) => b.startsWith('|'))
    assert.ok(blocks.length >= 5)
    for (const block of blocks) {
      const widths = block.split('\n').map((row) => row.split(/(?<!\\)\|/).length)
      assert.ok(widths.every((w) => w === widths[0]), block)
      assert.match(block.split('\n')[1], /^\| ---( \| ---)* \|$/)
    }
    assert.match(md, /\| 200 \| 291 \|/)
    assert.match(md, /\| 503 \| 6 \|/)
    assert.match(md, /- Missed: p99 latency .* is above 100 ms/)
  })

  test('HTML: one self-contained page with both charts and no external URL', () => {
    const result = sample()
    const html = renderLoadHtml(result)
    assert.match(html, /^<!doctype html>/)
    assert.equal((html.match(/<svg /g) ?? []).length, 2, 'throughput and latency charts')
    assert.match(html, /Throughput per second/)
    assert.match(html, /Latency of successful answers per second/)
    assert.match(html, /<polyline /)
    // Nothing is fetched: no script, stylesheet, image or font from anywhere.
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(|\ssrc=|\shref=/i)
    // The only URL in the page is the target's, shown as text (escaped).
    const escapedTarget = 'http://127.0.0.1:8888/iris?x=1&amp;y=&lt;b&gt;'
    assert.ok(html.includes(escapedTarget))
    assert.doesNotMatch(html.split(escapedTarget).join(''), /https?:\/\/|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
    assert.doesNotMatch(html, /<b>/, 'text from the result is escaped')
    assert.match(html, /Thresholds missed: p99 latency/)
    assert.match(html, /class="warn"/)
  })

  test('the terminal table names the load, the failure classes and every percentile', () => {
    const text = renderLoadTable(sample())
    assert.match(text, /open loop, 100 req\/s poisson arrivals \(at most 512 connections\), 3 s \(\+1 s warm-up\)/)
    assert.match(text, /6 shed \(503\), 3 other HTTP errors, 1 timeouts, 0 connection errors/)
    for (const head of ['p50', 'p90', 'p95', 'p99', 'p99.9', 'max', 'mean']) assert.ok(text.includes(head), head)
    assert.doesNotMatch(text, /\u001b\[/, 'no colour codes')
    const closed = renderLoadTable(sample('closed'))
    assert.match(closed, /closed loop, 8 connections, 3 s/)
  })

  test('successful answers, sheds and errors have latency rows of their own in the terminal, JSON, Markdown and HTML', () => {
    // 16 connections against a cap of 8: 96% of the answers are 503s in 0.33 ms.
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 960; i++) r.recordAnswer(503, 0.33 * MS, (i + 1) * MS)
    for (let i = 0; i < 40; i++) r.recordAnswer(200, 42 * MS, (i + 1) * 20 * MS)
    r.recordAnswer(500, 7 * MS, 990 * MS)
    const result = r.finish({
      endNs: S,
      cpuPercent: 5,
      aborted: false,
      url: 'http://127.0.0.1:8888/iris',
      request: {method: 'POST', bodies: []},
      settings: {connections: 16, rate: null, arrival: null, maxConnections: null, durationMs: 1000, amount: null, warmupMs: 0, timeoutMs: 5000},
      startedAt: new Date('2026-01-01T00:00:00Z'),
    })
    assert.equal(result.latencyMs.p50, 42)
    assert.equal(result.shedLatencyMs.p50, 0.33)
    assert.equal(result.errorLatencyMs.p50, 7)
    const json = JSON.parse(renderLoadJson(result)) as LoadResult
    assert.deepEqual([json.latencyMs.samples, json.shedLatencyMs.samples, json.errorLatencyMs.samples], [40, 960, 1])
    const text = renderLoadTable(result)
    assert.match(text, /ok \(2xx\)[\s│]+40[\s│]+42\.0\s/)
    assert.match(text, /shed \(503\)[\s│]+960[\s│]+0\.330\s/)
    assert.match(text, /errors[\s│]+1[\s│]+7\.000\s/)
    const md = renderLoadMarkdown(result)
    assert.match(md, /\| ok \(2xx\) \| 40 \| 42\.0 \|/)
    assert.match(md, /\| shed \(503\) \| 960 \| 0\.330 \|/)
    const html = renderLoadHtml(result)
    assert.match(html, /<td>ok \(2xx\)<\/td><td>40<\/td><td>42\.0<\/td>/)
    assert.match(html, /<td>shed \(503\)<\/td><td>960<\/td><td>0\.330<\/td>/)
    assert.match(html, /<div class="k">p50 \(2xx\)<\/div><div class="v">42\.0 ms<\/div>/)
    // Without sheds or errors, only the successful answers' row.
    const clean = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 10; i++) clean.recordAnswer(200, MS, (i + 1) * MS)
    const plain = renderLoadTable(clean.finish({endNs: S, cpuPercent: 1, aborted: false, url: 'http://x/', request: {method: 'GET', bodies: []}, settings: {connections: 1, rate: null, arrival: null, maxConnections: null, durationMs: 1000, amount: null, warmupMs: 0, timeoutMs: 5000}, startedAt: new Date()}))
    assert.match(plain, /ok \(2xx\)[\s│]+10[\s│]+1\.000\s/)
    assert.doesNotMatch(plain, /shed \(503\)[\s│]+\d|errors[\s│]+\d/)
  })

  test('formats by file extension', () => {
    assert.deepEqual(['a.json', 'b.CSV', 'c.md', 'd.markdown', 'e.html', 'f.htm', 'g.txt', 'h'].map(reportFormatOf), ['json', 'csv', 'md', 'md', 'html', 'html', null, null])
  })
})

describe('SVG charts', () => {
  test('ticks are round numbers covering the range', () => {
    assert.deepEqual(niceTicks(0, 9.3), [0, 2, 4, 6, 8, 10])
    assert.deepEqual(niceTicks(0, 1234), [0, 500, 1000, 1500])
    assert.deepEqual(niceTicks(0, 0), [0, 0.2, 0.4, 0.6, 0.8, 1])
  })

  test('a null value breaks a line into runs; a lone point is a dot', () => {
    const svg = lineChart({
      title: 'T',
      xLabel: 'x',
      yLabel: 'y',
      series: [{name: 's', color: '#000', points: [[0, 1], [1, 2], [2, null], [3, 4], [4, null]]}],
    })
    assert.equal((svg.match(/<polyline /g) ?? []).length, 1)
    assert.equal((svg.match(/<circle /g) ?? []).length, 1)
    assert.doesNotMatch(svg, /NaN|Infinity/)
  })

  test('an empty chart still draws without NaN', () => {
    const svg = lineChart({title: 'Empty', xLabel: 'x', yLabel: 'y', series: [{name: 'none', color: '#000', points: []}]})
    assert.doesNotMatch(svg, /NaN|Infinity/)
  })
})
