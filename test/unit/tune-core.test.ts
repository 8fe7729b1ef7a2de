import {test} from 'node:test'
import assert from 'node:assert/strict'
import {defaultProcesses, gridCandidates} from '../../src/tune/grid.js'
import {isStable, measureStable} from '../../src/tune/stability.js'
import {findCapacity, type CapacityProbe} from '../../src/tune/capacity.js'
import {exhaustiveSearch, pickBest, quickSearch} from '../../src/tune/search.js'
import {recommend, tuneWarnings} from '../../src/tune/sizing.js'
import type {Candidate, CandidateResult, TuneConstraints} from '../../src/tune/types.js'

// A synthetic replica on a 2-core machine, for the search logic only (the
// integration tests measure real predictors). `parallel` is how many requests
// truly run at once for a candidate; latency follows from Little's law.
function model(serviceMs: number, parallel: (c: Candidate) => number): (c: Candidate) => CapacityProbe {
  return (candidate) => {
    const width = parallel(candidate)
    const rate = (width * 1000) / serviceMs
    const at = (concurrency: number) => {
      const throughput = Math.min(concurrency, width) * (1000 / serviceMs)
      const latency = Math.max(serviceMs, (concurrency / rate) * 1000)
      return {throughput, p50Ms: latency, p99Ms: latency * 1.3, errorRate: 0, windows: 3, stable: true}
    }
    return {
      closedLoop: async (c) => at(c),
      openLoop: async (r) => ({throughput: Math.min(r, rate), p99Ms: r <= rate * 0.95 ? serviceMs * 2 : 10_000, errorRate: 0}),
    }
  }
}

const cpuBound = model(2.5, (c) => Math.min(c.processes, 2)) // the GIL: threads add nothing; 2 cores
const ioBound = model(50, (c) => Math.min(c.processes * c.threads, 64))

async function measureWith(probe: (c: Candidate) => CapacityProbe, c: Candidate): Promise<CandidateResult> {
  const capacity = await findCapacity(c, probe(c), {sloP99Ms: 500, patience: 4, maxConcurrency: 1024})
  return {...c, status: capacity.meetsSlo ? 'ok' : 'fails-slo', capacity, memory: null, durationS: 1}
}

test('default grid: 1–3 processes per CPU, threads 1 to 32', () => {
  assert.deepEqual(defaultProcesses(1000), [1, 2, 3])
  assert.deepEqual(defaultProcesses(200), [1, 2, 3])
  assert.deepEqual(defaultProcesses(2000), [2, 4, 6])
  assert.deepEqual(defaultProcesses(null), [1, 2, 3])
  assert.equal(gridCandidates([1, 2], [1, 2, 4]).length, 6)
})

test('stability: the last 3 windows within 10% on throughput and median latency', async () => {
  const w = (throughput: number, p50Ms: number) => ({throughput, p50Ms, p99Ms: p50Ms * 3, errorRate: 0})
  assert.equal(isStable([w(100, 10), w(105, 10.5)]), false, 'needs 3 windows')
  assert.equal(isStable([w(50, 10), w(100, 10), w(105, 10.5), w(98, 10.2)]), true)
  assert.equal(isStable([w(100, 10), w(130, 10), w(100, 10)]), false)
  const values = [w(10, 1), w(50, 5), w(100, 10), w(101, 10), w(99, 10)]
  const m = await measureStable(async () => values.shift()!)
  assert.equal(m.windows, 5)
  assert.equal(m.stable, true)
  assert.equal(Math.round(m.throughput), 100)
  let calls = 0
  const noisy = await measureStable(async () => w(++calls % 2 ? 100 : 200, 10))
  assert.equal(noisy.windows, 10, 'gives up after 10 windows')
  assert.equal(noisy.stable, false)
})

test('capacity: the sweep finds the knee and the open loop confirms it', async () => {
  const result = await findCapacity({processes: 2, threads: 1}, cpuBound({processes: 2, threads: 1}), {sloP99Ms: 500, patience: 4, maxConcurrency: 1024})
  assert.equal(result.meetsSlo, true)
  // The closed loop peaks at 800 req/s; the model's open loop holds up to 0.95 × 800 = 760.
  // 800 fails, the step down to 0.9 × 800 = 720 holds, and the try halfway back up, 760, holds too.
  assert.equal(Math.round(Math.max(...result.sweep.map((p) => p.throughput))), 800)
  assert.equal(Math.round(result.capacity), 760)
  assert.equal(result.confirmation?.rate, 760)
  assert.equal(result.serviceTimeMs, 2.5)
  assert.equal(result.sweep[0].concurrency, 2, 'first at processes × threads')
  assert.equal(result.sweep[1].concurrency, 4, 'then from 2 × processes × threads')
  assert.ok(result.confirmation?.passed)
})

test('capacity: when the try halfway back up fails, the confirmed step down stands', async () => {
  const base = cpuBound({processes: 2, threads: 1})
  const rates: number[] = []
  const probe: CapacityProbe = {
    ...base,
    openLoop: async (r) => {
      rates.push(Math.round(r))
      return {throughput: Math.min(r, 800), p99Ms: r <= 736 ? 5 : 10_000, errorRate: 0}
    },
  }
  const result = await findCapacity({processes: 2, threads: 1}, probe, {sloP99Ms: 500, patience: 4, maxConcurrency: 1024})
  assert.deepEqual(rates, [800, 720, 760])
  assert.equal(Math.round(result.capacity), 720)
  assert.equal(result.confirmation?.passed, true)
})

