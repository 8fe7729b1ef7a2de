// From one replica's measured capacity to the numbers of mlserve.yaml, by
// queueing rather than medians:
// - the per-replica rate is capacity × utilization: the headroom absorbs
//   bursts and a lost replica, because queueing delay grows fast near 1;
// - min_replicas = ceil(peak / per-replica rate);
// - target_replica_concurrency is the mean number in the replica at that
//   rate, measured: Little's law, L = λ × W, with W the mean time in system;
// - max_replica_concurrency: a request that finds Q waiting ahead of it waits
//   about Q / X (X the rate the replica drains at) and is then served in up to
//   the p99 service time, so Q ≤ X × (SLO − p99 service time);
// - cost: replicas × (CPUs, memory), memory being measured memory per process
//   × processes, plus headroom.
import type {CandidateCost, CandidateResult, Placement, Prices, Recommendation, RateWindow, TuneConstraints} from './types.js'
import {candidateLabel} from './types.js'
import {plural} from '../plural.js'

/** An AWS API Gateway stops waiting at 29 s. */
export const API_GATEWAY_TIMEOUT_MS = 29_000
/** Memory headroom over what was measured: a model's working set grows with request size and fragmentation. */
export const MEM_HEADROOM = 0.25
/** A candidate is CPU-bound when the replica's CPUs ran at least this busy at capacity: only then is a projection to more CPUs honest. */
export const CPU_BOUND = 0.8
/**
 * Default weights when no price is given: AWS Fargate on-demand in us-east-1
 * (Linux/x86), per vCPU-hour and per GiB-hour. They rank candidates (a CPU
 * costs about nine GiB); dollars are reported only for prices given.
 */
export const DEFAULT_PRICES: Prices = {source: 'default-weights', perReplicaHour: null, perCpuHour: 0.04048, perGiBHour: 0.004445}
const HOURS_PER_MONTH = 730
/** Cortex's default upscale_tolerance (0.05) plus room for rounding the target to a tenth. */
const UPSCALE_TOLERANCE_MARGIN = 0.06

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})

/** The capacity to size from: measured, or projected to compute.cpu where the machine had fewer CPUs and the candidate is CPU-bound. */
export function sizingCapacity(c: CandidateResult, placement: Placement): {capacity: number; projected: boolean; cpuSecondsPerRequest: number | null} {
  const measured = c.capacity!
  const cores = placement.replicaCpus.length
  const u = measured.utilizationAtCapacity
  const cpuSecondsPerRequest = u !== null && measured.capacity > 0 ? (u * cores) / measured.capacity : null
  if (placement.fits || cores >= placement.cpu || u === null || u < CPU_BOUND || cpuSecondsPerRequest === null) {
    return {capacity: measured.capacity, projected: false, cpuSecondsPerRequest}
  }
  // As busy on compute.cpu CPUs as it was on the ones measured.
  return {capacity: (placement.cpu * u) / cpuSecondsPerRequest, projected: true, cpuSecondsPerRequest}
}

export function memoryPerReplicaMiB(c: CandidateResult): number {
  const m = c.memory!
  const measured = Math.max(m.replicaMiB, m.perProcessMiB * c.processes)
  return Math.ceil((measured * (1 + MEM_HEADROOM)) / 64) * 64
}

/** What serving the peak costs with this candidate, its capacity scaled by `factor` (for the noise band). */
export function candidateCost(c: CandidateResult, ctx: {constraints: TuneConstraints; placement: Placement; prices: Prices}, factor = 1, perReplicaRate?: number): CandidateCost | null {
  if (!c.capacity?.meetsSlo || !c.memory) return null
  const rate = perReplicaRate ?? sizingCapacity(c, ctx.placement).capacity * ctx.constraints.utilization * factor
  const replicas = Math.max(1, Math.ceil(ctx.constraints.peakRps / rate))
  const memMiB = memoryPerReplicaMiB(c)
  const perReplicaHour = ctx.prices.perReplicaHour ?? ctx.placement.cpu * ctx.prices.perCpuHour + (memMiB / 1024) * ctx.prices.perGiBHour
  return {perReplicaRate: rate, replicas, cpu: ctx.placement.cpu, memMiB, perHour: replicas * perReplicaHour}
}

