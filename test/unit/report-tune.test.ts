// src/report's tune renderers: the terminal text and the HTML page show the
// same capacities, mark the pick, the SLO and the verification, explain every
// --write change, escape what the user named, and load nothing from outside.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {renderTuneText} from '../../src/report/tune-text.js'
import {renderTuneHtml} from '../../src/report/tune-html.js'
import type {CandidateResult, GeneratorHealth, PlateauPoint, RateWindow, TuneResult, Verification} from '../../src/tune/types.js'

const healthy: GeneratorHealth = {saturated: false, latePercent: 0.1, waitedForConnection: 0}
const saturated: GeneratorHealth = {saturated: true, latePercent: 12, waitedForConnection: 40}
const SLO = 100

function win(rate: number, p99Ms: number, phase: RateWindow['phase'] = 'bisect', generator = healthy): RateWindow {
  const meanMs = p99Ms / 3
  return {
    phase,
    rate,
    throughput: rate,
    meanMs,
    p50Ms: meanMs * 0.8,
    p99Ms,
    failedShare: 0,
    requests: Math.round(rate * 10),
    durationS: 10,
    meanInFlight: (rate * meanMs) / 1000,
    cpuUtilization: 0.8,
    generator,
    passes: p99Ms <= SLO && !generator.saturated,
  }
}

const plateau = (points: Array<[number, number, number]>): PlateauPoint[] =>
  points.map(([concurrency, throughput, p99Ms]) => ({concurrency, throughput, p99Ms, generator: healthy}))

function candidate(
  processes: number,
  threads: number,
  status: CandidateResult['status'],
  capacity: number,
  windows: RateWindow[],
  points: PlateauPoint[],
  cost: CandidateResult['cost'],
): CandidateResult {
  const atCapacity = windows.filter((w) => w.rate === capacity)
  const failing = windows.filter((w) => !w.passes).map((w) => w.rate)
  return {
    processes,
    threads,
    blasThreads: null,
    status,
    capacity: {
      capacity,
      meetsSlo: status === 'ok',
      upperBound: Math.max(...points.map((p) => p.throughput)),
      plateau: points,
      serviceTime: {concurrency: processes * threads, meanMs: 4, p50Ms: 3.8, p99Ms: 7},
      windows,
      atCapacity,
      lowestFailingRate: failing.length > 0 ? Math.min(...failing) : null,
      noise: {throughputSpread: 0.012, p99Spread: 0.08, band: 0.024},
      utilizationAtCapacity: 0.83,
      generatorSaturated: status === 'generator-saturated',
    },
    memory: {perProcessMiB: 60, replicaMiB: 60 * processes},
    cost,
    durationS: 21,
  }
}

const cost = (replicas: number, perReplicaRate: number, memMiB: number, perHour: number) => ({perReplicaRate, replicas, cpu: 2, memMiB, perHour})

function verification(passed: boolean, rate: number, p99Ms: number, shedShare: number): Verification {
  return {
    rate,
    durationS: 60,
    passed,
    p99Ms,
    meanMs: p99Ms / 4,
    throughput: rate * (1 - shedShare),
    shedShare,
    errorShare: 0,
    requests: rate * 60,
    generatorSaturated: false,
    failures: passed ? [] : [`p99 ${p99Ms} ms > SLO ${SLO} ms`, `shed ${(shedShare * 100).toFixed(1)}% ≥ 0.1%`],
  }
}

