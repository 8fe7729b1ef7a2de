// src/loadtest's pure parts: schedules, the recorder's accounting, the
// generator's self-assessment, thresholds, histograms and request sources.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  LatencyHistogram,
  Recorder,
  assessGenerator,
  bodyAt,
  checkThresholds,
  createSchedule,
  loadRequestSource,
  parseHeaders,
  type LoadResult,
  type RunSettings,
  type SecondStats,
} from '../../src/loadtest/index.js'
import {isMlserveError} from '../../src/errors.js'

const S = 1e9
const MS = 1e6

const openSettings: RunSettings = {connections: null, rate: 100, arrival: 'constant', maxConnections: 512, durationMs: 3000, amount: null, warmupMs: 0, timeoutMs: 1000}
const closedSettings: RunSettings = {connections: 4, rate: null, arrival: null, maxConnections: null, durationMs: 3000, amount: null, warmupMs: 0, timeoutMs: 1000}

function finish(recorder: Recorder, endNs: number, options: {settings?: RunSettings; cpuPercent?: number; plannedWindowS?: number} = {}): LoadResult {
  return recorder.finish({
    endNs,
    cpuPercent: options.cpuPercent ?? 10,
    aborted: false,
    url: 'http://127.0.0.1:1/x',
    request: {method: 'GET', bodies: [], description: 'none'},
    settings: options.settings ?? openSettings,
    startedAt: new Date(0),
    plannedWindowS: options.plannedWindowS,
  })
}

describe('open-loop schedules', () => {
  test('constant arrivals are exactly evenly spaced, from offset 0, with no drift', () => {
    const schedule = createSchedule(400, 'constant')
    const offsets = Array.from({length: 100_001}, () => schedule.next())
    assert.equal(offsets[0], 0)
    for (let i = 1; i < 1000; i++) assert.ok(Math.abs(offsets[i] - offsets[i - 1] - 2.5e6) < 1e-3, `gap ${i}`)
    // After 100,000 requests the last is still exactly at 100,000 × 2.5 ms.
    assert.equal(offsets[100_000], 100_000 * 2.5e6)
  })

  test('poisson arrivals have mean gap 1/rate and exponential spread (coefficient of variation 1)', () => {
    const rate = 250
    const schedule = createSchedule(rate, 'poisson', 42)
    const n = 200_000
    let previous = schedule.next()
    assert.equal(previous, 0)
    let sum = 0
    let sumSq = 0
    let min = Infinity
    for (let i = 0; i < n; i++) {
      const next = schedule.next()
      const gap = next - previous
      assert.ok(gap >= 0, 'offsets never go backwards')
      previous = next
      sum += gap
      sumSq += gap * gap
      min = Math.min(min, gap)
    }
    const mean = sum / n
    const sd = Math.sqrt(sumSq / n - mean * mean)
    assert.ok(Math.abs(mean / (S / rate) - 1) < 0.01, `mean gap ${mean / MS} ms, expected 4 ms`)
    assert.ok(Math.abs(sd / mean - 1) < 0.02, `coefficient of variation ${sd / mean}`)
    assert.ok(min < 0.01 * (S / rate), 'some gaps are much shorter than the mean: arrivals cluster, unlike a constant schedule')
  })

  test('a seed makes a poisson schedule repeatable, and different seeds differ', () => {
    const take = (seed: number) => {
      const s = createSchedule(100, 'poisson', seed)
      return Array.from({length: 50}, () => s.next())
    }
    assert.deepEqual(take(7), take(7))
    assert.notDeepEqual(take(7), take(8))
  })

  test('a rate that is not positive is refused', () => {
    assert.throws(() => createSchedule(0, 'constant'), RangeError)
    assert.throws(() => createSchedule(-5, 'poisson'), RangeError)
  })
})

