// `mlserve tune`: for each candidate, start one replica (min = max = 1) pinned
// to CPUs of its own, find its capacity at steady state (capacity.ts), measure
// it at the load it would be given, record its memory and stop it; then pick
// the candidate that serves the peak at the least cost, size the deployment,
// and prove it by running it (verify.ts). The load generator and the gateway
// run on the CPUs the replica does not have.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {checkRunnable, parseCpuMillicores, parseMemoryBytes, selectApi, type Project} from '../config/index.js'
import {loadRequestSource, runClosedLoop, runOpenLoop, type LoadResult, type RequestSource} from '../loadtest/index.js'
import {availableCpus, pinProcess, splitCpus, startReplicaUnderTest, type ReplicaUnderTest} from '../runtime/index.js'
import {batchValues, withBatching} from './batching.js'
import {blasCandidates} from './blas.js'
import {findCapacity, passes, type ClosedLoopMeasure, type OpenWindow} from './capacity.js'
import {DEFAULT_THREADS, defaultProcesses} from './grid.js'
import {exhaustiveSearch, pickCheapest, quickSearch, score} from './search.js'
import {blasEnv, candidateCost, DEFAULT_PRICES, fitsMemory, recommend, tuneWarnings, type SizingContext} from './sizing.js'
import {candidateKey, candidateLabel, type Candidate, type CandidateResult, type Placement, type PlateauPoint, type Prices, type RateWindow, type Recommendation, type TuneConstraints, type TuneResult, type WindowPlan} from './types.js'
import {generatorHealth as health} from './generator.js'
import {verifyRecommendation} from './verify.js'
import {planWindow, settleSeconds, windowSeconds} from './window.js'

export interface TuneOptions {
  /** The project, as the command loaded it. */
  project: Project
  api?: string
  sloP99Ms: number
  peakRps: number
  utilization: number
  search: 'quick' | 'exhaustive'
  /** Default: 1–3 processes per CPU of compute.cpu. */
  processes?: number[]
  /** Default: 1, 2, 4, 8, 16, 32. */
  threads?: number[]
  /** Sweep BLAS/OpenMP threads where the predictor imports numpy, torch or the like (default true). */
  sweepBlas?: boolean
  /** Sweep server-side batching even where the config does not turn it on (--batch). */
  sweepBatch?: boolean
  /** --data as for loadtest; default the project's payloads/ directory, else {}. */
  data?: string
  /** The shortest counted window. */
  windowMs: number
  /** The fewest requests a counted window holds. */
  windowRequests: number
  warmupMs: number
  /** The highest closed-loop concurrency the plateau sweep tries. */
  maxConcurrency: number
  readinessTimeoutMs: number
  /** Bisection stops when the gap between a failing and a passing rate is under this share. */
  resolution?: number
  /** Windows at the capacity in all, for the noise (default 3). */
  repeats?: number
  /** Run the pick as `mlserve run` would and drive it at its per-replica rate (default true). */
  verify: boolean
  verifyDurationMs: number
  /** Prices; default weights rank candidates without dollars. */
  prices?: Prices
  /** Pin the replica and this process to CPUs of their own (default true). */
  pin?: boolean
  signal?: AbortSignal
  onProgress?: (progress: TuneProgress) => void
  /** Replica output (shown when a candidate fails to start) and notes. */
  log?: (line: string) => void
}

export type TunePhase = 'starting' | 'warmup' | 'plateau' | 'bisect' | 'repeat' | 'operating' | 'done' | 'verify'

export interface TuneProgress {
  candidate: Candidate
  /** 1-based number of this candidate, and how many at most it measures. */
  index: number
  upTo: number
  phase: TunePhase
  plateau?: PlateauPoint
  window?: RateWindow
  /** Seconds left, from the candidates measured so far (null before the first one ends). */
  etaS: number | null
  result?: CandidateResult
  /** The verification's rate and, once done, its outcome. */
  verify?: {rate: number; passed?: boolean}
}

/** No shedding while measuring: the queue, not 503s, must show where latency goes. */
const NO_SHEDDING = 1_000_000
const VERIFY_STEP_DOWN = 0.85
const VERIFY_TRIES = 3

