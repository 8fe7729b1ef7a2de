// A runtime: the gateway plus every replica of a plan, started together and
// stopped together. `mlserve run` uses it, and so does the replica under test
// that load tests and tuning measure.
import {randomBytes} from 'node:crypto'
import {Gateway, type ApiStatus, type SplitterStatus} from './gateway/index.js'
import {runtimeDefaults} from './defaults.js'
import type {RuntimePlan} from './plan.js'
import {ProcessReplica} from './process-replica.js'
import type {Replica, ReplicaSpec} from './replica.js'
import {removeRuntimeRecord, writeRuntimeRecord, type RuntimeRecord} from './state.js'

export {runtimeDefaults}
export type {RuntimePlan}

export interface RuntimeHooks {
  /** Replica output and lifecycle lines (and access log lines when the plan enables them). */
  log: (line: string) => void
}

export interface RuntimeStatus {
  url: string
  pid: number
  project: string
  apis: ApiStatus[]
  splitters: SplitterStatus[]
}

export class Runtime {
  private draining: Promise<void> | null = null
  private stopped: Promise<void> | null = null
  private forced = false
  private recordFile: string | null = null
  /** What this runtime announces in its state file; null when it does not, or once it stopped. */
  private record: RuntimeRecord | null = null
  /** Changes (mlserve apply) run one at a time. */
  private applying: Promise<unknown> = Promise.resolve()

  private constructor(
    public plan: RuntimePlan,
    readonly gateway: Gateway,
    readonly replicas: Replica[],
    readonly makeReplica: (spec: ReplicaSpec) => Replica,
    readonly log: (line: string) => void,
  ) {}

  /** Binds the gateway port, starts every replica of the plan and resolves once all are ready. */
  static async start(plan: RuntimePlan, hooks: RuntimeHooks): Promise<Runtime> {
    const {log} = hooks
    // The docker driver (and dockerode) loads only when a plan uses it; its sweep of stale containers comes first.
    const makeReplica: (spec: ReplicaSpec) => Replica =
      plan.driver === 'docker' && plan.docker
        ? await (await import('./docker-replica.js')).startDockerDriver(plan.docker, log)
        : (spec) => new ProcessReplica(spec, {log})
    const replicas: Replica[] = []
    const gatewayApis = plan.apis.map((api) => {
      const apiReplicas = api.replicas.map(makeReplica)
      replicas.push(...apiReplicas)
      return {name: api.name, endpoint: api.endpoint, maxReplicaConcurrency: api.maxReplicaConcurrency, replicas: apiReplicas}
    })
    // Only a runtime that announces itself hands its token out (in its state file); one that does not takes no changes.
    const token = plan.announce ? randomBytes(32).toString('hex') : null
    let runtime: Runtime | null = null
    const gateway = new Gateway(gatewayApis, {
      ...plan.gateway,
      accessLog: plan.gateway.accessLog ? log : undefined,
      identity: {pid: process.pid, project: plan.project.file},
      splitters: plan.splitters,
      token,
      apply: (next) => runtime!.apply(next as RuntimePlan),
    })
    // The port is checked before any replica starts, so a clash fails at once.
    await gateway.listen()
    runtime = new Runtime(plan, gateway, replicas, makeReplica, log)
    const results = await Promise.allSettled(replicas.map((replica) => replica.start()))
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failure) {
      await runtime.stop({drain: false})
      throw failure.reason
    }
    if (plan.announce) {
      runtime.record = {pid: process.pid, url: gateway.url, project: plan.project.file, startedAt: new Date().toISOString(), apis: [], splitters: [], driver: plan.driver, token: token!}
      runtime.announce()
    }
    return runtime
  }

  get url(): string {
    return this.gateway.url
  }

  /** (Re)writes the state record with the APIs and splitters the plan serves (at start, and after mlserve apply); nothing once stopped. */
  announce(): void {
    if (this.record === null) return
    this.record = {
      ...this.record,
      apis: this.plan.apis.map((api) => ({name: api.name, endpoint: api.endpoint})),
      splitters: this.plan.splitters.map((splitter) => ({name: splitter.name, endpoint: splitter.endpoint})),
    }
    this.recordFile = writeRuntimeRecord(this.record)
  }

  endpointUrl(api: string): string {
    const plan = this.plan.apis.find((candidate) => candidate.name === api)
    return `${this.url}${plan?.endpoint ?? `/${api}`}`
  }

  status(): RuntimeStatus {
    return {url: this.url, pid: process.pid, project: this.plan.project.file, apis: this.gateway.status(), splitters: this.gateway.splitterStatus()}
  }

  /**
   * Moves the running runtime to a new plan (mlserve apply), as \`cortex deploy\`
   * updates a running API: new replicas start and are ready before traffic
   * moves to them, removed ones drain, and changed predictors are replaced one
   * replica at a time. Changes run one after another.
   */
  apply(next: RuntimePlan): Promise<{changes: string[]}> {
    const run = this.applying.then(async () => {
      const {reconcile} = await import('./reconcile.js')
      return reconcile(this, next)
    })
    this.applying = run.catch(() => undefined)
    return run
  }

  /**
   * Drains requests in flight (up to the request timeout), then stops every
   * replica. A call with `drain: false` stops at once, also when a draining
   * stop is already under way: that is the second Ctrl-C.
   */
  stop(options: {drain?: boolean} = {}): Promise<void> {
    this.record = null
    if (this.recordFile) {
      removeRuntimeRecord(this.recordFile)
      this.recordFile = null
    }
    if (options.drain !== false && this.stopped === null) {
      this.draining ??= this.gateway.drain(this.plan.gateway.timeoutMs).then(() => this.halt(false))
      return this.draining
    }
    return this.halt(true)
  }

  /** Stops every replica (gracefully, or killed at once when `force`), then closes the gateway. A forced call cuts a graceful one short. */
  private halt(force: boolean): Promise<void> {
    if (force && this.stopped !== null && !this.forced) {
      this.forced = true
      for (const replica of this.replicas) void replica.stop({force: true})
    }
    this.forced ||= force
    this.stopped ??= (async () => {
      await Promise.allSettled(this.replicas.map((replica) => replica.stop({force})))
      await this.gateway.close()
    })()
    return this.stopped
  }
}