export interface SizingContext {
  constraints: TuneConstraints
  placement: Placement
  prices: Prices
  /** The candidate with the most capacity per replica, when it is not this one. */
  alternative: CandidateResult | null
  /** The pick's window at its per-replica rate: Little's law's W. */
  operating: RateWindow | null
}

export function blasEnv(blasThreads: number | null): Record<string, string> {
  if (blasThreads === null) return {}
  const n = String(blasThreads)
  return {OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n}
}

/** The recommendation for `best`; `perReplicaRate` lower than capacity × utilization after a failed verification. */
export function recommend(best: CandidateResult, ctx: SizingContext, perReplicaRate?: number, verifications: Recommendation['verifications'] = []): Recommendation {
  const {constraints, placement} = ctx
  const measured = best.capacity!
  const {capacity, projected, cpuSecondsPerRequest} = sizingCapacity(best, placement)
  const rate = perReplicaRate ?? capacity * constraints.utilization
  const cost = candidateCost(best, ctx, 1, rate)!
  const slots = best.processes * best.threads
  const minReplicas = cost.replicas

  // The rate the replica drains its queue at: what it answered at capacity.
  // Projected to compute.cpu, the replica drains faster in the same proportion.
  const scale = measured.capacity > 0 ? capacity / measured.capacity : 1
  const drain = scale * (measured.atCapacity.length > 0 ? measured.atCapacity.reduce((s, w) => s + w.throughput, 0) / measured.atCapacity.length : measured.capacity)
  const budgetMs = Math.max(0, constraints.sloP99Ms - measured.serviceTime.p99Ms)
  const queue = Math.floor((drain * budgetMs) / 1000)
  const maxReplicaConcurrency = slots + queue

  // Little's law at the per-replica rate, with the mean time in system measured there.
  const meanMs = ctx.operating && ctx.operating.throughput > 0 ? ctx.operating.meanMs : measured.serviceTime.meanMs
  const inFlight = (rate * meanMs) / 1000
  // Below the cap by more than the upscale tolerance (cortex#933): a replica
  // full to its cap must read as more than one replica's worth, or the API
  // could never scale up.
  const targetCeiling = Math.max(0.1, Math.floor((maxReplicaConcurrency / (1 + UPSCALE_TOLERANCE_MARGIN)) * 10) / 10)
  const littles = Math.max(0.1, Math.round(inFlight * 10) / 10)
  const target = Math.min(targetCeiling, littles)

  const dollars =
    ctx.prices.source === 'flags' ? {per1000Requests: (cost.perHour / (constraints.peakRps * 3600)) * 1000, perMonthAtPeak: cost.perHour * HOURS_PER_MONTH} : null
  const alt = ctx.alternative ? candidateCost(ctx.alternative, ctx) : null
  const label = candidateLabel(best)
  const env = blasEnv(best.blasThreads)
  const mem = `${cost.memMiB}Mi`
  const cpu = String(placement.cpu)

  const sentence =
    `Use ${label} (processes_per_replica: ${best.processes}, threads_per_process: ${best.threads}${best.blasThreads === null ? '' : `, BLAS threads ${best.blasThreads}`}) ` +
    `with max_replica_concurrency: ${maxReplicaConcurrency}, target_replica_concurrency: ${target}, min_replicas: ${minReplicas} and compute cpu ${cpu}, mem ${mem}: ` +
    `one replica ${projected ? 'is projected to sustain' : 'sustains'} ${fmt(capacity)} req/s at p99 ≤ ${fmt(constraints.sloP99Ms)} ms with under 0.1% shed and errors, ` +
    `so ${minReplicas === 1 ? `1 replica at ${fmt(rate)} req/s serves` : `${minReplicas} replicas at ${fmt(rate)} req/s each serve`} a peak of ${fmt(constraints.peakRps)} req/s.`

  const window = measured.atCapacity
  const p99s = window.map((w) => w.p99Ms)
  const parts: string[] = []
  parts.push(
    `One replica of ${label} on ${plural(placement.replicaCpus.length, 'CPU')} held p99 ${fmt(Math.min(...p99s), 1)}–${fmt(Math.max(...p99s), 1)} ms (SLO ${fmt(constraints.sloP99Ms)} ms) ` +
      `over ${plural(window.length, 'open-loop window')} at ${fmt(measured.capacity)} req/s` +
      (measured.lowestFailingRate === null
        ? ''
        : measured.lowestFailingRate >= measured.upperBound && !measured.windows.some((w) => w.rate === measured.lowestFailingRate)
          ? `, the last step below the closed-loop plateau, where a queue never settles`
          : `, and missed it at ${fmt(measured.lowestFailingRate)} req/s`) +
      (measured.utilizationAtCapacity !== null ? `; its CPUs were ${fmt(measured.utilizationAtCapacity * 100)}% busy there` : '') +
      ` (the closed-loop plateau, ${fmt(measured.upperBound)} req/s, only bounded the search).`,
  )
  if (projected && cpuSecondsPerRequest !== null) {
    parts.push(
      `Projection: the machine had ${plural(placement.replicaCpus.length, 'CPU')} for the replica, not ${placement.cpu}; at ${fmt(cpuSecondsPerRequest * 1000, 2)} CPU-ms per request and the same ${fmt(measured.utilizationAtCapacity! * 100)}% busy, ` +
        `${placement.cpu} CPUs sustain ${fmt(placement.cpu)} × ${fmt(measured.utilizationAtCapacity!, 2)} / ${fmt(cpuSecondsPerRequest, 5)} ≈ ${fmt(capacity)} req/s. This figure is projected, not measured.`,
    )
  }
  parts.push(
    `Keeping ${fmt((1 - constraints.utilization) * 100)}% headroom, each replica takes ${fmt(rate)} req/s` +
      (perReplicaRate !== undefined && Math.abs(perReplicaRate - capacity * constraints.utilization) > 0.5 ? ` (stepped down after a failed verification)` : '') +
      `, so min_replicas = ceil(${fmt(constraints.peakRps)} / ${fmt(rate)}) = ${minReplicas}.`,
  )
  parts.push(
    `By Little's law, ${fmt(rate)} req/s × ${fmt(meanMs, 1)} ms mean time in system${ctx.operating ? ' (measured at that rate)' : ' (the service time: no window at that rate was measured)'} ≈ ${fmt(inFlight, 1)} in flight per replica: target_replica_concurrency ${target}` +
      (target < littles ? `, kept below max_replica_concurrency ${maxReplicaConcurrency} by more than the 5% upscale tolerance so that a full replica still asks for another (cortex#933).` : '.'),
  )
  parts.push(
    `A queued request still meets the SLO while at most ${fmt(drain)} req/s × (${fmt(constraints.sloP99Ms)} − ${fmt(measured.serviceTime.p99Ms, 1)} ms p99 service time) ≈ ${queue} wait beyond the ${slots} running, ` +
      `so max_replica_concurrency = ${slots} + ${queue} = ${maxReplicaConcurrency}; past it the replica sheds with 503 and Retry-After.`,
  )
  parts.push(
    `Cost: ${plural(minReplicas, 'replica')} × (${fmt(cost.cpu)} CPU, ${fmt(cost.memMiB)} MiB: the replica's ${fmt(Math.max(best.memory!.replicaMiB, best.memory!.perProcessMiB * best.processes))} MiB measured plus ${fmt(MEM_HEADROOM * 100)}%, in 64 MiB steps) ` +
      (ctx.prices.source === 'flags' ? `= $${fmt(cost.perHour, 4)} per hour.` : `ranked by Fargate's ratio of CPU to memory prices (no price was given).`),
  )
  if (ctx.alternative && alt) {
    parts.push(
      `${candidateLabel(ctx.alternative)} has the most capacity per replica (${fmt(sizingCapacity(ctx.alternative, placement).capacity)} req/s) but serves the peak with ${plural(alt.replicas, 'replica')} of ${fmt(alt.memMiB)} MiB, which ` +
        (alt.perHour > cost.perHour * (1 + 1e-9) ? 'costs more.' : 'costs as much within the measured noise, and a tie goes to fewer processes, then fewer threads.'),
    )
  }

  return {
    processes: best.processes,
    threads: best.threads,
    blasThreads: best.blasThreads,
    batch: best.batch ?? null,
    processes_per_replica: best.processes,
    threads_per_process: best.threads,
    max_replica_concurrency: maxReplicaConcurrency,
    target_replica_concurrency: target,
    min_replicas: minReplicas,
    compute: {cpu, mem},
    env,
    capacity,
    perReplicaRate: rate,
    projected,
    cost,
    dollars,
    alternative: ctx.alternative && alt ? {label: candidateLabel(ctx.alternative), capacity: sizingCapacity(ctx.alternative, placement).capacity, cost: alt} : null,
    verifications,
    sentence,
    reasoning: parts.join(' '),
  }
}