export async function tune(options: TuneOptions): Promise<TuneResult> {
  const started = Date.now()
  const {project} = options
  const log = options.log ?? (() => undefined)
  const api = selectApi(project, options.api)
  const cpuMillicores = api.compute.cpu === null || api.compute.cpu === undefined ? null : parseCpuMillicores(api.compute.cpu)
  const placement = placeReplica(cpuMillicores, options.pin !== false)
  if (placement.generatorCpus.length > 0 && options.pin !== false) await pinProcess(process.pid, placement.generatorCpus)

  const processes = options.processes ?? defaultProcesses(cpuMillicores)
  const threads = options.threads ?? DEFAULT_THREADS
  const {predictorPath} = checkRunnable(project, api)
  const blas = blasCandidates({predictorPath: predictorPath ?? null, env: api.predictor.env ?? {}, cpus: placement.replicaCpus.length, sweep: options.sweepBlas})
  if (blas.library) log(`The predictor imports ${blas.library}: sweeping BLAS/OpenMP threads per process (${blas.values.map((b) => b ?? 'default').join(', ')}).`)
  const constraints: TuneConstraints = {
    sloP99Ms: options.sloP99Ms,
    peakRps: options.peakRps,
    utilization: options.utilization,
    memLimitBytes: api.compute.mem ? parseMemoryBytes(api.compute.mem) : null,
  }
  const prices = options.prices ?? DEFAULT_PRICES
  const window = planWindow({minSeconds: options.windowMs / 1000, minRequests: options.windowRequests, sloP99Ms: options.sloP99Ms})
  const request = await loadRequestSource({data: options.data ?? defaultData(project.dir), defaultBody: '{}'})
  const aborted = (): boolean => options.signal?.aborted ?? false
  const costContext = {constraints, placement, prices}

  const gridSize = processes.length * threads.length * blas.values.length
  let measured = 0
  let measuringS = 0
  const measure = async (candidate: Candidate): Promise<CandidateResult> => {
    measured++
    const upTo = options.search === 'exhaustive' ? gridSize : Math.max(measured, Math.min(gridSize, processes.length + threads.length + blas.values.length))
    const progress = (phase: TunePhase, extra: Partial<TuneProgress> = {}): void => {
      // Before this candidate is done, it is among those left; once done, measuringS includes it.
      const done = phase === 'done' ? measured : measured - 1
      const avg = done > 0 ? measuringS / done : null
      options.onProgress?.({candidate, index: measured, upTo, phase, etaS: avg === null ? null : Math.round(avg * (upTo - done)), ...extra})
    }
    const t0 = Date.now()
    const result = await measureCandidate(candidate, {project, api: api.name, request, options, constraints, placement, window, progress, aborted})
    result.cost = result.status === 'ok' ? candidateCost(result, costContext) : null
    measuringS += (Date.now() - t0) / 1000
    progress('done', {result})
    return result
  }

  const search = options.search === 'exhaustive' ? exhaustiveSearch : quickSearch
  const candidates = await search(measure, {processes, threads, blasThreads: blas.values, aborted})
  // Batching, from the best candidate so far: Cortex's rule needs its throughput.
  const base = candidates.filter((c) => score(c) > 0).reduce<CandidateResult | null>((a, b) => (a === null || score(b) > score(a) ? b : a), null)
  const batches = base ? batchValues(api.predictor.server_side_batching, options.sweepBatch === true, score(base)) : []
  if (batches.length > 0 && base) log(`Sweeping server-side batching from ${candidateLabel(base)}: ${batches.map((b) => `${b.maxBatchSize} / ${b.intervalMs} ms`).join(', ')}.`)
  for (const batch of batches) {
    if (aborted()) break
    const candidate = withBatching(base!, batch)
    if (!candidates.some((c) => candidateKey(c) === candidateKey(candidate))) candidates.push(await measure(candidate))
  }
  const {pick, alternative} = pickCheapest(candidates, (r, factor) => candidateCost(r, costContext, factor))
  const warnings = tuneWarnings(candidates, pick, constraints, placement)

  let recommendation: Recommendation | null = null
  let failedVerification: Recommendation | null = null
  if (pick) {
    const sizing: SizingContext = {
      ...costContext,
      alternative,
      operating: pick.capacity!.windows.find((w) => w.phase === 'operating') ?? null,
    }
    recommendation = recommend(pick, sizing)
    if (options.verify && !aborted()) {
      const verified = await verifyPick(recommendation, pick, sizing, {options, project, api: api.name, request, placement, window, warnings, aborted, measured})
      recommendation = verified.held ? verified.rec : null
      failedVerification = verified.held ? null : verified.rec
    }
  }
  const bestFailing = pick
    ? []
    : candidates
        .filter((c) => c.capacity && c.status === 'fails-slo')
        .sort((a, b) => lightestP99(a) - lightestP99(b))
        .slice(0, 3)
  if (aborted()) warnings.unshift(`Stopped early: ${candidates.length} candidate(s) measured; the recommendation covers only those.`)
  return {
    api: api.name,
    file: project.file,
    constraints,
    search: options.search,
    grid: {processes, threads, blasThreads: blas.values, batches},
    window,
    placement,
    prices,
    candidates,
    recommendation,
    failedVerification,
    bestFailing,
    warnings,
    durationS: (Date.now() - started) / 1000,
    aborted: aborted(),
    wrote: null,
    writes: [],
  }
}

