// From a validated config to what will run: which APIs, how many replicas of
// each, and each replica's spec (interpreter, concurrency, GPUs). Every check
// that can fail before a process starts happens here.
import {BATCH_MAX_ITEMS_DEFAULT, checkRunnable, parseDurationMs, runProblems, parseMemoryBytes, servedApis, trafficSplitters, type AsyncApiConfig, type Project, type ServedApiConfig, type TrafficSplitterConfig} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {assignGpus, listGpus} from './gpu.js'
import {chooseInterpreter, ensureInterpreter} from './interpreter.js'
import type {ReplicaSpec} from './replica.js'
import {codeVersion} from './code-version.js'
import type {DockerPlan} from './docker-replica.js'
import {runtimeDefaults} from './defaults.js'
import {reservedPaths, type BatchSettings, type GatewayLimits, type GatewaySplitter} from './gateway/index.js'
import type {AsyncPlan} from './async/types.js'
import {existsSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
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
  /**
   * How replicas run: local process groups (default), containers, or elsewhere
   * ('remote': Swarm tasks, a pod's model container), found by `remote.discovery`.
   * Under docker the image holds the interpreter; under remote nothing local
   * is checked (interpreter, predictor files, engine, GPUs), only the config.
   */
  driver?: 'process' | 'docker' | 'remote'
  /** Where the replicas of a 'remote' plan are found; required with that driver. */
  remote?: RemotePlan
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

/**
 * How a gateway of remote replicas finds them:
 * - dns: every intervalMs, `tasks.<service>` (Swarm's name for a service's
 *   tasks, one address each) is resolved; each address serves at `port`;
 * - static: fixed origins (a pod's model container at http://127.0.0.1:8080).
 */
export type Discovery =
  | {kind: 'dns'; services: Record<string /* api */, string /* swarm service name */>; port: number; intervalMs: number}
  | {kind: 'static'; origins: Record<string /* api */, string[] /* http://127.0.0.1:8080 */>}

/** What a plan of driver 'remote' adds: where its replicas are found, and who may change it. */
export interface RemotePlan {
  discovery: Discovery
  /** 'token': the control routes (/traffic…, /apply, /status) answer peers off loopback too when they carry the gateway's token (in a container the host's requests come from the bridge). */
  control: 'token'
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
  /**
   * Cortex's autoscaling settings (fixed when the plan asked for a count).
   * Under the remote driver they are carried for whoever runs the replicas
   * (the Swarm autoscaler, Kubernetes): the gateway itself never scales.
   */
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
  /**
   * Under 'remote', `apis[].replicas` are the planned count's specs (processes,
   * threads, paths on the replica): templates for the replicas discovery
   * finds, and the count an engine starts with.
   */
  driver: 'process' | 'docker' | 'remote'
  docker: DockerPlan | null
  /** Where a 'remote' plan's replicas are found; null under the other drivers. */
  remote: RemotePlan | null
  apis: ApiPlan[]
  /** The TrafficSplitters served, each over APIs of this plan. */
  splitters: GatewaySplitter[]
  /** Paths the gateway keeps, which no endpoint took. */
  reservedPaths: string[]
  announce: boolean
}

export {runtimeDefaults}

/**
 * The plan of a gateway whose replicas run elsewhere (a Swarm service's tasks,
 * a pod's model container): the remote driver with the runtime's default
 * limits, listening on every address, control by token, announced nowhere.
 * Swarm's deploy and the Kubernetes sidecar both plan through it.
 */
export function planRemoteGateway(project: Project, options: {discovery: RemotePlan['discovery']; port: number; apis?: string[]}): Promise<RuntimePlan> {
  return planRuntime(project, {
    driver: 'remote',
    remote: {discovery: options.discovery, control: 'token'},
    ...(options.apis ? {apis: options.apis} : {}),
    host: '0.0.0.0',
    port: options.port,
    timeoutMs: runtimeDefaults.timeoutMs,
    maxBodyBytes: runtimeDefaults.maxBodyBytes,
    readinessTimeoutMs: runtimeDefaults.readinessTimeoutMs,
    retryAfterSeconds: runtimeDefaults.retryAfterSeconds,
    accessLog: false,
    // Its runtime record would name a machine the gateway does not run on.
    announce: false,
  })
}

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
  const remote = driver === 'remote' ? remotePlan(options.remote, plans) : null
  // The docker driver (and dockerode) loads only when it is used. Its checks (engine, images, a GPU
  // runtime) come before the GPUs are counted, so an engine that cannot pass GPUs says so first.
  const docker = driver === 'docker' ? await (await import('./docker-replica.js')).planDocker(project, {image: options.image, apis: plans.map((api) => api.name), log: options.log ?? (() => undefined)}) : null
  // A remote replica's GPUs are the engine's to place (generic resources, nvidia.com/gpu), not this machine's.
  if (driver !== 'remote') await assignGpuDevices(plans)
  const headersTimeoutMs = options.headersTimeoutMs ?? runtimeDefaults.headersTimeoutMs
  const plan: RuntimePlan = {
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
    remote,
    apis: plans,
    splitters: splitters.map(splitterPlan),
    reservedPaths: reserved,
    announce: options.announce !== false,
  }
  // A remote plan travels as JSON (a Swarm config, a ConfigMap): it is made JSON's own here (fields left undefined go),
  // so the gateway reads back exactly what was planned.
  return driver === 'remote' ? (JSON.parse(JSON.stringify(plan)) as RuntimePlan) : plan
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
  // A remote replica's files are in its image, not necessarily here: only the type is checked.
  const remote = options.driver === 'remote'
  const {predictorPath} = remote ? remoteRunnable(project, api) : checkRunnable(project, api)
  const interpreter = chooseInterpreter(predictor.interpreter)
  if (predictor.type === 'python' && options.driver !== 'docker' && !remote) await ensureInterpreter(interpreter, api.name)

  const replicaCount = options.replicas ?? api.autoscaling.init_replicas
  const version = predictor.type === 'python' && (!remote || existsSync(predictorPath!)) ? codeVersion(project.dir, predictorPath) : undefined
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

/** A remote API's run check: a served predictor type; its predictor file is looked for in the image, not here. */
function remoteRunnable(project: Project, api: ServedApiConfig): {predictorPath?: string} {
  const problem = runProblems(api, project.dir).find((candidate) => candidate.field === 'type')
  if (problem) throw problem.error
  const path = api.predictor.type === 'python' ? api.predictor.path : undefined
  return path === undefined ? {} : {predictorPath: isAbsolute(path) ? path : join(project.dir, path)}
}

/** Checks that discovery names a place for every API of the plan; a plan without one could never route that API. */
function remotePlan(remote: RemotePlan | undefined, apis: ApiPlan[]): RemotePlan {
  if (!remote) throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source: 'planRuntime', reason: "driver 'remote' needs options.remote (where the replicas are found)"})
  const {discovery} = remote
  const named = discovery.kind === 'dns' ? discovery.services : discovery.origins
  const missing = apis.filter((api) => !Object.hasOwn(named, api.name)).map((api) => api.name)
  if (missing.length > 0) {
    throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source: 'planRuntime', reason: `${discovery.kind} discovery names no ${discovery.kind === 'dns' ? 'service' : 'origins'} for ${missing.map((name) => `"${name}"`).join(', ')}`})
  }
  return remote
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