test('capacity: p99 past the SLO stops the sweep, and a binary search narrows the knee', async () => {
  const probe = ioBound({processes: 1, threads: 4})
  const result = await findCapacity({processes: 1, threads: 4}, probe, {sloP99Ms: 100, patience: 4, maxConcurrency: 1024, confirm: false})
  const failing = result.sweep.filter((p) => !p.passes)
  assert.ok(failing.length >= 1)
  assert.ok(result.sweep.every((p) => p.concurrency <= 16))
  assert.ok(result.sweep.some((p) => p.concurrency > 4 && p.concurrency < 8), 'bisected between 4 and 8')
  assert.equal(Math.round(result.capacity), 80)
})

test('capacity: a candidate that fails the SLO even unloaded has capacity 0', async () => {
  const slow = model(800, () => 1)
  const result = await findCapacity({processes: 1, threads: 1}, slow({processes: 1, threads: 1}), {sloP99Ms: 500, patience: 4, maxConcurrency: 64})
  assert.equal(result.meetsSlo, false)
  assert.equal(result.capacity, 0)
  assert.equal(result.sweep.length, 1)
})

const grid = {processes: [1, 2, 3], threads: [1, 2, 4, 8, 16, 32]}

test('CPU-bound: about one process per core, with 1 thread; quick reaches the exhaustive best in fewer candidates', async () => {
  const exhaustive = await exhaustiveSearch((c) => measureWith(cpuBound, c), grid)
  const quick = await quickSearch((c) => measureWith(cpuBound, c), grid)
  const bestExhaustive = pickBest(exhaustive)!
  const bestQuick = pickBest(quick)!
  assert.deepEqual([bestExhaustive.processes, bestExhaustive.threads], [2, 1])
  assert.deepEqual([bestQuick.processes, bestQuick.threads], [2, 1])
  assert.ok(quick.length < exhaustive.length / 2, `quick measured ${quick.length} of ${exhaustive.length}`)
  assert.ok(bestQuick.capacity!.capacity >= 0.95 * bestExhaustive.capacity!.capacity)
})

test('I/O-bound: threads help a lot', async () => {
  const quick = await quickSearch((c) => measureWith(ioBound, c), grid)
  const exhaustive = await exhaustiveSearch((c) => measureWith(ioBound, c), grid)
  const best = pickBest(quick)!
  assert.ok(best.threads >= 16, `threads ${best.threads}`)
  assert.ok(best.capacity!.capacity >= 0.95 * pickBest(exhaustive)!.capacity!.capacity)
  assert.ok(quick.length < exhaustive.length)
})

test('ties within the noise band go to fewer processes, then fewer threads', () => {
  const r = (processes: number, threads: number, capacity: number): CandidateResult => ({
    processes,
    threads,
    status: 'ok',
    memory: null,
    durationS: 1,
    capacity: {capacity, meetsSlo: true, concurrency: 1, p50Ms: 1, p99Ms: 2, serviceTimeMs: 1, sweep: [], confirmation: null},
  })
  assert.deepEqual(pickBest([r(3, 1, 1000), r(2, 1, 950), r(2, 2, 960), r(1, 1, 500)]), r(2, 1, 950))
  assert.equal(pickBest([]), null)
})

test('sizing: Little\'s law, headroom, and a queue that still meets the SLO', () => {
  const best: CandidateResult = {
    processes: 2,
    threads: 1,
    status: 'ok',
    memory: null,
    durationS: 1,
    capacity: {capacity: 900, meetsSlo: true, concurrency: 8, p50Ms: 5, p99Ms: 40, serviceTimeMs: 2.5, sweep: [], confirmation: null},
  }
  const constraints: TuneConstraints = {sloP99Ms: 500, peakRps: 1800, utilization: 0.7, memLimitBytes: null}
  const rec = recommend(best, constraints)
  assert.equal(rec.min_replicas, 3) // ceil(1800 / 630)
  assert.equal(rec.max_replica_concurrency, 2 + Math.floor(900 * (0.5 - 0.0025))) // 2 running + 447 queued
  assert.equal(rec.target_replica_concurrency, 1.6) // 630 req/s × 2.5 ms
  assert.match(rec.sentence, /processes_per_replica: 2 and threads_per_process: 1/)
  assert.match(rec.reasoning, /Little's law/)
  assert.match(rec.reasoning, /ceil\(1,800 \/ 630\) = 3/)
})

test('warnings: nothing meets the SLO; p99 near the 29 s API gateway timeout', () => {
  const constraints: TuneConstraints = {sloP99Ms: 28_000, peakRps: 10, utilization: 0.7, memLimitBytes: null}
  const warnings = tuneWarnings([], null, constraints)
  assert.ok(warnings.some((w) => /No candidate meets/.test(w)))
  assert.ok(warnings.some((w) => /29 s/.test(w)))
})