/** p99 at the lightest load measured: the lowest-rate window, or one request at a time where no window ran. */
const lightestP99 = (c: CandidateResult): number => {
  const cap = c.capacity!
  if (cap.windows.length > 0) return cap.windows.reduce((a, b) => (b.rate < a.rate ? b : a)).p99Ms
  return Math.min(...cap.plateau.map((p) => p.p99Ms))
}

/** The replica gets compute.cpu CPUs of its own; the rest (at least one) run the gateway and the load generator. */
export function placeReplica(cpuMillicores: number | null, pin: boolean): Placement {
  const cpu = Math.max(1, Math.ceil((cpuMillicores ?? 1000) / 1000))
  const available = availableCpus()
  if (!pin) {
    return {cpu, replicaCpus: available, generatorCpus: available, fits: false, note: `Not pinned (--no-pin): the replica, the gateway and the load generator share ${available.length} CPU(s), so the figures include their contention.`}
  }
  const split = splitCpus(available, cpu)
  if (split.fits) {
    return {cpu, replicaCpus: split.replica, generatorCpus: split.rest, fits: true, note: `The replica ran on CPU ${split.replica.join(',')} (compute.cpu ${cpu}); the gateway and the load generator on CPU ${split.rest.join(',')}.`}
  }
  // Too small: keep one CPU for the generator where there are two, and project to compute.cpu from CPU time.
  const replicaCpus = available.length > 1 ? available.slice(1) : available
  const generatorCpus = available.length > 1 ? available.slice(0, 1) : available
  return {
    cpu,
    replicaCpus,
    generatorCpus,
    fits: false,
    note:
      `This machine has ${available.length} CPU(s), fewer than compute.cpu (${cpu}) + 1 for the load generator: the replica was measured on ${replicaCpus.length} CPU(s)` +
      (available.length > 1 ? '' : ' shared with the gateway and the generator') +
      `. Capacities for compute.cpu ${cpu} are projected from CPU time per request, and only for CPU-bound candidates; they are labelled as projections.`,
  }
}

interface CandidateContext {
  project: Project
  api: string
  request: RequestSource
  options: TuneOptions
  constraints: TuneConstraints
  placement: Placement
  window: WindowPlan
  progress: (phase: TunePhase, extra?: Partial<TuneProgress>) => void
  aborted: () => boolean
}

/** One open-loop window, with the replica's CPU use over it. */
async function openWindow(runtime: ReplicaUnderTest, rate: number, ctx: {request: RequestSource; window: WindowPlan; plateau: number; cpus: number; hostCpus: number; sloP99Ms: number; signal?: AbortSignal; durationMs?: number}): Promise<OpenWindow> {
  const cpu0 = await runtime.cpuSeconds()
  const host0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const run = await runOpenLoop({
    url: runtime.url,
    rate,
    arrival: 'poisson',
    durationMs: ctx.durationMs ?? windowSeconds(ctx.window, rate) * 1000,
    warmupMs: settleSeconds(ctx.window, rate, ctx.plateau) * 1000,
    request: ctx.request,
    maxConnections: 4096,
    signal: ctx.signal,
  })
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9
  const host = process.cpuUsage(host0)
  const cpu1 = await runtime.cpuSeconds()
  const hostCpuUtilization = wallS > 0 ? (host.user + host.system) / 1e6 / (wallS * Math.max(1, ctx.hostCpus)) : null
  return {
    rate,
    throughput: run.throughput,
    meanMs: run.latencyMs.mean,
    p50Ms: run.latencyMs.p50,
    p99Ms: run.latencyMs.p99,
    failedShare: run.errorRate,
    requests: run.requests.total,
    durationS: run.durationS,
    meanInFlight: (run.throughput * run.latencyMs.mean) / 1000,
    cpuUtilization: cpu0 !== null && cpu1 !== null && wallS > 0 ? (cpu1 - cpu0) / (wallS * ctx.cpus) : null,
    generator: health(run, ctx.sloP99Ms, hostCpuUtilization),
  }
}