describe('lateness accounting', () => {
  test('a send counts as late only past the threshold; percent and lateness percentiles follow', () => {
    const start = 1000 * S
    const r = new Recorder({model: 'open', startNs: start, lateThresholdMs: 1})
    // 200 sends: 196 on time (50 µs late), 4 late (2, 3, 5, 40 ms).
    for (let i = 0; i < 200; i++) {
      const planned = start + i * 5 * MS
      const lateness = i === 10 ? 2 * MS : i === 20 ? 3 * MS : i === 30 ? 5 * MS : i === 40 ? 40 * MS : 0.05 * MS
      r.recordSend(planned, planned + lateness)
      r.recordAnswer(200, lateness + 0.2 * MS, planned + lateness + 0.2 * MS)
    }
    const result = finish(r, start + S, {plannedWindowS: 1})
    assert.equal(result.generator.lateSends, 4)
    assert.equal(result.generator.latePercent, 2)
    assert.equal(result.generator.lateThresholdMs, 1)
    assert.ok(result.generator.lateness, 'lateness percentiles are reported for the open loop')
    assert.equal(result.generator.lateness!.p50, 0.05)
    assert.equal(result.generator.lateness!.max, 40)
    assert.equal(result.generator.saturated, true, 'over 1% of sends late: the schedule was not kept')
    assert.match(result.generator.warnings.join('\n'), /2% of sends went out more than 1 ms after their planned time/)
    // Sends per second second-by-second: all 200 went out in the first second.
    assert.equal(result.timeline[0].sent, 200)
    assert.equal(result.timeline[0].lateSends, 4)
    assert.equal(result.sendRate, 200)
  })

  test('a threshold exactly met is not late; exactly 1% late does not saturate', () => {
    const start = 0
    const r = new Recorder({model: 'open', startNs: start, lateThresholdMs: 2})
    for (let i = 0; i < 100; i++) r.recordSend(i * MS, i * MS + (i === 0 ? 2 * MS : i === 1 ? 2.001 * MS : 0))
    const result = finish(r, 100 * MS, {plannedWindowS: 0.1})
    assert.equal(result.generator.lateSends, 1)
    assert.equal(result.generator.latePercent, 1)
    assert.equal(result.generator.saturated, false)
  })

  test('sends late because every connection was busy describe the target, not the generator', () => {
    const r = new Recorder({model: 'open', startNs: 0, lateThresholdMs: 1})
    for (let i = 0; i < 100; i++) r.recordSend(i * MS, i * MS + (i < 30 ? 50 * MS : 0), i < 30)
    const result = finish(r, 200 * MS, {plannedWindowS: 0.1})
    assert.equal(result.generator.lateSends, 30)
    assert.equal(result.generator.waitedForConnection, 30)
    assert.equal(result.generator.saturated, false)
    assert.match(result.generator.warnings.join('\n'), /30 sends waited for a free connection: the target held all 512/)
  })

  test('the achieved send rate falls when the last sends go out late', () => {
    const r = new Recorder({model: 'open', startNs: 0})
    // 100 sends planned over 1 s, but sent over 2 s.
    for (let i = 0; i < 100; i++) r.recordSend(i * 10 * MS, i * 20 * MS)
    const result = finish(r, 2 * S, {plannedWindowS: 1})
    assert.ok(Math.abs(result.sendRate! - 100 / 1.98) < 0.1, `sendRate ${result.sendRate}`)
  })
})

