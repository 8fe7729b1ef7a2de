// The logic of src/tune on synthetic replicas: the capacity search, the
// cheapest pick, sizing by queueing, projection, windows, BLAS detection and
// what --write changes. The integration tests measure real predictors.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseProject} from '../../src/config/index.js'
import {defaultProcesses, gridCandidates} from '../../src/tune/grid.js'
import {findCapacity, type CapacityProbe, type CapacityOptions, type OpenWindow} from '../../src/tune/capacity.js'
import {exhaustiveSearch, pickCheapest, quickSearch} from '../../src/tune/search.js'
import {candidateCost, DEFAULT_PRICES, recommend, sizingCapacity, tuneWarnings, type SizingContext} from '../../src/tune/sizing.js'
import {blasCandidates, blasLibrary} from '../../src/tune/blas.js'
import {batchValues, withBatching} from '../../src/tune/batching.js'
import {planWindow, windowSeconds} from '../../src/tune/window.js'
import {recommendationWrites} from '../../src/tune/write.js'
import {candidateLabel, type Candidate, type CandidateResult, type Placement, type RateWindow, type TuneConstraints} from '../../src/tune/types.js'

const health = {saturated: false, latePercent: 0, waitedForConnection: 0}

/**
 * A synthetic replica: `width` requests truly run at once, each for
 * `serviceMs`. Open loop: p99 time in system as an M/M/1 queue of that speed,
 * S × ln(100) / (1 − ρ), so the capacity at an SLO is known exactly:
 * ρ* = 1 − S × ln(100) / SLO.
 */
function model(serviceMs: number, width: (c: Candidate) => number, options: {cpuBusy?: number; closedP99?: (c: number) => number} = {}): (c: Candidate) => CapacityProbe {
  return (candidate) => {
    const w = width(candidate)
    const mu = (w * 1000) / serviceMs
    return {
      closedLoop: async (concurrency) => {
        const throughput = Math.min(concurrency, w) * (1000 / serviceMs)
        const latency = Math.max(serviceMs, (concurrency / mu) * 1000)
        return {throughput, meanMs: latency, p50Ms: latency, p99Ms: options.closedP99?.(concurrency) ?? latency * 1.3, generator: health}
      },
      openLoop: async (rate): Promise<OpenWindow> => {
        const rho = rate / mu
        const p99Ms = rho < 1 ? (serviceMs * Math.log(100)) / (1 - rho) : 1e6
        const meanMs = rho < 1 ? serviceMs / (1 - rho) : 1e6
        return {rate, throughput: Math.min(rate, mu), meanMs, p50Ms: meanMs * 0.7, p99Ms, failedShare: 0, requests: 1000, durationS: 5, meanInFlight: (Math.min(rate, mu) * meanMs) / 1000, cpuUtilization: Math.min(1, rho) * (options.cpuBusy ?? 1), generator: health}
      },
    }
  }
}

const options = (slots: number, sloP99Ms = 100): CapacityOptions => ({sloP99Ms, slots, maxConcurrency: 1024, resolution: 0.05, repeats: 3, patience: 1})
const exact = (serviceMs: number, width: number, slo: number): number => ((width * 1000) / serviceMs) * (1 - (serviceMs * Math.log(100)) / slo)

test('default grid: 1–3 processes per CPU, threads 1 to 32', () => {
  assert.deepEqual(defaultProcesses(1000), [1, 2, 3])
  assert.deepEqual(defaultProcesses(200), [1, 2, 3])
  assert.deepEqual(defaultProcesses(2000), [2, 4, 6])
  assert.deepEqual(gridCandidates([1, 2], [1, 2, 4]).length, 6)
})

