// From a validated config to what will run: which APIs, how many replicas of
// each, and each replica's spec (interpreter, concurrency, GPUs). Every check
// that can fail before a process starts happens here.
import {BATCH_MAX_ITEMS_DEFAULT, checkRunnable, parseDurationMs, parseMemoryBytes, servedApis, trafficSplitters, type AsyncApiConfig, type Project, type ServedApiConfig, type TrafficSplitterConfig} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {assignGpus, listGpus} from './gpu.js'
import {chooseInterpreter, ensureInterpreter} from './interpreter.js'
import type {ReplicaSpec} from './replica.js'
import {codeVersion} from './code-version.js'
import type {DockerPlan} from './docker-replica.js'
import {runtimeDefaults} from './defaults.js'
import {reservedPaths, type BatchSettings, type GatewayLimits, type GatewaySplitter} from './gateway/index.js'
import type {AsyncPlan} from './async/types.js'
import {join} from 'node:path'
import {answersVersion, type CacheConfig} from './gateway/cache.js'
import type {PredictorConfig} from '../config/index.js'
import {autoscalingPlan, type AutoscalingPlan} from './autoscale/settings.js'

export interface PlanOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  /** Only these APIs (default: every API in the file); a TrafficSplitter's name selects it with its APIs. */
  apis?: string[]
  /** A fixed count of replicas per API, with autoscaling off; default autoscaling.init_replicas (itself min_replicas by default), then autoscaled. */
  replicas?: number
  timeoutMs: number
  maxBodyBytes: number
  readinessTimeoutMs: number
  retryAfterSeconds: number
  /** Time allowed for a request's headers (default runtimeDefaults.headersTimeoutMs). */
  headersTimeoutMs?: number
  /** Time allowed for a whole request to arrive (default runtimeDefaults.requestTimeoutMs). */
  requestTimeoutMs?: number
  accessLog: boolean
  /** Announce the runtime for `mlserve status` (default true). */
  announce?: boolean
  /** Replace the config's concurrency settings (tuning measures candidates this way). */
  overrides?: ConcurrencyOverrides
  /** How replicas run: local process groups (default) or containers. Under docker the image holds the interpreter, so the local one is not checked. */
  driver?: 'process' | 'docker'
  /** The image every API runs from (docker driver); default each API's newest build. */
  image?: string
  /** Notes made while planning, such as the image each API runs. */
  log?: (line: string) => void
  /** Pin every replica to these CPUs (affinity; a container's cpuset), so it runs on cores of its own. */
  replicaCpus?: number[]
}

export interface ConcurrencyOverrides {
  processes?: number
  threads?: number
  maxReplicaConcurrency?: number
  /** Environment set over predictor.env (tuning sweeps BLAS/OpenMP threads per process this way). */
  env?: Record<string, string>
  /** Server-side batching other than the config's (tuning sweeps it). */
  batching?: {maxBatchSize: number; intervalMs: number}
}

export interface ApiPlan {
  name: string
  endpoint: string
  maxReplicaConcurrency: number
  replicas: ReplicaSpec[]
  /** The gateway's prediction cache (predictor.cache), or null: none. */
  cache: CacheConfig | null
  /** What the API's answers depend on (its code version, predictor config, env, type, path, command), hashed: a cache holds answers of one version. */
  version: string
  /** Cortex's autoscaling settings (fixed when the plan asked for a count). */
  autoscaling: AutoscalingPlan
  /** For an AsyncAPI: its job queue (the gateway takes jobs at the endpoint instead of passing requests through). */
  async?: AsyncPlan
  /** Its batch endpoint (predictor.batch_endpoint); absent: the defaults. */
  batch?: BatchSettings
}

/** The gateway's limits, and whether it writes an access log. */
export interface GatewayPlan extends GatewayLimits {
  accessLog: boolean
}

/**
 * Everything a runtime will run, as plain data (it crosses to a worker thread
 * by structured clone): the gateway's limits, the driver and its images, and
 * each replica's spec. Made by planRuntime; run by Runtime.start.
 */