function fixture(): TuneResult {
  // 1 × 1: meets the SLO at 410 req/s, and is the pick (cheapest).
  const a = candidate(
    1,
    1,
    'ok',
    410,
    [win(200, 20), win(450, 190), win(410, 80), win(430, 140), win(410, 84, 'repeat'), win(287, 30, 'operating')],
    plateau([[1, 260, 6], [4, 520, 40], [16, 6200, 900]]),
    cost(6, 287, 192, 0.123456),
  )
  // 2 × 1: more capacity per replica (the alternative), costs more.
  const b = candidate(2, 1, 'ok', 780, [win(400, 15), win(800, 130), win(780, 90), win(780, 95, 'repeat')], plateau([[2, 700, 8], [8, 950, 60]]), cost(4, 546, 320, 0.2))
  // 4 × 4: its windows were measured by a saturated generator.
  const c = candidate(4, 4, 'generator-saturated', 1500, [win(1500, 60, 'bisect', saturated)], plateau([[16, 1800, 50]]), null)
  // 1 × 16: fails the SLO at every rate.
  const d = candidate(1, 16, 'fails-slo', 0, [win(150, 240), win(75, 160)], plateau([[16, 300, 400]]), null)
  const rec = {
    processes: 1,
    threads: 1,
    blasThreads: null,
    processes_per_replica: 1,
    threads_per_process: 1,
    max_replica_concurrency: 12,
    target_replica_concurrency: 3,
    min_replicas: 6,
    compute: {cpu: '2', mem: '192Mi'},
    env: {OMP_NUM_THREADS: '1'},
    capacity: 410,
    perReplicaRate: 250,
    projected: false,
    cost: cost(6, 250, 192, 0.123456),
    dollars: {per1000Requests: 0.00123, perMonthAtPeak: 88.5},
    alternative: {label: '2 × 1', capacity: 780, cost: cost(4, 546, 320, 0.2)},
    verifications: [verification(false, 287, 180, 0.04), verification(true, 250, 70, 0)],
    sentence: "Run 1 × 1 replicas <fast> & cheap: 6 of them serve 1,500 req/s at each replica's 250 req/s.",
    reasoning: 'Little’s law: 250 req/s × 12 ms = 3 in flight.',
  }
  return {
    api: 'iris<script>',
    file: '/tmp/p/mlserve.yaml',
    constraints: {sloP99Ms: SLO, peakRps: 1500, utilization: 0.7, memLimitBytes: null},
    search: 'quick',
    grid: {processes: [1, 2, 4], threads: [1, 4, 16], blasThreads: [null], batches: []},
    window: {minSeconds: 10, minRequests: 1000, maxSeconds: 30, settleSeconds: 3, reason: 'windows of ≥ 10 s and ≥ 1,000 requests so p99 rests on 10 samples'},
    placement: {cpu: 2, replicaCpus: [0, 1], generatorCpus: [2, 3], fits: true, note: 'replica pinned to CPUs 0-1; gateway and generator on 2-3'},
    prices: {source: 'flags', perReplicaHour: null, perCpuHour: 0.04, perGiBHour: 0.005},
    candidates: [b, d, a, c],
    recommendation: rec,
    failedVerification: null,
    bestFailing: [],
    warnings: ['a warning with <b>'],
    durationS: 97,
    aborted: false,
    wrote: '/tmp/p/mlserve.yaml',
    writes: [
      {path: 'predictor.processes_per_replica', value: 1, why: 'the pick'},
      {path: 'autoscaling.init_replicas', value: 6, why: 'starts at min_replicas so the first minute is not shed'},
    ],
  }
}

/** The rows of a cli-table3 table, as arrays of trimmed cells; a wrapped cell's lines are joined. */
function tableRows(text: string): string[][] {
  const rows: string[][] = []
  let continuing = false
  for (const line of text.split('\n')) {
    if (!line.startsWith('│')) {
      continuing = false
      continue
    }
    const cells = line.split('│').slice(1, -1).map((cell) => cell.trim())
    if (continuing) rows[rows.length - 1] = rows.at(-1)!.map((cell, i) => [cell, cells[i]].filter(Boolean).join(' '))
    else rows.push(cells)
    continuing = true
  }
  return rows
}

