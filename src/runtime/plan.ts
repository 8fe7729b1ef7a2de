// From a validated config to what will run: which APIs, how many replicas of
// each, and each replica's spec (interpreter, concurrency, GPUs). Every check
// that can fail before a process starts happens here.
import {existsSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
import {parseDurationMs, realtimeApis, type Project, type RealtimeApiConfig} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {assignGpus, listGpus} from './gpu.js'
import {chooseInterpreter, ensureInterpreter} from './interpreter.js'
import type {ReplicaSpec} from './replica.js'
import {reservedPaths} from './gateway.js'

export interface PlanOptions {
  /** Only these APIs (default: every RealtimeAPI in the file). */
  apis?: string[]
  /** Replicas per API; default autoscaling.min_replicas, as Cortex starts. */
  replicas?: number
  readinessTimeoutMs: number
  maxBodyBytes: number
  /** Replace the config's concurrency settings (tuning measures candidates this way). */
  overrides?: ConcurrencyOverrides
  /** Under the docker driver the image holds the interpreter, so the local one is not checked. */
  driver?: 'process' | 'docker'
}

export interface ConcurrencyOverrides {
  processes?: number
  threads?: number
  maxReplicaConcurrency?: number
}

export interface ApiPlan {
  name: string
  endpoint: string
  maxReplicaConcurrency: number
  replicas: ReplicaSpec[]
}

export interface RuntimePlan {
  project: Project
  apis: ApiPlan[]
}

const SERVED_TYPES = new Set(['python', 'command'])

export async function planRuntime(project: Project, options: PlanOptions): Promise<RuntimePlan> {
  const all = realtimeApis(project)
  let selected = all
  if (options.apis && options.apis.length > 0) {
    selected = options.apis.map((name) => {
      const api = all.find((candidate) => candidate.name === name)
      if (!api) throw mlserveError('MLS_API_NOT_FOUND', {name, file: project.file, available: all.map((a) => a.name)})
      return api
    })
  }
  if (selected.length === 0) {
    throw mlserveError('MLS_API_NOT_FOUND', {name: '(any RealtimeAPI)', file: project.file, available: []})
  }

  const reserved = new Set(reservedPaths())
  const plans: ApiPlan[] = []
  for (const api of selected) {
    const endpoint = api.networking.endpoint
    if (reserved.has(endpoint)) {
      throw mlserveError('MLS_ENDPOINT_RESERVED', {api: api.name, endpoint, reserved: [...reserved]})
    }
    plans.push(await planApi(project, api, options))
  }

  await assignGpuDevices(plans)
  return {project, apis: plans}
}

async function planApi(project: Project, api: RealtimeApiConfig, options: PlanOptions): Promise<ApiPlan> {
  const {predictor} = api
  if (!SERVED_TYPES.has(predictor.type)) {
    throw mlserveError('MLS_PREDICTOR_TYPE_UNSUPPORTED', {api: api.name, type: predictor.type})
  }
  const interpreter = chooseInterpreter(predictor.interpreter)
  let predictorPath: string | undefined
  if (predictor.type === 'python') {
    const path = predictor.path ?? 'predictor.py'
    const absolute = isAbsolute(path) ? path : join(project.dir, path)
    if (!existsSync(absolute)) throw mlserveError('MLS_PREDICTOR_NOT_FOUND', {api: api.name, path: absolute})
    predictorPath = absolute
    if (options.driver !== 'docker') await ensureInterpreter(interpreter, api.name)
  }

  const replicaCount = options.replicas ?? api.autoscaling.min_replicas
  const batching = predictor.server_side_batching
    ? {maxBatchSize: predictor.server_side_batching.max_batch_size, intervalMs: parseDurationMs(predictor.server_side_batching.batch_interval)}
    : undefined
  const replicas: ReplicaSpec[] = Array.from({length: replicaCount}, (_, index) => ({
    api: api.name,
    index,
    kind: predictor.type as 'python' | 'command',
    projectDir: project.dir,
    interpreter,
    predictorPath,
    command: predictor.command,
    predictorConfig: predictor.config ?? {},
    env: predictor.env ?? {},
    processes: options.overrides?.processes ?? predictor.processes_per_replica,
    threads: options.overrides?.threads ?? predictor.threads_per_process,
    batching,
    readinessPath: predictor.type === 'python' ? '/healthz' : predictor.readiness_path ?? '/healthz',
    predictPath: predictor.type === 'python' ? '/predict' : predictor.predict_path ?? '/predict',
    gpus: new Array<string>(api.compute.gpu ?? 0).fill(''),
    readinessTimeoutMs: options.readinessTimeoutMs,
    maxBodyBytes: options.maxBodyBytes,
  }))
  return {
    name: api.name,
    endpoint: api.networking.endpoint,
    maxReplicaConcurrency: options.overrides?.maxReplicaConcurrency ?? api.autoscaling.max_replica_concurrency,
    replicas,
  }
}

/** Replaces each replica's GPU placeholders with devices no other replica has, or fails before anything starts. */
async function assignGpuDevices(plans: ApiPlan[]): Promise<void> {
  const wanting = plans.flatMap((plan) => plan.replicas).filter((replica) => replica.gpus.length > 0)
  if (wanting.length === 0) return
  const counts = wanting.map((replica) => replica.gpus.length)
  const gpus = await listGpus(counts.reduce((sum, n) => sum + n, 0))
  assignGpus(gpus, counts).forEach((devices, i) => {
    wanting[i].gpus = devices
  })
}