export interface RuntimePlan {
  project: {file: string; dir: string}
  gateway: GatewayPlan
  driver: 'process' | 'docker'
  docker: DockerPlan | null
  apis: ApiPlan[]
  /** The TrafficSplitters served, each over APIs of this plan. */
  splitters: GatewaySplitter[]
  /** Paths the gateway keeps, which no endpoint took. */
  reservedPaths: string[]
  announce: boolean
}

export {runtimeDefaults}

/** Checks a project against what a run needs and decides everything that will run, before anything starts. */
export async function planRuntime(project: Project, options: PlanOptions): Promise<RuntimePlan> {
  const all = servedApis(project)
  const allSplitters = trafficSplitters(project)
  let selected = all
  let splitters = allSplitters
  if (options.apis && options.apis.length > 0) {
    const names = new Set<string>()
    splitters = []
    for (const name of options.apis) {
      const splitter = allSplitters.find((candidate) => candidate.name === name)
      if (splitter) {
        splitters.push(splitter)
        for (const entry of splitter.apis) names.add(entry.name)
      } else if (all.some((candidate) => candidate.name === name)) {
        names.add(name)
      } else {
        throw mlserveError('MLS_API_NOT_FOUND', {name, file: project.file, available: [...all, ...allSplitters].map((a) => a.name)})
      }
    }
    selected = all.filter((api) => names.has(api.name))
    // A splitter is served with the APIs it routes to; one whose APIs were all selected by name comes too.
    for (const splitter of allSplitters) {
      if (!splitters.includes(splitter) && splitter.apis.every((entry) => names.has(entry.name))) splitters.push(splitter)
    }
  }
  // A splitter naming an API not in this file (Cortex allowed that; a warning at load) cannot be served here.
  splitters = splitters.filter((splitter) => splitter.apis.every((entry) => selected.some((api) => api.name === entry.name)))
  if (selected.length === 0) {
    throw mlserveError('MLS_API_NOT_FOUND', {name: '(any RealtimeAPI)', file: project.file, available: []})
  }

  const reserved = reservedPaths()
  const plans: ApiPlan[] = []
  for (const api of selected) {
    const endpoint = api.networking.endpoint
    if (reserved.includes(endpoint) || endpoint.startsWith('/traffic/')) {
      throw mlserveError('MLS_ENDPOINT_RESERVED', {api: api.name, endpoint, reserved})
    }
    plans.push(await planApi(project, api, options))
  }
  for (const splitter of splitters) {
    const endpoint = splitter.networking.endpoint
    if (reserved.includes(endpoint) || endpoint.startsWith('/traffic/')) {
      throw mlserveError('MLS_ENDPOINT_RESERVED', {api: splitter.name, endpoint, reserved})
    }
  }

  const driver = options.driver ?? 'process'
  // The docker driver (and dockerode) loads only when it is used. Its checks (engine, images, a GPU
  // runtime) come before the GPUs are counted, so an engine that cannot pass GPUs says so first.
  const docker = driver === 'docker' ? await (await import('./docker-replica.js')).planDocker(project, {image: options.image, apis: plans.map((api) => api.name), log: options.log ?? (() => undefined)}) : null
  await assignGpuDevices(plans)
  const headersTimeoutMs = options.headersTimeoutMs ?? runtimeDefaults.headersTimeoutMs
  return {
    project: {file: project.file, dir: project.dir},
    gateway: {
      host: options.host,
      port: options.port,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: options.maxBodyBytes,
      retryAfterSeconds: options.retryAfterSeconds,
      headersTimeoutMs,
      // Node requires the whole-request deadline to be at least the headers' one.
      requestTimeoutMs: Math.max(headersTimeoutMs, options.requestTimeoutMs ?? runtimeDefaults.requestTimeoutMs),
      accessLog: options.accessLog,
    },
    driver,
    docker,
    apis: plans,
    splitters: splitters.map(splitterPlan),
    reservedPaths: reserved,
    announce: options.announce !== false,
  }
}

function splitterPlan(splitter: TrafficSplitterConfig): GatewaySplitter {
  const shadow = splitter.apis.find((entry) => entry.shadow)
  return {
    name: splitter.name,
    endpoint: splitter.networking.endpoint,
    apis: splitter.apis.filter((entry) => !entry.shadow).map((entry) => ({name: entry.name, weight: entry.weight})),
    // Cortex mirrors weight% of requests to its shadow (its examples give the shadow weight 100); weight 0 there means "not set", so every request.
    shadow: shadow ? {api: shadow.name, percent: shadow.shadow_percent ?? (shadow.weight > 0 ? shadow.weight : 100)} : null,
  }
}