describe('tune text report', () => {
  const text = renderTuneText(fixture())
  const rows = tableRows(text)
  const row = (label: string): string[] => rows.find((r) => r[0].replace(/^→ /, '') === label)!

  test('the header names the API, search, SLO, peak, placement and the window plan', () => {
    assert.match(text, /Tuned API "iris<script>" \(quick search, 4 candidate\(s\), 97 s\) for p99 ≤ 100 ms at a peak of 1,500 req\/s, 70% utilization/)
    assert.match(text, /^Placement: replica pinned to CPUs 0-1/m)
    assert.match(text, /^Windows: windows of ≥ 10 s/m)
  })

  test('one row per candidate in grid order, the pick marked, with capacity, p99 and mean at capacity, cost in $/h', () => {
    assert.deepEqual(rows[0], ['candidate', 'capacity req/s', 'p99 ms', 'mean ms', 'CPU %', 'noise', 'replicas', 'MiB/replica', '$/h', 'status', 'time s'])
    assert.deepEqual(rows.slice(1).map((r) => r[0]), ['→ 1 × 1', '1 × 16', '2 × 1', '4 × 4'])
    assert.deepEqual(row('1 × 1'), ['→ 1 × 1', '410', '82.0', '27.3', '83%', '±2.4%', '6', '60', '0.1235', 'meets SLO', '21'])
    assert.equal(row('2 × 1')[1], '780')
    assert.equal(row('4 × 4')[9], 'generator saturated: not recommended as measured')
    assert.equal(row('1 × 16')[9], 'fails SLO')
    assert.equal(rows.filter((r) => r[0].startsWith('→')).length, 1)
  })

  test('the cost column says weight/h when no prices were given', () => {
    const result = fixture()
    result.prices.source = 'default-weights'
    assert.equal(tableRows(renderTuneText(result))[0][8], 'weight/h')
  })

  test('the recommendation: settings with env and compute, both verifications, the alternative, dollars, writes, then warnings', () => {
    assert.match(text, /processes_per_replica: 1\n\s+threads_per_process: 1\n\s+env:\n\s+OMP_NUM_THREADS: "1"/)
    assert.match(text, /max_replica_concurrency: 12\n\s+target_replica_concurrency: 3\n\s+min_replicas: 6/)
    assert.match(text, /compute:\n\s+cpu: 2\n\s+mem: 192Mi/)
    assert.match(text, /1\. FAIL at 287 req\/s for 60 s: p99 180\.0 ms, mean 45\.0 ms, shed 4\.00%, errors 0\.00%, 17,220 requests \(p99 180 ms > SLO 100 ms; shed 4\.0% ≥ 0\.1%\)/)
    assert.match(text, /2\. PASS at 250 req\/s for 60 s: p99 70\.0 ms/)
    assert.match(text, /alternative \(most capacity per replica\): 2 × 1, 780 req\/s per replica, 4 replica\(s\) for the peak at 0\.2000 \$\/h/)
    assert.match(text, /\$0\.0012 per 1,000 requests; \$88\.50 per month at the peak/)
    assert.match(text, /wrote autoscaling\.init_replicas = 6: starts at min_replicas/)
    assert.ok(text.indexOf('wrote predictor') > text.indexOf('Little’s law'))
    assert.ok(text.trimEnd().endsWith('warning: a warning with <b>'))
  })

  test('a projected recommendation says so', () => {
    const result = fixture()
    result.recommendation!.projected = true
    assert.match(renderTuneText(result), /projected: this capacity is projected to compute\.cpu 2/)
    assert.doesNotMatch(text, /projected/)
  })

  test('a pick that failed every verification is shown with its runs, not as a recommendation', () => {
    const result = fixture()
    const failed = result.recommendation!
    failed.verifications = [failed.verifications[0], {...failed.verifications[0], rate: 200}]
    result.recommendation = null
    result.failedVerification = failed
    const out = renderTuneText(result)
    assert.match(out, /No recommendation: the pick, 1 × 1, failed verification all 2 times it was run, stepping down after each failure, as `mlserve run` would/)
    assert.match(out, /1\. FAIL at 287 req\/s[^\n]*\n\s+2\. FAIL at 200 req\/s/)
    assert.doesNotMatch(out, /processes_per_replica: |Run 1 × 1 replicas/)
    assert.ok(!tableRows(out).some((r) => r[0].startsWith('→')))
    const html = renderTuneHtml(result)
    assert.match(html, /<p class="headline">No recommendation: the pick, 1 × 1, failed verification/)
    assert.deepEqual([...html.matchAll(/data-verification="(\w+)"/g)].map((m) => m[1]), ['FAIL', 'FAIL'])
    assert.doesNotMatch(html, /class="chosen"|\(pick\)|processes_per_replica: /)
  })

  test('without a recommendation: the closest candidates at their lightest window', () => {
    const result = fixture()
    result.recommendation = null
    result.bestFailing = [result.candidates[1]]
    const out = renderTuneText(result)
    assert.match(out, /No recommendation: no candidate meets p99 ≤ 100 ms/)
    assert.match(out, /1 × 16: p99 160\.0 ms at 75 req\/s/)
    assert.ok(!tableRows(out).some((r) => r[0].startsWith('→')))
  })
})