describe('the recorder', () => {
  test('every outcome falls in exactly one class: ok, shed, other HTTP errors, timeouts, connection errors', () => {
    const r = new Recorder({model: 'closed', startNs: 0})
    const statuses = [200, 200, 201, 204, 503, 503, 500, 404, 302]
    statuses.forEach((status, i) => r.recordAnswer(status, MS, (i + 1) * MS))
    r.recordTimeout(1000 * MS, 20 * MS)
    r.recordConnectionError(21 * MS)
    const result = finish(r, S, {settings: closedSettings})
    const c = result.requests
    assert.deepEqual(
      {total: c.total, ok: c.ok, failed: c.failed, shed: c.shed, httpErrors: c.httpErrors, timeouts: c.timeouts, connectionErrors: c.connectionErrors},
      {total: 11, ok: 4, failed: 7, shed: 2, httpErrors: 3, timeouts: 1, connectionErrors: 1},
    )
    assert.equal(c.failed, c.shed + c.httpErrors + c.timeouts + c.connectionErrors)
    assert.deepEqual(c.byStatus, {200: 2, 201: 1, 204: 1, 302: 1, 404: 1, 500: 1, 503: 2})
    assert.equal(result.errorRate, Math.round((7 / 11) * 1e6) / 1e6)
    // Successful answers, sheds and errors (other statuses and the timeout) are timed apart; the connection error has no latency.
    assert.equal(result.latencyMs.samples, 4)
    assert.equal(result.shedLatencyMs.samples, 2)
    assert.equal(result.errorLatencyMs.samples, 4)
    assert.equal(result.latencyMs.max, 1)
    assert.equal(result.errorLatencyMs.max, 1000)
    assert.equal(result.throughput, 4)
    assert.equal(result.responseRate, 9)
    assert.equal(result.sendRate, null)
    assert.equal(result.generator.lateness, null)
  })

  test('per-second buckets by finish time, empty seconds included, each reported once to onSecond', () => {
    const seen: SecondStats[] = []
    const r = new Recorder({model: 'closed', startNs: 0, onSecond: (s) => seen.push(s)})
    for (let i = 0; i < 10; i++) r.recordAnswer(200, 0.3 * MS, 0.1 * S + i * MS)
    r.recordAnswer(200, 900 * MS, 1.5 * S)
    // Nothing during second 2; tick closes it anyway.
    r.tick(3.01 * S)
    assert.deepEqual(seen.map((s) => s.second), [0, 1, 2])
    assert.deepEqual(seen.map((s) => s.completed), [10, 1, 0])
    assert.equal(seen[0].p50Ms, 0.3)
    assert.equal(seen[1].p99Ms, 900)
    assert.equal(seen[2].p50Ms, null)
    r.recordAnswer(503, MS, 3.5 * S)
    const result = finish(r, 4 * S, {settings: closedSettings})
    assert.deepEqual(result.timeline.map((s) => [s.second, s.completed, s.ok, s.shed, s.failed]), [
      [0, 10, 10, 0, 0],
      [1, 1, 1, 0, 0],
      [2, 0, 0, 0, 0],
      [3, 1, 0, 1, 1],
    ])
    assert.equal(result.durationS, 4)
  })

  test('a short tail after the last whole second is folded into it; a long one is its own partial second', () => {
    const short = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 100; i++) short.recordAnswer(200, MS, i * 10 * MS)
    short.recordAnswer(200, 50 * MS, 1.004 * S)
    const a = finish(short, 1.005 * S, {settings: closedSettings})
    assert.equal(a.timeline.length, 1)
    assert.equal(a.timeline[0].completed, 101)
    assert.equal(a.timeline[0].lengthS, 1.005)
    assert.equal(a.timeline[0].maxMs, 50)

    const long = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 100; i++) long.recordAnswer(200, MS, i * 10 * MS)
    long.recordAnswer(200, MS, 1.4 * S)
    const b = finish(long, 1.5 * S, {settings: closedSettings})
    assert.deepEqual(b.timeline.map((s) => [s.completed, s.lengthS, s.throughput]), [
      [100, 1, 100],
      [1, 0.5, 2],
    ])
  })

  test('warnings: too few requests, timeouts, and a saturated CPU', () => {
    const r = new Recorder({model: 'closed', startNs: 0})
    r.recordAnswer(200, MS, MS)
    r.recordTimeout(1000 * MS, 2 * MS)
    const result = finish(r, 2 * S, {settings: closedSettings, cpuPercent: 95})
    assert.match(result.warnings.join('\n'), /Only 2 requests over 2 s/)
    assert.match(result.warnings.join('\n'), /1 requests got no answer within 1000 ms/)
    assert.equal(result.generator.saturated, true)
    assert.match(result.generator.warnings.join('\n'), /95% of a CPU core/)
  })
})

describe('assessGenerator', () => {
  const base = {model: 'open' as const, cpuPercent: 20, sends: 1000, lateSends: 0, lateWaiting: 0, waitedForConnection: 0, lateThresholdMs: 1, maxConnections: 512}
  test('80% CPU is the limit; above it the generator is saturated', () => {
    assert.equal(assessGenerator({...base, cpuPercent: 80}).saturated, false)
    assert.equal(assessGenerator({...base, cpuPercent: 80.2}).saturated, true)
  })
  test('1% of late sends is the limit', () => {
    assert.equal(assessGenerator({...base, lateSends: 10}).saturated, false)
    assert.equal(assessGenerator({...base, lateSends: 11}).saturated, true)
    assert.equal(assessGenerator({...base, lateSends: 11, lateWaiting: 5}).saturated, false)
  })
  test('the closed loop has no schedule to be late for', () => {
    assert.equal(assessGenerator({...base, model: 'closed', lateSends: 500}).saturated, false)
  })
})