test('capacity: bisection between a passing and a failing rate lands within the resolution under the true capacity, below the closed-loop plateau', async () => {
  const probe = model(4, () => 1)({processes: 1, threads: 1, blasThreads: null})
  const result = await findCapacity(probe, options(1, 100))
  const truth = exact(4, 1, 100) // 250 req/s × (1 − 0.184) ≈ 204
  assert.ok(result.meetsSlo)
  assert.equal(Math.round(result.upperBound), 250, 'the plateau bounds the search')
  assert.ok(result.capacity <= truth && result.capacity >= truth * 0.95, `capacity ${result.capacity}, truth ${truth}`)
  assert.ok(result.lowestFailingRate! > truth, 'the failing rate lies above the truth')
  assert.equal(result.atCapacity.length, 3, 'the capacity was run three times')
  assert.ok(result.atCapacity.every((w) => w.passes && w.rate === result.capacity))
  assert.ok(result.noise.band > 0 && result.noise.band <= 0.05 + 1e-9, `band ${result.noise.band}`)
  assert.ok(Math.abs(result.utilizationAtCapacity! - result.capacity / 250) < 1e-9, 'utilization at capacity is reported')
  assert.equal(result.serviceTime.concurrency, 1)
})

test('capacity: a repeat that fails at the capacity makes it a failing rate and steps down', async () => {
  const base = model(4, () => 1)({processes: 1, threads: 1, blasThreads: null})
  let repeatsAtTop = 0
  const flaky: CapacityProbe = {
    ...base,
    openLoop: async (rate, phase) => {
      const w = await base.openLoop(rate, phase)
      // The first rate to be repeated fails on its second run: a stall the bisection window missed.
      if (phase === 'repeat' && repeatsAtTop++ === 0) return {...w, p99Ms: 1000}
      return w
    },
  }
  const result = await findCapacity(flaky, options(1, 100))
  const firstRepeated = result.windows.find((w) => w.phase === 'repeat')!.rate
  assert.ok(result.capacity < firstRepeated, `stepped down from ${firstRepeated} to ${result.capacity}`)
  assert.equal(result.lowestFailingRate, firstRepeated)
  assert.ok(result.atCapacity.length >= 3 && result.atCapacity.every((w) => w.passes))
})

test('capacity: a noisy knee where repeats keep failing walks down to a rate that holds, never to 0', async () => {
  const base = model(4, () => 1)({processes: 1, threads: 1, blasThreads: null})
  // Every repeat above 120 req/s fails: far more step-downs than the bisection rounds allow.
  const noisy: CapacityProbe = {
    ...base,
    openLoop: async (rate, phase) => {
      const w = await base.openLoop(rate, phase)
      return phase === 'repeat' && rate > 120 ? {...w, p99Ms: 1000} : w
    },
  }
  const result = await findCapacity(noisy, options(1, 100))
  assert.ok(result.meetsSlo, 'a rate that held every window is found')
  assert.ok(result.capacity <= 120 && result.capacity > 50, `capacity ${result.capacity}`)
  assert.ok(result.atCapacity.length >= 3 && result.atCapacity.every((w) => w.passes))
})

test('capacity: a window whose generator fell behind is run again; a candidate is marked only when it keeps falling behind', async () => {
  const base = model(4, () => 1)({processes: 1, threads: 1, blasThreads: null})
  let saturatedRepeats = 1
  const once: CapacityProbe = {
    ...base,
    openLoop: async (rate, phase) => {
      const w = await base.openLoop(rate, phase)
      return phase === 'repeat' && saturatedRepeats-- > 0 ? {...w, generator: {...w.generator, saturated: true}} : w
    },
  }
  const retried = await findCapacity(once, options(1, 100))
  assert.equal(retried.generatorSaturated, false)
  assert.equal(retried.atCapacity.length, 4, 'three clean windows and the one run again')
  const always: CapacityProbe = {...base, openLoop: async (rate, phase) => {
    const w = await base.openLoop(rate, phase)
    return {...w, generator: {...w.generator, saturated: true}}
  }}
  const marked = await findCapacity(always, options(1, 100))
  assert.equal(marked.generatorSaturated, true)
  assert.equal(marked.atCapacity.length, 5, 'two more tries, then marked')
})