async function planApi(project: Project, api: ServedApiConfig, options: PlanOptions): Promise<ApiPlan> {
  const {predictor} = api
  // The same checks validate makes (src/config/runnable.ts): a served type, an existing predictor file.
  const {predictorPath} = checkRunnable(project, api)
  const interpreter = chooseInterpreter(predictor.interpreter)
  if (predictor.type === 'python' && options.driver !== 'docker') await ensureInterpreter(interpreter, api.name)

  const replicaCount = options.replicas ?? api.autoscaling.init_replicas
  const version = predictor.type === 'python' ? codeVersion(project.dir, predictorPath) : undefined
  const batching = options.overrides?.batching ?? (predictor.server_side_batching
    ? {maxBatchSize: predictor.server_side_batching.max_batch_size, intervalMs: parseDurationMs(predictor.server_side_batching.batch_interval)}
    : undefined)
  const replicas: ReplicaSpec[] = Array.from({length: replicaCount}, (_, index) => ({
    api: api.name,
    index,
    kind: predictor.type as 'python' | 'command',
    projectDir: project.dir,
    interpreter,
    predictorPath,
    command: predictor.command,
    predictorConfig: predictor.config ?? {},
    env: {...predictor.env, ...options.overrides?.env},
    processes: options.overrides?.processes ?? predictor.processes_per_replica,
    threads: options.overrides?.threads ?? predictor.threads_per_process,
    batching,
    readinessPath: predictor.type === 'python' ? '/healthz' : predictor.readiness_path ?? '/healthz',
    predictPath: predictor.type === 'python' ? '/predict' : predictor.predict_path ?? '/predict',
    gpus: new Array<string>(api.compute.gpu ?? 0).fill(''),
    cpus: options.replicaCpus ? [...options.replicaCpus] : null,
    readinessTimeoutMs: options.readinessTimeoutMs,
    maxBodyBytes: options.maxBodyBytes,
    codeVersion: version,
  }))
  return {
    name: api.name,
    endpoint: api.networking.endpoint,
    maxReplicaConcurrency: options.overrides?.maxReplicaConcurrency ?? api.autoscaling.max_replica_concurrency,
    replicas,
    // An AsyncAPI's POST queues a job: there is no answer to cache.
    cache: api.kind === 'AsyncAPI' ? null : cachePlan(predictor.cache),
    version: answersVersion({
      type: predictor.type,
      path: predictorPath,
      command: predictor.command,
      predictPath: predictor.predict_path,
      config: predictor.config ?? {},
      env: {...predictor.env, ...options.overrides?.env},
      codeVersion: version,
    }),
    autoscaling: autoscalingPlan(api.autoscaling, options.replicas),
    batch: {maxItems: predictor.batch_endpoint?.max_items ?? BATCH_MAX_ITEMS_DEFAULT},
    ...(api.kind === 'AsyncAPI' ? {async: asyncPlan(project, api)} : {}),
  }
}

function asyncPlan(project: Project, api: AsyncApiConfig): AsyncPlan {
  const {async: queue} = api
  const webhook = queue.webhook
  return {
    store: queue.store,
    dir: join(project.dir, '.mlserve', 'async', api.name),
    redisUrl: process.env.MLSERVE_REDIS_URL || queue.redis_url,
    resultTtlMs: parseDurationMs(queue.result_ttl),
    leaseMs: parseDurationMs(queue.lease),
    maxRetries: queue.max_retries,
    webhook: webhook ? {url: webhook.url, maxRetries: webhook.max_retries, backoffMs: parseDurationMs(webhook.backoff), timeoutMs: parseDurationMs(webhook.timeout)} : null,
  }
}

function cachePlan(cache: PredictorConfig['cache']): CacheConfig | null {
  if (!cache) return null
  return {maxEntries: cache.max_entries, maxBytes: parseMemoryBytes(cache.max_bytes), ttlMs: parseDurationMs(cache.ttl)}
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