describe('thresholds', () => {
  const result = (over: Partial<LoadResult> = {}): LoadResult => {
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 98; i++) r.recordAnswer(200, (i + 1) * MS, (i + 1) * 10 * MS)
    r.recordAnswer(503, 200 * MS, 990 * MS)
    r.recordTimeout(1000 * MS, 995 * MS)
    return {...finish(r, S, {settings: closedSettings}), ...over}
  }

  test('all pass when every limit is met; none set passes trivially', () => {
    const r = result()
    assert.deepEqual(checkThresholds(r, {maxP99Ms: 2000, maxErrorRate: 0.05, minThroughput: 90}), {passed: true, failures: [], checked: {maxP99Ms: 2000, maxErrorRate: 0.05, minThroughput: 90}})
    assert.equal(checkThresholds(r, {}).passed, true)
  })

  test('each missed limit gives one reason, with the measured and the allowed value', () => {
    const r = result()
    assert.equal(r.errorRate, 0.02)
    const check = checkThresholds(r, {maxP99Ms: 90, maxErrorRate: 0.01, minThroughput: 200})
    assert.equal(check.passed, false)
    assert.equal(check.failures.length, 3)
    // The successful answers' p99 (98 ms), not the shed's 200 ms nor the timeout's 1000 ms.
    assert.match(check.failures[0], /^p99 latency 98(\.\d+)? ms \(successful answers\) is above 90 ms$/)
    assert.match(check.failures[1], /^error rate 2% \(2 of 100: 1 shed, 0 other HTTP errors, 1 timeouts, 0 connection errors\) is above 1%$/)
    assert.match(check.failures[2], /^throughput 98 req\/s \(2xx\) is below 200 req\/s$/)
  })

  test('--max-p99 judges the successful answers: fast sheds do not hide slow answers, and slow errors do not fail fast ones', () => {
    // 16 connections against a cap of 8: most answers are 503s in a third of a millisecond.
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 96; i++) r.recordAnswer(503, 0.33 * MS, (i + 1) * MS)
    for (let i = 0; i < 4; i++) r.recordAnswer(200, 250 * MS, (500 + i) * MS)
    const shedding = finish(r, S, {settings: closedSettings})
    assert.equal(shedding.latencyMs.p50, 250)
    assert.equal(shedding.shedLatencyMs.p50, 0.33)
    assert.equal(checkThresholds(shedding, {maxP99Ms: 100}).passed, false)
    const slowErrors = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 99; i++) slowErrors.recordAnswer(200, 5 * MS, (i + 1) * MS)
    slowErrors.recordTimeout(1000 * MS, 900 * MS)
    const judged = finish(slowErrors, S, {settings: closedSettings})
    assert.equal(checkThresholds(judged, {maxP99Ms: 10}).passed, true)
    assert.equal(checkThresholds(judged, {maxErrorRate: 0}).passed, false, 'the timeout counts in the error rate')
  })

  test('with no successful answer, --max-p99 fails and says why', () => {
    const r = new Recorder({model: 'closed', startNs: 0})
    for (let i = 0; i < 10; i++) r.recordAnswer(503, 0.3 * MS, (i + 1) * MS)
    const result = finish(r, S, {settings: closedSettings})
    assert.deepEqual(checkThresholds(result, {maxP99Ms: 100}).failures, ['no request got a successful answer, so there is no p99 latency to judge'])
    assert.ok(result.warnings.some((w) => /No request got a successful \(2xx\) answer/.test(w)), result.warnings.join('\n'))
  })

  test('the limits are inclusive: a p99 equal to the limit passes', () => {
    const r = result()
    assert.equal(checkThresholds(r, {maxP99Ms: r.latencyMs.p99, maxErrorRate: r.errorRate, minThroughput: r.throughput}).passed, true)
  })

  test('a run that measured nothing fails any threshold', () => {
    const empty = finish(new Recorder({model: 'closed', startNs: 0}), S, {settings: closedSettings})
    const check = checkThresholds(empty, {maxErrorRate: 0.5})
    assert.deepEqual([check.passed, check.failures], [false, ['no request was measured']])
  })
})

