// Answers by API (the gateway's X-Mlserve-Api header): reading the header,
// the tally and its shares, the Recorder's byApi, and how the reports show it.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {
  ApiTally,
  MAX_APIS,
  OTHER_APIS,
  Recorder,
  apiOfHeaders,
  apiOfRawHeaders,
  type LoadResult,
  type RunSettings,
} from '../../src/loadtest/index.js'
import {renderLoadHtml, renderLoadJson, renderLoadMarkdown, renderLoadTable} from '../../src/report/index.js'

const S = 1e9
const MS = 1e6

const settings: RunSettings = {connections: 4, rate: null, arrival: null, maxConnections: null, durationMs: 3000, amount: null, warmupMs: 0, timeoutMs: 1000}

function finish(recorder: Recorder, endNs = 3 * S): LoadResult {
  return recorder.finish({
    endNs,
    cpuPercent: 10,
    aborted: false,
    url: 'http://127.0.0.1:1/split',
    request: {method: 'POST', bodies: [Buffer.from('{}')], description: 'inline JSON'},
    settings,
    startedAt: new Date(0),
  })
}

/**
 * 300 answers over 3 s: every 10th from `b`, the rest from `a`; every 20th of
 * a's is a 503, b's 7th answer a 500; a answers in 2 ms, b in 8 ms. Then
 * `unnamed` answers without the header, one timeout and one connection error.
 */
function splitRun(unnamed = 0): LoadResult {
  const r = new Recorder({model: 'closed', startNs: 0})
  let aCount = 0
  let bCount = 0
  for (let i = 0; i < 300; i++) {
    const at = i * 10 * MS
    if (i % 10 === 9) {
      bCount++
      r.recordAnswer(bCount === 7 ? 500 : 200, 8 * MS, at, 'b')
    } else {
      aCount++
      r.recordAnswer(aCount % 20 === 0 ? 503 : 200, 2 * MS, at, 'a')
    }
  }
  for (let i = 0; i < unnamed; i++) r.recordAnswer(404, 0.1 * MS, 2.95 * S)
  r.recordTimeout(1000 * MS, 2.96 * S)
  r.recordConnectionError(2.97 * S)
  return finish(r)
}

describe('reading the header', () => {
  test('raw header lists (autocannon): the name in any case, the first one, an empty value as none', () => {
    assert.equal(apiOfRawHeaders(['Content-Type', 'application/json', 'X-Mlserve-Api', 'iris-v2']), 'iris-v2')
    assert.equal(apiOfRawHeaders(['x-mlserve-api', 'a', 'X-MLSERVE-API', 'b']), 'a')
    assert.equal(apiOfRawHeaders(['content-type', 'application/json']), undefined)
    assert.equal(apiOfRawHeaders(['x-mlserve-api', '']), undefined)
    // Same length, other name: not taken.
    assert.equal(apiOfRawHeaders(['x-mlserve-apx', 'a']), undefined)
    assert.equal(apiOfRawHeaders([]), undefined)
  })

  test("undici's parsed headers: a string, the first of a repeated header, none", () => {
    assert.equal(apiOfHeaders({'x-mlserve-api': 'a', 'content-type': 'application/json'}), 'a')
    assert.equal(apiOfHeaders({'x-mlserve-api': ['b', 'c']}), 'b')
    assert.equal(apiOfHeaders({'content-type': 'text/plain'}), undefined)
    assert.equal(apiOfHeaders({'x-mlserve-api': ''}), undefined)
    assert.equal(apiOfHeaders(undefined), undefined)
  })
})

describe('the tally', () => {
  test('counts each API by outcome, its share of every answer, and the latency of its 2xx answers alone', () => {
    const tally = new ApiTally()
    // Under 2.048 ms HdrHistogram is exact to the µs.
    for (let i = 0; i < 8; i++) tally.record('a', 200, (1 + i) * 0.1 * MS)
    tally.record('a', 503, 0.1 * MS)
    tally.record('b', 500, 50 * MS)
    tally.record('b', 201, 0.4 * MS)
    const result = tally.result(12)
    assert.deepEqual(result, {
      a: {requests: 9, ok: 8, shed: 1, errors: 0, share: 0.75, p50Ms: 0.4, p99Ms: 0.8},
      b: {requests: 2, ok: 1, shed: 0, errors: 1, share: 0.166667, p50Ms: 0.4, p99Ms: 0.4},
    })
    tally.destroy()
  })

  test('no answer named an API: no figures at all', () => {
    const tally = new ApiTally()
    assert.equal(tally.result(100), undefined)
    tally.destroy()
  })

  test('an API with only failures has null latencies', () => {
    const tally = new ApiTally()
    tally.record('b', 503, 0.2 * MS)
    assert.deepEqual(tally.result(1), {b: {requests: 1, ok: 0, shed: 1, errors: 0, share: 1, p50Ms: null, p99Ms: null}})
    tally.destroy()
  })

  test('names in name order; past MAX_APIS names, the rest count together, last', () => {
    const tally = new ApiTally()
    const names = Array.from({length: MAX_APIS + 5}, (_, i) => `api-${String(i).padStart(3, '0')}`)
    for (const name of [...names].reverse()) tally.record(name, 200, MS)
    tally.record('api-000', 200, MS)
    const result = tally.result(MAX_APIS + 6)!
    const keys = Object.keys(result)
    assert.equal(keys.length, MAX_APIS + 1)
    assert.equal(keys.at(-1), OTHER_APIS)
    assert.deepEqual(keys.slice(0, -1), [...keys.slice(0, -1)].sort())
    // Reversed order: the last MAX_APIS names seen first got rows of their own; the first five (api-000 … api-004) went to the overflow.
    assert.equal(result[OTHER_APIS].requests, 6)
    assert.equal(Object.values(result).reduce((sum, a) => sum + a.requests, 0), MAX_APIS + 6)
    tally.destroy()
  })
})