describe('tune HTML report', () => {
  const html = renderTuneHtml(fixture())
  const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'))
  const table = html.slice(html.indexOf('<table'), html.indexOf('</table>'))

  test('the chart is labelled as the integration test expects, and the sentence is escaped', () => {
    assert.match(html, /<svg[^>]*Throughput against p99/)
    assert.ok(html.includes("Run 1 × 1 replicas &lt;fast&gt; &amp; cheap: 6 of them serve 1,500 req/s at each replica's 250 req/s."))
    assert.ok(!html.includes('<fast>'))
  })

  test('every confirmed capacity is marked in the chart, and the table shows the same figures', () => {
    const chart = [...svg.matchAll(/class="capacity" data-capacity="([^"]+)"/g)].map((m) => m[1]).sort()
    const cells = [...table.matchAll(/<td data-capacity="([^"]+)"/g)].map((m) => m[1]).filter((v) => v !== '0').sort()
    assert.deepEqual(chart, ['1,500', '410', '780'])
    assert.deepEqual(chart, cells)
  })

  test('the pick is marked in the table and the legend', () => {
    assert.equal([...table.matchAll(/class="chosen"/g)].length, 1)
    assert.match(table, /<tr data-candidate="1x1" class="chosen">/)
    assert.match(svg, /1 × 1 \(pick\)/)
  })

  test('the SLO is a dashed, labelled line', () => {
    assert.match(svg, /<g class="slo" data-slo="100"><line [^>]*stroke-dasharray/)
    assert.match(svg, /SLO p99 ≤ 100 ms/)
  })

  test('both verification runs are marked in the chart and listed, FAIL then PASS', () => {
    assert.deepEqual([...svg.matchAll(/data-verification="(\w+)"/g)].map((m) => m[1]), ['FAIL', 'PASS'])
    const list = html.slice(html.indexOf('<ol class="verifications">'), html.indexOf('</ol>'))
    assert.match(list, /<li class="fail">FAIL at 287 req\/s[^<]*p99 180 ms &gt; SLO 100 ms/)
    assert.match(list, /<li class="pass">PASS at 250 req\/s/)
  })

  test('closed-loop points are labelled with their concurrency, and one far beyond the axis is pinned to its edge', () => {
    for (const c of [1, 4, 2, 8]) assert.match(svg, new RegExp(`>c=${c}<`))
    assert.match(svg, />c=16 →</)
    assert.match(svg, /closed loop at concurrency 16: 6,200 req\/s, p99 900 ms \(beyond the axis\)/)
    // The x axis ends a little past the largest window or verification rate (1,500), not at 6,200.
    const ticks = [...svg.matchAll(/text-anchor="middle" fill="#4b5563">([\d,]+)</g)].map((m) => Number(m[1].replace(/,/g, '')))
    assert.ok(Math.max(...ticks) < 2000, `x ticks ${ticks.join(' ')}`)
  })

  test('--write changes are listed with why; the alternative and the cost are shown', () => {
    assert.match(html, /<li><code>autoscaling\.init_replicas = 6<\/code>: starts at min_replicas so the first minute is not shed<\/li>/)
    assert.match(html, /Alternative \(most capacity per replica\): 2 × 1, 780 req\/s/)
    assert.match(html, /\$0\.0012 per 1,000 requests/)
  })

  test('what the user named is escaped, and nothing loads from outside', () => {
    assert.ok(html.includes('mlserve tune: iris&lt;script&gt;'))
    assert.doesNotMatch(html, /<script/i)
    assert.doesNotMatch(html, /\s(src|href)=/i)
    assert.doesNotMatch(html, /url\(|@import/i)
    assert.ok(html.includes('a warning with &lt;b&gt;'))
  })

  test('a tune where every candidate failed to start still draws a whole chart', () => {
    const result = fixture()
    result.recommendation = null
    result.candidates = result.candidates.map((c) => ({...c, status: 'failed', capacity: null, memory: null, cost: null, error: 'exited with code 1\nTraceback'}))
    const out = renderTuneHtml(result)
    assert.doesNotMatch(out, /NaN|Infinity|undefined/)
    assert.match(out, /<g class="slo"/)
    assert.match(out, /<td>failed: exited with code 1<\/td>/)
    assert.doesNotMatch(renderTuneText(result), /NaN|Infinity|undefined|Traceback/)
  })

  test('without a recommendation the page shows the closest candidates', () => {
    const result = fixture()
    result.recommendation = null
    result.bestFailing = [result.candidates[1]]
    const out = renderTuneHtml(result)
    assert.match(out, /No candidate meets p99 ≤ 100 ms/)
    assert.match(out, /<li>1 × 16: p99 160\.0 ms at 75 req\/s<\/li>/)
    assert.doesNotMatch(out, /data-verification/)
  })
})
