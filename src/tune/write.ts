// Writes a recommendation into the config file, in place: atomically, keeping
// comments, order and every other field (src/config's updateConfigFile). Every
// change is returned with why, so that the command can list them.
import {readFile} from 'node:fs/promises'
import {parse} from 'yaml'
import {parseCpuMillicores, selectApi, updateConfigFile, type ConfigEdit, type Project} from '../config/index.js'
import type {Recommendation, TuneResult} from './types.js'

export type ConfigWrite = TuneResult['writes'][number]

/** The edits for `rec`, each with why; `project` is the file as the command loaded it. */
export function recommendationWrites(project: Project, api: string, rec: Recommendation, explicit: {initReplicas: boolean}): ConfigWrite[] {
  const current = selectApi(project, api)
  const writes: ConfigWrite[] = [
    {path: 'predictor.processes_per_replica', value: rec.processes_per_replica, why: 'the recommended candidate'},
    {path: 'predictor.threads_per_process', value: rec.threads_per_process, why: 'the recommended candidate'},
    ...Object.entries(rec.env).map(([name, value]) => ({path: `predictor.env.${name}`, value, why: 'BLAS/OpenMP threads per process, as measured'})),
    ...(rec.batch
      ? [
          {path: 'predictor.server_side_batching.max_batch_size', value: rec.batch.maxBatchSize, why: "the batch size measured best: about throughput × batch_interval (Cortex's rule)"},
          {path: 'predictor.server_side_batching.batch_interval', value: `${rec.batch.intervalMs}ms`, why: 'the longest a request waits for its batch to fill'},
        ]
      : []),
    {path: 'compute.mem', value: rec.compute.mem, why: "the replica's measured memory (at least per process × processes), plus 25% headroom"},
    {path: 'autoscaling.min_replicas', value: rec.min_replicas, why: `ceil(peak / ${Math.round(rec.perReplicaRate)} req/s per replica)`},
    {path: 'autoscaling.max_replica_concurrency', value: rec.max_replica_concurrency, why: 'running slots plus the queue that still meets the p99 SLO; past it the replica sheds with 503'},
    {path: 'autoscaling.target_replica_concurrency', value: rec.target_replica_concurrency, why: "the mean in flight at the per-replica rate (Little's law): what the autoscaler holds each replica to"},
  ]
  const cpu = current.compute.cpu === null || current.compute.cpu === undefined ? null : parseCpuMillicores(current.compute.cpu)
  if (cpu !== Number(rec.compute.cpu) * 1000) {
    writes.push({path: 'compute.cpu', value: rec.compute.cpu, why: `the whole CPUs the replica was measured on${cpu === null ? '' : ` (it was ${current.compute.cpu})`}`})
  }
  // min_replicas may not pass max_replicas: raise the ceiling with the floor.
  if (current.autoscaling.max_replicas < rec.min_replicas) {
    writes.push({path: 'autoscaling.max_replicas', value: rec.min_replicas, why: 'raised to min_replicas, which may not exceed it'})
  }
  // An init_replicas the file sets below the new floor would fail validation (one it leaves out follows min_replicas).
  if (explicit.initReplicas && current.autoscaling.init_replicas !== undefined && current.autoscaling.init_replicas < rec.min_replicas) {
    writes.push({path: 'autoscaling.init_replicas', value: rec.min_replicas, why: 'the replicas started first may not be fewer than min_replicas'})
  }
  return writes
}

export async function writeRecommendation(project: Project, api: string, rec: Recommendation): Promise<ConfigWrite[]> {
  const writes = recommendationWrites(project, api, rec, {initReplicas: await setsInitReplicas(project.file, api)})
  const edits: ConfigEdit[] = writes.map((w) => ({api, path: w.path.split('.'), value: w.value}))
  await updateConfigFile(project.file, edits)
  return writes
}

/** Whether the file itself sets autoscaling.init_replicas for `api` (the loaded config fills it in from min_replicas). */
async function setsInitReplicas(file: string, api: string): Promise<boolean> {
  const raw = parse(await readFile(file, 'utf8')) as unknown
  const apis = (Array.isArray(raw) ? raw : [raw]) as Array<{name?: unknown; autoscaling?: {init_replicas?: unknown}} | null>
  return apis.some((a) => a?.name === api && a.autoscaling?.init_replicas !== undefined)
}