async function measureCandidate(candidate: Candidate, ctx: CandidateContext): Promise<CandidateResult> {
  const started = Date.now()
  const {options} = ctx
  const slots = candidate.processes * candidate.threads
  const elapsed = (): number => (Date.now() - started) / 1000
  const logs: string[] = []
  let runtime: ReplicaUnderTest | null = null
  const base = {...candidate, cost: null}
  ctx.progress('starting')
  try {
    runtime = await startReplicaUnderTest(ctx.project, {
      api: ctx.api,
      readinessTimeoutMs: options.readinessTimeoutMs,
      cpus: options.pin === false ? undefined : ctx.placement.replicaCpus,
      overrides: {processes: candidate.processes, threads: candidate.threads, maxReplicaConcurrency: NO_SHEDDING, env: blasEnv(candidate.blasThreads), batching: candidate.batch ?? undefined},
      log: (line) => {
        logs.push(line)
        if (logs.length > 40) logs.shift()
      },
    })
  } catch (error) {
    options.log?.(logs.join('\n'))
    return {...base, status: 'failed', capacity: null, memory: null, durationS: elapsed(), error: (error as Error).message}
  }
  try {
    const replica = runtime
    ctx.progress('warmup')
    await runClosedLoop({url: replica.url, connections: slots, durationMs: options.warmupMs, request: ctx.request, signal: options.signal})
    const closedMs = Math.max(1000, Math.min(options.windowMs, 3000))
    const cpus = ctx.placement.replicaCpus.length
    let plateau = 0
    const capacity = await findCapacity(
      {
        closedLoop: async (concurrency): Promise<ClosedLoopMeasure> => {
          const run = await runClosedLoop({url: replica.url, connections: concurrency, durationMs: closedMs, warmupMs: 300, request: ctx.request, signal: options.signal})
          return {throughput: run.throughput, meanMs: run.latencyMs.mean, p50Ms: run.latencyMs.p50, p99Ms: run.latencyMs.p99, generator: health(run, ctx.constraints.sloP99Ms)}
        },
        openLoop: (rate) => openWindow(replica, rate, {request: ctx.request, window: ctx.window, plateau, cpus, hostCpus: ctx.placement.generatorCpus.length, sloP99Ms: ctx.constraints.sloP99Ms, signal: options.signal}),
        onPlateau: (point) => {
          plateau = Math.max(plateau, point.throughput)
          ctx.progress('plateau', {plateau: point})
        },
        onWindow: (window) => ctx.progress(window.phase === 'repeat' ? 'repeat' : 'bisect', {window}),
        aborted: ctx.aborted,
      },
      {
        sloP99Ms: ctx.constraints.sloP99Ms,
        slots,
        maxConcurrency: options.maxConcurrency,
        resolution: options.resolution ?? 0.05,
        repeats: options.repeats ?? 3,
        patience: options.search === 'exhaustive' ? 2 : 1,
      },
    )
    // The load it would be given: the mean time in system there is Little's law's W.
    if (capacity.meetsSlo && !ctx.aborted()) {
      const rate = capacity.capacity * ctx.constraints.utilization
      const open = await openWindow(replica, rate, {request: ctx.request, window: ctx.window, plateau, cpus, hostCpus: ctx.placement.generatorCpus.length, sloP99Ms: ctx.constraints.sloP99Ms, signal: options.signal})
      const operating: RateWindow = {...open, phase: 'operating', passes: passes(open, ctx.constraints.sloP99Ms)}
      capacity.windows.push(operating)
      ctx.progress('operating', {window: operating})
    }
    const memory = await replica.memory()
    const memoryUse = memory ? {perProcessMiB: memory.perProcessBytes / 2 ** 20, replicaMiB: memory.totalBytes / 2 ** 20} : null
    let status: CandidateResult['status'] = capacity.meetsSlo ? 'ok' : 'fails-slo'
    if (status === 'ok' && capacity.generatorSaturated) status = 'generator-saturated'
    if (memoryUse && !fitsMemory(memoryUse.replicaMiB, ctx.constraints.memLimitBytes)) status = 'infeasible-memory'
    if (ctx.aborted() && score({...base, status, capacity, memory: memoryUse, durationS: 0}) === 0) status = 'aborted'
    return {...base, status, capacity, memory: memoryUse, durationS: elapsed()}
  } catch (error) {
    return {...base, status: ctx.aborted() ? 'aborted' : 'failed', capacity: null, memory: null, durationS: elapsed(), error: (error as Error).message}
  } finally {
    await runtime.stop({drain: false})
  }
}

