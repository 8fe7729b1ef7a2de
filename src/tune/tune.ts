// `mlserve tune`: for each candidate (processes × threads), start one replica
// (min = max = 1) on a runtime thread of its own, warm it up, find its
// capacity at the SLO, record its memory, stop it; then pick the best and size
// the deployment. The load generator runs on this thread, the gateway and its
// replica elsewhere, so the generator measures the replica and not itself.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {parseCpuMillicores, parseMemoryBytes, selectApi, type Project} from '../config/index.js'
import {loadRequestSource, runClosedLoop, runOpenLoop, type LoadResult, type RequestSource} from '../loadtest/index.js'
import {startReplicaUnderTest, type ReplicaUnderTest} from '../runtime/index.js'
import {findCapacity} from './capacity.js'
import {DEFAULT_THREADS, defaultProcesses} from './grid.js'
import {exhaustiveSearch, pickBest, quickSearch, score} from './search.js'
import {fitsMemory, recommend, tuneWarnings} from './sizing.js'
import {measureStable, type Window} from './stability.js'
import type {Candidate, CandidateResult, SweepPoint, TuneConstraints, TuneResult} from './types.js'

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
  /** --data as for loadtest; default the project's payloads/ directory, else {}. */
  data?: string
  /** Length of one measurement window (at least 1 s and 50 requests, as perf_analyzer measures). */
  windowMs: number
  warmupMs: number
  /** The highest closed-loop concurrency a sweep tries. */
  maxConcurrency: number
  readinessTimeoutMs: number
  signal?: AbortSignal
  onProgress?: (progress: TuneProgress) => void
  /** Replica output (shown when a candidate fails to start). */
  log?: (line: string) => void
}

export interface TuneProgress {
  candidate: Candidate
  /** 1-based number of this candidate, and how many at most remain to measure. */
  index: number
  upTo: number
  phase: 'starting' | 'warmup' | 'service' | 'sweep' | 'bisect' | 'confirm' | 'done'
  point?: SweepPoint
  /** Seconds left, estimated from the candidates measured so far (null before the first one ends). */
  etaS: number | null
  result?: CandidateResult
}

const MIN_WINDOW_REQUESTS = 50
/** No shedding while measuring: the queue, not 503s, must show where latency goes. */
const NO_SHEDDING = 1_000_000

export async function tune(options: TuneOptions): Promise<TuneResult> {
  const started = Date.now()
  const {project} = options
  const api = selectApi(project, options.api)
  const processes = options.processes ?? defaultProcesses(api.compute.cpu === null || api.compute.cpu === undefined ? null : parseCpuMillicores(api.compute.cpu))
  const threads = options.threads ?? DEFAULT_THREADS
  const constraints: TuneConstraints = {
    sloP99Ms: options.sloP99Ms,
    peakRps: options.peakRps,
    utilization: options.utilization,
    memLimitBytes: api.compute.mem ? parseMemoryBytes(api.compute.mem) : null,
  }
  const request = await loadRequestSource({data: options.data ?? defaultData(project.dir), defaultBody: '{}'})
  const aborted = (): boolean => options.signal?.aborted ?? false

  const gridSize = processes.length * threads.length
  let measured = 0
  let measuringS = 0
  const measure = async (candidate: Candidate): Promise<CandidateResult> => {
    measured++
    const upTo = options.search === 'exhaustive' ? gridSize : Math.max(measured, Math.min(gridSize, processes.length + threads.length + 2))
    const progress = (phase: TuneProgress['phase'], extra: Partial<TuneProgress> = {}): void => {
      const avg = measured > 1 ? measuringS / (measured - 1) : null
      options.onProgress?.({candidate, index: measured, upTo, phase, etaS: avg === null ? null : Math.round(avg * (upTo - measured + 1)), ...extra})
    }
    const t0 = Date.now()
    const result = await measureCandidate(candidate, {project, api: api.name, request, options, constraints, progress, aborted})
    measuringS += (Date.now() - t0) / 1000
    progress('done', {result})
    return result
  }

  const search = options.search === 'exhaustive' ? exhaustiveSearch : quickSearch
  const candidates = await search(measure, {processes, threads, aborted})
  const best = pickBest(candidates)
  const recommendation = best ? recommend(best, constraints) : null
  const bestFailing = best
    ? []
    : candidates
        .filter((c) => c.capacity && c.status !== 'failed')
        .sort((a, b) => a.capacity!.p99Ms - b.capacity!.p99Ms)
        .slice(0, 3)
  const warnings = tuneWarnings(candidates, best, constraints)
  if (aborted()) warnings.unshift(`Stopped early: ${candidates.length} candidate(s) measured; the recommendation covers only those.`)
  return {
    api: api.name,
    file: project.file,
    constraints,
    search: options.search,
    grid: {processes, threads},
    candidates,
    recommendation,
    bestFailing,
    warnings,
    durationS: (Date.now() - started) / 1000,
    aborted: aborted(),
    wrote: null,
  }
}

