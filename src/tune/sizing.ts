// From one replica's measured capacity to the four numbers of mlserve.yaml.
// - min_replicas = ceil(peak / (capacity × utilization)): utilization is the
//   headroom (SageMaker starts at 0.5, Knative targets 0.7), because queueing
//   delay grows fast as utilization nears 1.
// - max_replica_concurrency: a queued request must still meet the SLO, so the
//   queue holds about capacity × (SLO − service time) requests beyond the
//   processes × threads running.
// - target_replica_concurrency: by Little's law, requests in flight = arrival
//   rate × time in system; at the target utilization a replica holds about
//   capacity × utilization × service time.
import type {CandidateResult, Recommendation, TuneConstraints} from './types.js'

/** An AWS API Gateway stops waiting at 29 s. */
export const API_GATEWAY_TIMEOUT_MS = 29_000

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})

export function recommend(best: CandidateResult, constraints: TuneConstraints): Recommendation {
  const measured = best.capacity!
  const capacity = measured.capacity
  const slots = best.processes * best.threads
  const serviceS = measured.serviceTimeMs / 1000
  const sloS = constraints.sloP99Ms / 1000
  const perReplicaRate = capacity * constraints.utilization

  const minReplicas = Math.max(1, Math.ceil(constraints.peakRps / perReplicaRate))
  const queue = Math.max(0, Math.floor(capacity * Math.max(0, sloS - serviceS)))
  const maxReplicaConcurrency = slots + queue
  const inFlight = perReplicaRate * serviceS
  const target = Math.min(maxReplicaConcurrency, Math.max(0.1, Math.round(inFlight * 10) / 10))

  const sentence =
    `Use processes_per_replica: ${best.processes} and threads_per_process: ${best.threads}, with max_replica_concurrency: ${maxReplicaConcurrency}, ` +
    `target_replica_concurrency: ${target} and min_replicas: ${minReplicas}: one replica sustains ${fmt(capacity)} req/s at p99 ≤ ${fmt(constraints.sloP99Ms)} ms, ` +
    `so ${minReplicas} replica${minReplicas === 1 ? '' : 's'} serve${minReplicas === 1 ? 's' : ''} a peak of ${fmt(constraints.peakRps)} req/s at ${fmt(constraints.utilization * 100)}% utilization.`

  const reasoning =
    `One replica of ${best.processes} process${best.processes === 1 ? '' : 'es'} × ${best.threads} thread${best.threads === 1 ? '' : 's'} sustained ${fmt(capacity)} req/s ` +
    `with p99 ${fmt(measured.p99Ms, 1)} ms (SLO ${fmt(constraints.sloP99Ms)} ms) and a service time of ${fmt(measured.serviceTimeMs, 1)} ms. ` +
    `Keeping ${fmt((1 - constraints.utilization) * 100)}% headroom, a replica should take at most ${fmt(perReplicaRate)} req/s, ` +
    `so a peak of ${fmt(constraints.peakRps)} req/s needs ceil(${fmt(constraints.peakRps)} / ${fmt(perReplicaRate)}) = ${minReplicas} replica${minReplicas === 1 ? '' : 's'}. ` +
    `By Little's law (in flight = arrival rate × time in system), ${fmt(perReplicaRate)} req/s × ${fmt(measured.serviceTimeMs, 1)} ms ≈ ${fmt(inFlight, 1)} requests in flight per replica at that load: the autoscaling target. ` +
    `A queued request still meets the SLO while at most ${fmt(capacity)} req/s × (${fmt(constraints.sloP99Ms)} − ${fmt(measured.serviceTimeMs, 1)}) ms ≈ ${queue} requests wait beyond the ${slots} running, ` +
    `so max_replica_concurrency = ${slots} + ${queue} = ${maxReplicaConcurrency}; past it the replica sheds with 503, and clients should retry.`

  return {
    processes_per_replica: best.processes,
    threads_per_process: best.threads,
    max_replica_concurrency: maxReplicaConcurrency,
    target_replica_concurrency: target,
    min_replicas: minReplicas,
    capacity,
    sentence,
    reasoning,
  }
}

/** Memory check: a replica of this candidate must fit in compute.mem. */
export function fitsMemory(replicaMiB: number, memLimitBytes: number | null): boolean {
  return memLimitBytes === null || replicaMiB * 1024 * 1024 <= memLimitBytes
}

/** Warnings about the recommendation and the candidates, in words a user acts on. */
export function tuneWarnings(results: CandidateResult[], best: CandidateResult | null, constraints: TuneConstraints): string[] {
  const warnings: string[] = []
  if (!best) {
    warnings.push(`No candidate meets p99 ≤ ${fmt(constraints.sloP99Ms)} ms with errors under 0.1%; the closest are listed. Relax the SLO, make the predictor faster, or give it more CPU.`)
  }
  const worstP99 = best?.capacity ? best.capacity.p99Ms : Math.min(...results.map((r) => r.capacity?.p99Ms ?? Infinity))
  if (constraints.sloP99Ms >= API_GATEWAY_TIMEOUT_MS * 0.8 || (Number.isFinite(worstP99) && worstP99 >= API_GATEWAY_TIMEOUT_MS * 0.8)) {
    warnings.push(`p99 approaches the 29 s timeout of an API gateway (such as AWS API Gateway): requests near it will be cut off. Aim for a p99 well under 29 s.`)
  }
  for (const r of results.filter((x) => x.status === 'infeasible-memory')) {
    warnings.push(
      `${r.processes} × ${r.threads} needs about ${fmt(r.memory!.replicaMiB)} MiB per replica (${fmt(r.memory!.perProcessMiB)} MiB per process), more than compute.mem allows; it was not considered.`,
    )
  }
  for (const r of results.filter((x) => x.capacity && x.capacity.sweep.some((p) => !p.stable))) {
    warnings.push(`${r.processes} × ${r.threads}: some measurements did not settle within 10% after 10 windows; treat its figures as rough.`)
  }
  return warnings
}
