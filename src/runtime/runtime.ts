// A runtime: the gateway plus every replica of the chosen APIs, started
// together and stopped together. `mlserve run` uses it, and so do load tests
// and tuning, which start exactly one replica.
import type {Project} from '../config/index.js'
import {prepareDockerDriver} from './docker-replica.js'
import {Gateway, type ApiStatus} from './gateway.js'
import {planRuntime, type ConcurrencyOverrides, type RuntimePlan} from './plan.js'
import {ProcessReplica} from './process-replica.js'
import type {Replica} from './replica.js'
import {removeRuntimeRecord, writeRuntimeRecord} from './state.js'

export interface RuntimeOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  apis?: string[]
  /** Replicas per API; default each API's autoscaling.min_replicas. */
  replicas?: number
  timeoutMs: number
  maxBodyBytes: number
  readinessTimeoutMs: number
  retryAfterSeconds: number
  accessLog: boolean
  /** Replica output and lifecycle lines. */
  log: (line: string) => void
  /** Announce the runtime for `mlserve status` (default true). */
  announce?: boolean
  /** Replace the config's processes, threads or max_replica_concurrency (tuning). */
  overrides?: ConcurrencyOverrides
  /** How replicas run: local process groups (default) or containers from `image`. */
  driver?: 'process' | 'docker'
  /** The image replicas run from (docker driver). */
  image?: string
}

export const runtimeDefaults = {
  host: '127.0.0.1',
  port: 8888,
  timeoutMs: 60_000,
  maxBodyBytes: 10 * 1024 * 1024,
  readinessTimeoutMs: 120_000,
  retryAfterSeconds: 1,
} as const

export interface RuntimeStatus {
  url: string
  pid: number
  project: string
  apis: ApiStatus[]
}

export class Runtime {
  private stopping: Promise<void> | null = null
  private recordFile: string | null = null

  private constructor(
    readonly plan: RuntimePlan,
    readonly gateway: Gateway,
    readonly replicas: Replica[],
    private readonly drainMs: number,
  ) {}

  /** Plans, binds the gateway port, starts every replica and resolves once all are ready. */
  static async start(project: Project, options: RuntimeOptions): Promise<Runtime> {
    // The docker driver's checks (engine, image, GPU support) and its sweep of stale containers come first.
    const docker = options.driver === 'docker' ? await prepareDockerDriver(project, {image: options.image, apis: options.apis, log: options.log}) : null
    const plan = await planRuntime(project, {
      apis: options.apis,
      replicas: options.replicas,
      readinessTimeoutMs: options.readinessTimeoutMs,
      maxBodyBytes: options.maxBodyBytes,
      driver: options.driver,
      overrides: options.overrides,
    })
    const replicas: Replica[] = []
    const gatewayApis = plan.apis.map((api) => {
      const apiReplicas = api.replicas.map((spec) => (docker ? docker.replica(spec) : new ProcessReplica(spec, {log: options.log})))
      replicas.push(...apiReplicas)
      return {name: api.name, endpoint: api.endpoint, maxReplicaConcurrency: api.maxReplicaConcurrency, replicas: apiReplicas}
    })
    const gateway = new Gateway(gatewayApis, {
      host: options.host,
      port: options.port,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: options.maxBodyBytes,
      retryAfterSeconds: options.retryAfterSeconds,
      accessLog: options.accessLog ? options.log : undefined,
      identity: {pid: process.pid, project: project.file},
    })
    // The port is checked before any replica starts, so a clash fails at once.
    await gateway.listen()
    const runtime = new Runtime(plan, gateway, replicas, options.timeoutMs)
    const results = await Promise.allSettled(replicas.map((replica) => replica.start()))
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failure) {
      await runtime.stop()
      throw failure.reason
    }
    if (options.announce !== false) {
      runtime.recordFile = writeRuntimeRecord({
        pid: process.pid,
        url: gateway.url,
        project: project.file,
        startedAt: new Date().toISOString(),
        apis: plan.apis.map((api) => ({name: api.name, endpoint: api.endpoint})),
      })
    }
    return runtime
  }

  get url(): string {
    return this.gateway.url
  }

  endpointUrl(api: string): string {
    const plan = this.plan.apis.find((candidate) => candidate.name === api)
    return `${this.url}${plan?.endpoint ?? `/${api}`}`
  }

  status(): RuntimeStatus {
    return {url: this.url, pid: process.pid, project: this.plan.project.file, apis: this.gateway.status()}
  }

  /** Drains requests in flight (up to the request timeout), then stops every replica. Idempotent. */
  stop(options: {drain?: boolean} = {}): Promise<void> {
    this.stopping ??= (async () => {
      if (this.recordFile) removeRuntimeRecord(this.recordFile)
      if (options.drain !== false) await this.gateway.drain(this.drainMs)
      await Promise.allSettled(this.replicas.map((replica) => replica.stop()))
      await this.gateway.close()
    })()
    return this.stopping
  }
}