describe('histograms', () => {
  test('sub-millisecond latencies keep microsecond resolution', () => {
    const h = new LatencyHistogram()
    for (const us of [180, 200, 213, 250, 260]) h.recordUs(us)
    const s = h.summary()
    assert.equal(s.p50, 0.213)
    assert.equal(s.min, 0.18)
    assert.equal(s.max, 0.26)
    assert.equal(s.samples, 5)
  })

  test('percentiles never exceed the largest value recorded', () => {
    const h = new LatencyHistogram()
    h.recordUs(1_234_567)
    assert.equal(h.summary().p99, 1234.567)
    assert.equal(h.summary().max, 1234.567)
  })
})

describe('request sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-data-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  test('inline JSON: POST with a JSON content type; no data: GET without a body', async () => {
    const inline = await loadRequestSource({data: '{"x": 1}'})
    assert.equal(inline.method, 'POST')
    assert.equal(inline.headers['content-type'], 'application/json')
    assert.deepEqual(inline.bodies.map(String), ['{"x": 1}'])
    const none = await loadRequestSource({})
    assert.equal(none.method, 'GET')
    assert.equal(bodyAt(none, 3), undefined)
    const api = await loadRequestSource({defaultBody: '{}'})
    assert.deepEqual([api.method, String(bodyAt(api, 0))], ['POST', '{}'])
  })

  test('@file.ndjson gives one body per line and a directory one per file, used round robin', async () => {
    writeFileSync(join(dir, 'reqs.ndjson'), '{"a":1}\n\n{"a":2}\n{"a":3}\n')
    const ndjson = await loadRequestSource({data: `@${join(dir, 'reqs.ndjson')}`})
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => String(bodyAt(ndjson, i))), ['{"a":1}', '{"a":2}', '{"a":3}', '{"a":1}', '{"a":2}'])
    const payloads = join(dir, 'payloads')
    mkdirSync(payloads)
    writeFileSync(join(payloads, 'b.json'), '{"b":2}')
    writeFileSync(join(payloads, 'a.json'), '{"a":1}')
    writeFileSync(join(payloads, '.hidden'), 'x')
    for (const data of [`@${payloads}`, payloads]) {
      const fromDir = await loadRequestSource({data})
      assert.deepEqual(fromDir.bodies.map(String), ['{"a":1}', '{"b":2}'])
      assert.equal(fromDir.headers['content-type'], 'application/json')
    }
  })

  test('@file of bytes is sent as is, as octet-stream unless a header says otherwise', async () => {
    writeFileSync(join(dir, 'img.bin'), Buffer.from([0, 1, 2, 255]))
    const bin = await loadRequestSource({data: `@${join(dir, 'img.bin')}`})
    assert.equal(bin.headers['content-type'], 'application/octet-stream')
    assert.deepEqual([...bin.bodies[0]], [0, 1, 2, 255])
    const typed = await loadRequestSource({data: `@${join(dir, 'img.bin')}`, headers: ['Content-Type: image/png', 'X-Key:  abc '], method: 'put'})
    assert.equal(typed.headers['content-type'], 'image/png')
    assert.equal(typed.headers['x-key'], 'abc')
    assert.equal(typed.method, 'PUT')
  })

  test('bad data and headers are refused with a located reason', async () => {
    const code = async (p: Promise<unknown>) => p.then(() => 'no error', (e) => (isMlserveError(e) ? `${e.code}: ${e.message}` : String(e)))
    assert.match(await code(loadRequestSource({data: '{x: 1}'})), /^MLS_LOADTEST_DATA_INVALID: Invalid --data: not valid JSON/)
    assert.match(await code(loadRequestSource({data: `@${join(dir, 'missing.json')}`})), /^MLS_LOADTEST_DATA_INVALID: .*ENOENT/)
    writeFileSync(join(dir, 'bad.ndjson'), '{"a":1}\nnope\n')
    assert.match(await code(loadRequestSource({data: `@${join(dir, 'bad.ndjson')}`})), /line 2 is not valid JSON/)
    mkdirSync(join(dir, 'empty'))
    assert.match(await code(loadRequestSource({data: `@${join(dir, 'empty')}`})), /holds no files/)
    assert.throws(() => parseHeaders(['no colon']), /--header/)
    assert.throws(() => parseHeaders([': value']), /--header/)
  })
})