interface CandidateContext {
  /** The project the candidate runs from. */
  project: Project
  api: string
  request: RequestSource
  options: TuneOptions
  constraints: TuneConstraints
  progress: (phase: TuneProgress['phase'], extra?: Partial<TuneProgress>) => void
  aborted: () => boolean
}

async function measureCandidate(candidate: Candidate, ctx: CandidateContext): Promise<CandidateResult> {
  const started = Date.now()
  const {options} = ctx
  const slots = candidate.processes * candidate.threads
  const elapsed = (): number => (Date.now() - started) / 1000
  const logs: string[] = []
  let runtime: ReplicaUnderTest | null = null
  ctx.progress('starting')
  try {
    runtime = await startReplicaUnderTest(ctx.project, {
      api: ctx.api,
      readinessTimeoutMs: options.readinessTimeoutMs,
      overrides: {processes: candidate.processes, threads: candidate.threads, maxReplicaConcurrency: NO_SHEDDING},
      log: (line) => {
        logs.push(line)
        if (logs.length > 40) logs.shift()
      },
    })
  } catch (error) {
    options.log?.(logs.join('\n'))
    return {...candidate, status: 'failed', capacity: null, memory: null, durationS: elapsed(), error: (error as Error).message}
  }
  try {
    const {url} = runtime
    ctx.progress('warmup')
    await runClosedLoop({url, connections: slots, durationMs: options.warmupMs, request: ctx.request, signal: options.signal})
    // Windows last at least windowMs and hold at least 50 requests: slow
    // candidates get longer windows.
    let windowMs = options.windowMs
    const window = async (connections: number): Promise<Window> => {
      const run = await runClosedLoop({url, connections, durationMs: windowMs, request: ctx.request, signal: options.signal})
      if (run.requests.total < MIN_WINDOW_REQUESTS && run.throughput > 0) {
        windowMs = Math.min(10_000, Math.ceil((MIN_WINDOW_REQUESTS / run.throughput) * 1000))
      }
      return asWindow(run)
    }
    const capacity = await findCapacity(
      candidate,
      {
        closedLoop: (concurrency) => measureStable(() => window(concurrency), {minWindows: 3, maxWindows: 10, tolerance: 0.1, signal: options.signal}),
        openLoop: async (rate) => {
          const run = await runOpenLoop({
            url,
            rate,
            arrival: 'poisson',
            durationMs: Math.max(3 * windowMs, 3000),
            request: ctx.request,
            maxConnections: Math.min(options.maxConcurrency, 4096),
            signal: options.signal,
          })
          return {throughput: run.throughput, p99Ms: run.latencyMs.p99, errorRate: run.errorRate}
        },
        onPoint: (point, phase) => ctx.progress(phase, {point}),
        aborted: ctx.aborted,
      },
      {sloP99Ms: ctx.constraints.sloP99Ms, patience: options.search === 'exhaustive' ? 4 : 2, maxConcurrency: options.maxConcurrency},
    )
    const memory = await runtime.memory()
    const memoryUse = memory ? {perProcessMiB: memory.perProcessBytes / 2 ** 20, replicaMiB: memory.totalBytes / 2 ** 20} : null
    let status: CandidateResult['status'] = capacity.meetsSlo ? 'ok' : 'fails-slo'
    if (memoryUse && !fitsMemory(memoryUse.replicaMiB, ctx.constraints.memLimitBytes)) status = 'infeasible-memory'
    if (ctx.aborted() && score({...candidate, status, capacity, memory: memoryUse, durationS: 0}) === 0) status = 'aborted'
    return {...candidate, status, capacity, memory: memoryUse, durationS: elapsed()}
  } catch (error) {
    return {...candidate, status: ctx.aborted() ? 'aborted' : 'failed', capacity: null, memory: null, durationS: elapsed(), error: (error as Error).message}
  } finally {
    await runtime.stop({drain: false})
  }
}

function asWindow(run: LoadResult): Window {
  return {throughput: run.throughput, p50Ms: run.latencyMs.p50, p99Ms: run.latencyMs.p99, errorRate: run.errorRate}
}

function defaultData(dir: string): string | undefined {
  const payloads = join(dir, 'payloads')
  return existsSync(payloads) ? payloads : undefined
}