interface VerifyContext {
  options: TuneOptions
  project: Project
  api: string
  request: RequestSource
  placement: Placement
  window: WindowPlan
  warnings: string[]
  aborted: () => boolean
  measured: number
}

/** Verifies the pick; after a failure steps the per-replica rate down and verifies again. `held` is false when it never held. */
async function verifyPick(first: Recommendation, pick: CandidateResult, sizing: SizingContext, ctx: VerifyContext): Promise<{rec: Recommendation; held: boolean}> {
  let rec = first
  const verifications: Recommendation['verifications'] = []
  for (let attempt = 0; attempt < VERIFY_TRIES && !ctx.aborted(); attempt++) {
    const rate = rec.perReplicaRate
    // A projected capacity cannot be driven on the fewer CPUs here: verify the same utilization of the CPUs measured.
    const measuredShare = rec.projected ? pick.capacity!.capacity / rec.capacity : 1
    ctx.options.onProgress?.({candidate: pick, index: ctx.measured, upTo: ctx.measured, phase: 'verify', etaS: Math.round(ctx.options.verifyDurationMs / 1000 + ctx.window.settleSeconds), verify: {rate}})
    let verification
    try {
      verification = await verifyRecommendation({
        project: ctx.project,
        api: ctx.api,
        rec,
        rate: rate * measuredShare,
        sloP99Ms: sizing.constraints.sloP99Ms,
        durationMs: ctx.options.verifyDurationMs,
        settleMs: ctx.window.settleSeconds * 1000,
        request: ctx.request,
        replicaCpus: ctx.options.pin === false ? null : ctx.placement.replicaCpus,
        allCpus: [...new Set([...ctx.placement.replicaCpus, ...ctx.placement.generatorCpus])].sort((a, b) => a - b),
        readinessTimeoutMs: ctx.options.readinessTimeoutMs,
        signal: ctx.options.signal,
        log: ctx.options.log ?? (() => undefined),
      })
    } catch (error) {
      ctx.warnings.push(`Verification could not run: ${(error as Error).message}. The recommendation is unverified.`)
      return {rec: recommend(pick, sizing, rate, verifications), held: true}
    }
    verifications.push(verification)
    ctx.options.onProgress?.({candidate: pick, index: ctx.measured, upTo: ctx.measured, phase: 'verify', etaS: null, verify: {rate, passed: verification.passed}})
    if (verification.passed) return {rec: recommend(pick, sizing, rate, verifications), held: true}
    const next = rate * VERIFY_STEP_DOWN
    ctx.warnings.push(`Verification failed at ${Math.round(rate)} req/s per replica (${verification.failures.join('; ')}); stepping down to ${Math.round(next)} req/s.`)
    rec = recommend(pick, sizing, next, verifications)
  }
  // Stopped after a failed run: the stepped-down rate was never verified, and the failed one did not hold.
  if (ctx.aborted()) return {rec: recommend(pick, sizing, rec.perReplicaRate, verifications), held: verifications.every((v) => v.passed)}
  ctx.warnings.push(`No recommendation: ${candidateLabel(pick)} failed verification ${verifications.length} times, down to ${Math.round(verifications.at(-1)?.rate ?? 0)} req/s per replica. The measurements did not hold when run; tune on a quieter machine, or with longer windows (--window, --window-requests).`)
  return {rec: recommend(pick, sizing, verifications.at(-1)!.rate, verifications), held: false}
}

function defaultData(dir: string): string | undefined {
  const payloads = join(dir, 'payloads')
  return existsSync(payloads) ? payloads : undefined
}