test('capacity: a candidate that fails the SLO even unloaded has capacity 0', async () => {
  const result = await findCapacity(model(800, () => 1)({processes: 1, threads: 1, blasThreads: null}), options(1, 500))
  assert.equal(result.meetsSlo, false)
  assert.equal(result.capacity, 0)
  assert.equal(result.windows.length, 0, 'one request at a time already misses the SLO: no open-loop window is spent')
})

test('capacity: many slots that miss the SLO at full concurrency still get their capacity at fewer in flight', async () => {
  // 32 threads under the GIL: at concurrency 32 every request waits for 31 others, far past the SLO.
  const probe = model(4, () => 1, {closedP99: (c) => c * 4 * 1.3})({processes: 1, threads: 32, blasThreads: null})
  const result = await findCapacity(probe, options(32, 100))
  assert.ok(result.plateau[0].p99Ms > 100, 'the closed loop at 32 in flight misses the SLO')
  assert.ok(result.capacity > exact(4, 1, 100) * 0.9, `capacity ${result.capacity}`)
})

// Candidates for the search: one pinned CPU.
const memory = (c: Candidate) => ({perProcessMiB: 100, replicaMiB: 100 * c.processes + 20})
const placement: Placement = {cpu: 1, replicaCpus: [1], generatorCpus: [0], fits: true, note: 'pinned'}
const constraints: TuneConstraints = {sloP99Ms: 500, peakRps: 1000, utilization: 0.7, memLimitBytes: null}
const ctx = {constraints, placement, prices: DEFAULT_PRICES}

async function measureWith(probe: (c: Candidate) => CapacityProbe, c: Candidate): Promise<CandidateResult> {
  const capacity = await findCapacity(probe(c), {...options(c.processes * c.threads, 500), maxConcurrency: 256})
  const result: CandidateResult = {...c, status: capacity.meetsSlo ? 'ok' : 'fails-slo', capacity, memory: memory(c), cost: null, durationS: 1}
  result.cost = candidateCost(result, ctx)
  return result
}

// On one CPU: processes and threads add nothing to a GIL-bound predictor.
const cpuBound = model(4, () => 1)
const ioBound = model(50, (c) => Math.min(c.processes * c.threads, 64))
const grid = {processes: [1, 2, 3], threads: [1, 2, 4, 8, 16, 32], blasThreads: [null]}
const costAt = (r: CandidateResult, factor: number) => candidateCost(r, ctx, factor)
const capacityOf = (r: CandidateResult | null) => r?.capacity?.capacity ?? 0

test('CPU-bound on one CPU: the cheapest is one process with one thread; quick reaches the exhaustive pick in fewer candidates', async () => {
  const exhaustive = await exhaustiveSearch((c) => measureWith(cpuBound, c), grid)
  const quick = await quickSearch((c) => measureWith(cpuBound, c), grid)
  const e = pickCheapest(exhaustive, costAt).pick!
  const q = pickCheapest(quick, costAt).pick!
  assert.deepEqual([e.processes, e.threads], [1, 1])
  assert.deepEqual([q.processes, q.threads], [1, 1])
  assert.ok(quick.length <= exhaustive.length * 0.3, `quick measured ${quick.length} of ${exhaustive.length}`)
  assert.ok(capacityOf(q) >= 0.95 * capacityOf(e))
})

test('I/O-bound: threads pay, and one process serves a peak that one replica can take', async () => {
  const peak200 = {...ctx, constraints: {...constraints, peakRps: 200}}
  const measure = async (c: Candidate) => {
    const r = await measureWith(ioBound, c)
    r.cost = candidateCost(r, peak200)
    return r
  }
  const quick = await quickSearch(measure, grid)
  const exhaustive = await exhaustiveSearch(measure, grid)
  const at200 = (r: CandidateResult, factor: number) => candidateCost(r, peak200, factor)
  const q = pickCheapest(quick, at200).pick!
  const e = pickCheapest(exhaustive, at200).pick!
  assert.equal(q.processes, 1)
  assert.ok(q.threads >= 16, `threads ${q.threads}`)
  assert.ok(q.cost!.perHour <= e.cost!.perHour * 1.05, 'quick costs no more than exhaustive, within noise')
  assert.ok(capacityOf(q) >= 0.95 * capacityOf(e))
  assert.ok(quick.length < exhaustive.length)
})