describe('the Recorder', () => {
  test('byApi: counts per API, shares of every HTTP answer (timeouts and connection errors have none)', () => {
    const result = splitRun()
    assert.equal(result.requests.total, 302)
    const {a, b} = result.byApi!
    assert.deepEqual({...a, p50Ms: 0, p99Ms: 0}, {requests: 270, ok: 257, shed: 13, errors: 0, share: 0.9, p50Ms: 0, p99Ms: 0})
    assert.deepEqual({...b, p50Ms: 0, p99Ms: 0}, {requests: 30, ok: 29, shed: 0, errors: 1, share: 0.1, p50Ms: 0, p99Ms: 0})
    assert.equal(a.p50Ms, 2)
    assert.equal(a.p99Ms, 2)
    assert.equal(b.p50Ms, 8)
    // The whole run's figures are unchanged by the tally.
    assert.equal(result.requests.ok, 286)
    assert.equal(result.requests.shed, 13)
    assert.equal(result.latencyMs.samples, 286)
  })

  test('answers without the header count in the whole but in no API', () => {
    const result = splitRun(20)
    assert.equal(result.byApi!.a.share, Math.round((270 / 320) * 1e6) / 1e6)
    assert.equal(result.byApi!.b.share, Math.round((30 / 320) * 1e6) / 1e6)
  })

  test('no answer named an API: the result has no byApi key, so the JSON is as before', () => {
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 100; i++) r.recordAnswer(200, MS, i * 10 * MS)
    const result = finish(r, 1 * S)
    assert.equal('byApi' in result, false)
    assert.doesNotMatch(renderLoadJson(result), /byApi/)
  })
})

describe('the reports', () => {
  test('the terminal table has a "by API" table, with shares and the 2xx latency', () => {
    const text = renderLoadTable(splitRun())
    assert.match(text, /by API/)
    const row = (name: string): string => text.split('\n').find((line) => new RegExp(`^\\W*${name}\\s`).test(line.replace(/[│|]/g, ' ').trimStart()))!
    assert.ok(row('a'), text)
    assert.match(row('a'), /270\s.*90\.0%\s.*257\s.*13\s.*0\s.*2\.000\s.*2\.000/)
    assert.match(row('b'), /30\s.*10\.0%\s.*29\s.*0\s.*1\s.*8\.000\s.*8\.000/)
    assert.doesNotMatch(text, /named no API/)
  })

  test('answers without the header are said to have named no API', () => {
    assert.match(renderLoadTable(splitRun(20)), /20 answers named no API\./)
  })

  test('without byApi the terminal table is as before: no "by API" table', () => {
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 100; i++) r.recordAnswer(200, MS, i * 10 * MS)
    assert.doesNotMatch(renderLoadTable(finish(r, 1 * S)), /by API/i)
  })

  test('JSON, Markdown and HTML carry it too', () => {
    const result = splitRun(1)
    const json = JSON.parse(renderLoadJson(result)) as LoadResult
    assert.deepEqual(Object.keys(json.byApi!), ['a', 'b'])
    assert.equal(json.byApi!.b.errors, 1)
    const md = renderLoadMarkdown(result)
    assert.match(md, /## By API/)
    assert.match(md, /\| a \| 270 \| 89\.7% \| 257 \| 13 \| 0 \| 2\.000 \| 2\.000 \|/)
    assert.match(md, /1 answer named no API\./)
    const html = renderLoadHtml(result)
    assert.match(html, /<h2>By API<\/h2>/)
    assert.match(html, /<td>b<\/td><td>30<\/td>/)
  })
})