/** Memory check: a replica of this candidate must fit in compute.mem. */
export function fitsMemory(replicaMiB: number, memLimitBytes: number | null): boolean {
  return memLimitBytes === null || replicaMiB * 1024 * 1024 <= memLimitBytes
}

/** Warnings about the recommendation and the candidates, in words a user acts on. */
export function tuneWarnings(results: CandidateResult[], best: CandidateResult | null, constraints: TuneConstraints, placement: Placement): string[] {
  const warnings: string[] = []
  if (!placement.fits) warnings.push(placement.note)
  if (!best && results.some((r) => r.capacity?.meetsSlo)) {
    warnings.push(`No candidate can be recommended: those that meet the SLO were measured by a saturated load generator or do not fit compute.mem (below).`)
  } else if (!best) {
    warnings.push(`No candidate meets p99 ≤ ${fmt(constraints.sloP99Ms)} ms with under 0.1% shed and errors; the closest are listed. Relax the SLO, make the predictor faster, or give it more CPU.`)
  }
  const p99s = results.flatMap((r) => r.capacity?.windows.map((w) => w.p99Ms) ?? [])
  if (constraints.sloP99Ms >= API_GATEWAY_TIMEOUT_MS * 0.8 || p99s.some((p) => p >= API_GATEWAY_TIMEOUT_MS * 0.8)) {
    warnings.push(`p99 approaches the 29 s timeout of an API gateway (such as AWS API Gateway): requests near it will be cut off. Aim for a p99 well under 29 s.`)
  }
  for (const r of results.filter((x) => x.status === 'infeasible-memory')) {
    warnings.push(`${candidateLabel(r)} needs about ${fmt(r.memory!.replicaMiB)} MiB per replica (${fmt(r.memory!.perProcessMiB)} MiB per process), more than compute.mem allows; it was not considered.`)
  }
  for (const r of results.filter((x) => x.status === 'generator-saturated')) {
    const host = Math.max(0, ...(r.capacity?.atCapacity ?? []).map((w) => w.generator.hostCpuUtilization ?? 0))
    warnings.push(
      `${candidateLabel(r)}: the load generator could not keep up while measuring its capacity` +
        (host > 0.9 ? ` (with the gateway, it kept CPU ${placement.generatorCpus.join(',')} ${fmt(host * 100)}% busy: a fast predictor on a small machine)` : '') +
        `, so the figure may be the generator's, not the replica's; it was not recommended. Tune on a machine with more CPUs than compute.cpu + 1, or with --no-pin (every CPU shared; the figures then include that contention).`,
    )
  }
  return warnings
}