const synthetic = (processes: number, threads: number, capacity: number, band = 0.05, memMiB = 100): CandidateResult => {
  const window: RateWindow = {phase: 'repeat', rate: capacity, throughput: capacity, meanMs: 5, p50Ms: 4, p99Ms: 40, failedShare: 0, requests: 1000, durationS: 5, meanInFlight: capacity * 0.005, cpuUtilization: 0.9, generator: health, passes: true}
  const r: CandidateResult = {
    processes,
    threads,
    blasThreads: null,
    status: 'ok',
    memory: {perProcessMiB: memMiB, replicaMiB: memMiB * processes},
    cost: null,
    durationS: 1,
    capacity: {
      capacity,
      meetsSlo: true,
      upperBound: capacity * 1.3,
      plateau: [],
      serviceTime: {concurrency: processes * threads, meanMs: 2.5, p50Ms: 2.4, p99Ms: 4},
      windows: [window, {...window, phase: 'operating', rate: capacity * 0.7, throughput: capacity * 0.7, meanMs: 3}],
      atCapacity: [window, window, window],
      lowestFailingRate: capacity * (1 + band),
      noise: {throughputSpread: 0.01, p99Spread: 0.1, band},
      utilizationAtCapacity: 0.9,
      generatorSaturated: false,
    },
  }
  r.cost = candidateCost(r, ctx)
  return r
}

test('pick: the cheapest for the peak; candidates that could cost as little within their measured noise tie, and a tie goes to fewer processes', () => {
  // 1000 req/s peak: 3 × 1 needs ceil(1000 / 700) = 2 replicas of 300 MiB; 1 × 4 needs 2 of 100 MiB; 1 × 1 needs 3.
  const results = [synthetic(3, 1, 1000), synthetic(1, 4, 980), synthetic(1, 1, 400)]
  const {pick, alternative} = pickCheapest(results, costAt)
  assert.deepEqual([pick!.processes, pick!.threads], [1, 4])
  assert.equal(alternative, null, '3 × 1 is within 1 × 4\'s band of capacity: not shown as an alternative')
  // 1 × 2 at 690 req/s needs 3 replicas; within its 5% band it would need 2, as 1 × 4 does: a tie, and fewer threads win.
  const tie = pickCheapest([synthetic(1, 4, 720), synthetic(1, 2, 690)], costAt)
  assert.deepEqual([tie.pick!.processes, tie.pick!.threads], [1, 2])
  // A clear winner on capacity that costs more is the alternative.
  const alt = pickCheapest([synthetic(4, 1, 2000, 0.05, 4000), synthetic(1, 8, 800)], costAt)
  assert.deepEqual([alt.pick!.processes, alt.pick!.threads], [1, 8])
  assert.deepEqual([alt.alternative!.processes, alt.alternative!.threads], [4, 1])
  assert.equal(pickCheapest([], costAt).pick, null)
})

test("sizing: Little's law with the mean time in system measured at the per-replica rate, a queue from the p99 budget, replicas for the peak", () => {
  const best = synthetic(2, 1, 900)
  const sizing: SizingContext = {...ctx, constraints: {...constraints, peakRps: 1800}, alternative: null, operating: best.capacity!.windows[1]}
  const rec = recommend(best, sizing)
  assert.equal(rec.perReplicaRate, 630)
  assert.equal(rec.min_replicas, 3) // ceil(1800 / 630)
  assert.equal(rec.max_replica_concurrency, 2 + Math.floor(900 * (0.5 - 0.004))) // 2 running + what drains within SLO − p99 service time
  assert.equal(rec.target_replica_concurrency, 1.9) // 630 req/s × 3 ms mean time in system
  assert.equal(rec.compute.cpu, '1')
  assert.equal(rec.compute.mem, '256Mi') // 2 × 100 MiB × 1.25, rounded up to 64 MiB
  assert.equal(rec.projected, false)
  assert.equal(rec.dollars, null, 'no price given, no dollars')
  assert.match(rec.reasoning, /Little's law, 630 req\/s × 3\.0 ms mean time in system/)
  assert.match(rec.reasoning, /ceil\(1,800 \/ 630\) = 3/)
  assert.match(rec.reasoning, /\(500 − 4\.0 ms p99 service time\)/)
  const priced = recommend(best, {...sizing, prices: {source: 'flags', perReplicaHour: 0.1, perCpuHour: 0, perGiBHour: 0}})
  assert.ok(Math.abs(priced.dollars!.perMonthAtPeak - 0.3 * 730) < 1e-9)
  assert.ok(Math.abs(priced.dollars!.per1000Requests - (0.3 / (1800 * 3600)) * 1000) < 1e-12)
  const stepped = recommend(best, sizing, 500)
  assert.equal(stepped.min_replicas, 4)
  assert.match(stepped.reasoning, /stepped down after a failed verification/)
})

test('projection: a machine too small projects a CPU-bound candidate to compute.cpu from CPU time per request, and labels it', () => {
  const small: Placement = {cpu: 4, replicaCpus: [1], generatorCpus: [0], fits: false, note: 'too small'}
  const r = synthetic(1, 1, 200)
  const projected = sizingCapacity(r, small)
  assert.equal(projected.projected, true)
  assert.ok(Math.abs(projected.capacity - 800) < 1e-9, `4 CPUs at 0.9 busy and 4.5 CPU-ms per request: ${projected.capacity}`)
  const rec = recommend(r, {...ctx, placement: small, alternative: null, operating: null})
  assert.match(rec.sentence, /is projected to sustain 800 req\/s/)
  assert.match(rec.reasoning, /This figure is projected, not measured/)
  const ioLike = synthetic(1, 16, 200)
  ioLike.capacity!.utilizationAtCapacity = 0.1
  assert.equal(sizingCapacity(ioLike, small).projected, false, 'not CPU-bound: not projected')
})

test('windows are sized in requests and seconds, with a settling period', () => {
  const plan = planWindow({minSeconds: 5, minRequests: 1000, sloP99Ms: 100})
  assert.equal(plan.settleSeconds, 1)
  assert.equal(windowSeconds(plan, 1000), 5)
  assert.equal(windowSeconds(plan, 100), 10)
  assert.equal(windowSeconds(plan, 1), 60)
  assert.match(plan.reason, /1000 requests/)
  assert.equal(planWindow({minSeconds: 5, minRequests: 1000, sloP99Ms: 500}).settleSeconds, 2)
})

test('BLAS: swept where the predictor imports numpy or torch and its env does not fix the pool', () => {
  assert.equal(blasLibrary('import numpy as np\n'), 'numpy')
  assert.equal(blasLibrary('from torch import nn\n'), 'torch')
  assert.equal(blasLibrary('import json\n# numpy later\n'), null)
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-blas-'))
  try {
    const path = join(dir, 'predictor.py')
    writeFileSync(path, 'import numpy as np\n')
    assert.deepEqual(blasCandidates({predictorPath: path, env: {}, cpus: 2}).values, [1, 2, null])
    assert.deepEqual(blasCandidates({predictorPath: path, env: {}, cpus: 1}).values, [1, null])
    assert.deepEqual(blasCandidates({predictorPath: path, env: {OPENBLAS_NUM_THREADS: '1'}, cpus: 2}).values, [null])
    assert.deepEqual(blasCandidates({predictorPath: path, env: {}, cpus: 2, sweep: false}).values, [null])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test("batching: Cortex's rule from the measured throughput, or the config's own pair halved and doubled; threads hold a full batch", () => {
  assert.deepEqual(batchValues(undefined, false, 300), [], 'not configured, no --batch: not swept')
  assert.deepEqual(batchValues(undefined, true, 300), [
    {maxBatchSize: 3, intervalMs: 10},
    {maxBatchSize: 6, intervalMs: 20},
    {maxBatchSize: 12, intervalMs: 40},
  ])
  assert.deepEqual(batchValues({max_batch_size: 8, batch_interval: '20ms'}, false, 0), [
    {maxBatchSize: 4, intervalMs: 10},
    {maxBatchSize: 16, intervalMs: 40},
  ], 'the configured pair itself is what the other candidates run')
  const c = withBatching({processes: 1, threads: 2, blasThreads: null}, {maxBatchSize: 8, intervalMs: 20})
  assert.equal(c.threads, 8)
  assert.match(candidateLabel(c), /1 × 8, batch 8 \/ 20 ms/)
})

test('--write lists every change with why, init_replicas and max_replicas included', () => {
  const project = parseProject(
    'name: m\nkind: RealtimeAPI\npredictor:\n  type: python\n  path: p.py\ncompute:\n  cpu: 200m\nautoscaling:\n  min_replicas: 1\n  init_replicas: 1\n  max_replicas: 2\n',
    '/tmp/mlserve-write-test/mlserve.yaml',
  )
  const best = synthetic(2, 1, 900)
  best.blasThreads = 1
  const rec = recommend(best, {...ctx, constraints: {...constraints, peakRps: 1800}, alternative: null, operating: null})
  const writes = recommendationWrites(project, 'm', rec, {initReplicas: true})
  assert.ok(!recommendationWrites(project, 'm', rec, {initReplicas: false}).some((w) => w.path === 'autoscaling.init_replicas'), 'an init_replicas the file leaves out follows min_replicas')
  const paths = writes.map((w) => w.path)
  for (const path of ['predictor.processes_per_replica', 'predictor.env.OPENBLAS_NUM_THREADS', 'compute.mem', 'compute.cpu', 'autoscaling.max_replicas', 'autoscaling.init_replicas', 'autoscaling.target_replica_concurrency']) {
    assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`)
  }
  assert.ok(writes.every((w) => w.why.length > 10))
  assert.match(writes.find((w) => w.path === 'compute.cpu')!.why, /it was 200m/)
})

test('warnings: nothing meets the SLO; p99 near the 29 s timeout; a saturated generator; a machine too small', () => {
  const saturated = synthetic(1, 1, 100)
  saturated.status = 'generator-saturated'
  const warnings = tuneWarnings([saturated], null, {...constraints, sloP99Ms: 28_000}, {...placement, fits: false, note: 'This machine has 1 CPU(s)'})
  assert.ok(warnings.some((w) => /No candidate can be recommended: those that meet the SLO were measured by a saturated load generator/.test(w)))
  assert.ok(tuneWarnings([], null, constraints, placement).some((w) => /No candidate meets/.test(w)))
  assert.ok(warnings.some((w) => /29 s/.test(w)))
  assert.ok(warnings.some((w) => /load generator could not keep up/.test(w)))
  assert.ok(warnings.some((w) => /This machine has 1 CPU/.test(w)))
})

test('sizing: a target that would reach max_replica_concurrency is kept below it by more than the upscale tolerance (cortex#933), and the reasoning says so', () => {
  const best = synthetic(2, 1, 900)
  // No queue fits an SLO equal to the p99 service time, so the cap is the 2 running; 630 req/s × 10 ms ≈ 6.3 in flight.
  const operating = {...best.capacity!.windows[1], meanMs: 10}
  const rec = recommend(best, {...ctx, constraints: {...constraints, sloP99Ms: 4}, alternative: null, operating})
  assert.equal(rec.max_replica_concurrency, 2)
  assert.equal(rec.target_replica_concurrency, 1.8)
  assert.ok(rec.max_replica_concurrency / rec.target_replica_concurrency > 1.05, 'a replica full to its cap asks for another')
  assert.match(rec.reasoning, /kept below max_replica_concurrency 2 by more than the 5% upscale tolerance/)
})
