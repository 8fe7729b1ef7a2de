// A runtime: the gateway plus every replica of a plan, started together and
// stopped together. `mlserve run` uses it, and so does the replica under test
// that load tests and tuning measure.
import {randomBytes} from 'node:crypto'
import {Autoscaler, keptCount} from './autoscale/index.js'
import {Gateway, type ApiStatus, type SplitterStatus} from './gateway/index.js'
import type {AsyncJobs} from './async/index.js'
import {asyncApplyProblem} from './async/apply.js'
import {mlserveError} from '../errors.js'
import {runtimeDefaults} from './defaults.js'
import type {RuntimePlan} from './plan.js'
import {ProcessReplica} from './process-replica.js'
import type {Replica, ReplicaSpec} from './replica.js'
import type {Resolve, TaskDiscovery, TaskDiscoveryOptions} from './task-discovery.js'
import {removeRuntimeRecord, writeRuntimeRecord, type RuntimeRecord} from './state.js'

export {runtimeDefaults}
export type {RuntimePlan}

export interface RuntimeHooks {
  /** Replica output and lifecycle lines (and access log lines when the plan enables them). */
  log: (line: string) => void
  /**
   * The token that changes state through the control routes: given (a string,
   * or null: nothing may change it), it replaces the one a runtime that
   * announces itself makes. `mlserve gateway` passes the deployment's secret.
   */
  token?: string | null
  /** The remote driver's name resolver (default: the system's); tests pass their own. */
  resolve?: Resolve
  /** How the remote driver checks each replica (intervals, thresholds); tests shorten them. */
  remoteReplica?: TaskDiscoveryOptions['replica']
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
  /** Changes (mlserve apply, autoscaling steps) run one at a time. */
  private applying: Promise<unknown> = Promise.resolve()
  /** The next replica index of each API: ids (api-index) are never reused, so metrics and logs of a replaced replica stay apart. */
  private readonly replicaIndexes = new Map<string, number>()
  /**
   * What the autoscaler samples per API instead of its requests in flight
   * (ApiRoute.inFlight): an AsyncAPI registers its backlog here. Read every second.
   */
  readonly scalingSignals = new Map<string, () => number>()
  readonly autoscaler: Autoscaler
  /** The AsyncAPIs' stores, workers and job routes; null when the plan has none. */
  asyncJobs: AsyncJobs | null = null
  /** Under the remote driver: what finds the replicas and keeps routing in step with them; null otherwise. */
  discovery: TaskDiscovery | null = null

  private constructor(
    public plan: RuntimePlan,
    readonly gateway: Gateway,
    readonly replicas: Replica[],
    readonly makeReplica: (spec: ReplicaSpec) => Replica,
    readonly log: (line: string) => void,
  ) {
    this.autoscaler = new Autoscaler({
      apis: () => this.plan.apis.map((api) => ({name: api.name, autoscaling: api.autoscaling ?? null})),
      replicas: (api) => this.gateway.api(api)?.replicas.length ?? 0,
      signal: (api) => this.scalingSignals.get(api)?.() ?? this.gateway.api(api)?.inFlight ?? 0,
      scale: (api, desired) => this.serialize(async () => (await import('./scaling.js')).scaleApi(this, api, desired)),
      log,
    })
  }

  /** Binds the gateway port, starts every replica of the plan and resolves once all are ready. */
  static async start(plan: RuntimePlan, hooks: RuntimeHooks): Promise<Runtime> {
    const {log} = hooks
    // The docker driver (and dockerode) loads only when a plan uses it; its sweep of stale containers comes first.
    const remote = plan.driver === 'remote'
    const makeReplica: (spec: ReplicaSpec) => Replica = remote
      ? () => {
          // Only scaling and apply make replicas from a spec, and a remote runtime does neither: its engine does.
          throw new Error('a remote runtime does not start replicas: discovery finds them')
        }
      : plan.driver === 'docker' && plan.docker
        ? await (await import('./docker-replica.js')).startDockerDriver(plan.docker, log)
        : (spec) => new ProcessReplica(spec, {log})
    const replicas: Replica[] = []
    const gatewayApis = plan.apis.map((api) => {
      // Remote replicas are found once the gateway listens (task-discovery.ts); the plan's specs are their templates.
      const apiReplicas = remote ? [] : api.replicas.map(makeReplica)
      replicas.push(...apiReplicas)
      return {name: api.name, endpoint: api.endpoint, maxReplicaConcurrency: api.maxReplicaConcurrency, replicas: apiReplicas, cache: api.cache, version: api.version}
    })
    // Only a runtime that announces itself hands its token out (in its state file); one that does not takes no changes.
    const token = hooks.token !== undefined ? hooks.token : plan.announce ? randomBytes(32).toString('hex') : null
    let runtime: Runtime | null = null
    const gateway = new Gateway(gatewayApis, {
      ...plan.gateway,
      accessLog: plan.gateway.accessLog ? log : undefined,
      identity: {pid: process.pid, project: plan.project.file},
      splitters: plan.splitters,
      token,
      control: plan.remote?.control === 'token' ? 'token' : 'loopback',
      apply: (next) => runtime!.apply(next as RuntimePlan),
      // A remote gateway's replica count is its engine's: its status shows no autoscaler of its own.
      autoscaler: remote ? undefined : (api) => runtime?.autoscaler.status(api) ?? null,
      batch: (api) => (runtime?.plan ?? plan).apis.find((candidate) => candidate.name === api)?.batch,
    })
    // The port is checked before any replica starts, so a clash fails at once.
    await gateway.listen()
    runtime = new Runtime(plan, gateway, replicas, makeReplica, log)
    // AsyncAPIs' stores open before any replica starts: an unreachable Redis fails at once, and jobs are taken while replicas start.
    const asyncApis = plan.apis.flatMap((api) => (api.async ? [{name: api.name, endpoint: api.endpoint, async: api.async}] : []))
    if (asyncApis.length > 0) {
      try {
        const {AsyncJobs} = await import('./async/index.js')
        runtime.asyncJobs = await AsyncJobs.open(asyncApis, gateway, {timeoutMs: plan.gateway.timeoutMs, maxBodyBytes: plan.gateway.maxBodyBytes, log})
      } catch (error) {
        await runtime.stop({drain: false})
        throw error
      }
      // Cortex scales an AsyncAPI on its queue: the autoscaler samples the backlog instead of requests in flight.
      for (const api of runtime.asyncJobs.apis) runtime.scalingSignals.set(api.name, () => api.backlog())
      runtime.asyncJobs.start()
    }
    if (remote) {
      // The gateway serves from now on, with no replica (503) until a task answers ready: a service may have none yet.
      // Its replica count is its engine's (the Swarm autoscaler, Kubernetes): no autoscaler runs here.
      const {TaskDiscovery} = await import('./task-discovery.js')
      runtime.discovery = new TaskDiscovery(runtime, plan.remote!.discovery, {resolve: hooks.resolve, log, replica: hooks.remoteReplica})
      await runtime.discovery.start()
    } else {
      const results = await Promise.allSettled(replicas.map((replica) => replica.start()))
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (failure) {
        await runtime.stop({drain: false})
        throw failure.reason
      }
      runtime.autoscaler.start()
      runtime.gateway.metrics.addAutoscaler({apis: () => runtime!.autoscaler.figures()})
    }
    // A gateway of remote replicas runs in a container or a pod: no `mlserve status` on its machine reads a state file.
    if (plan.announce && plan.driver !== 'remote') {
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
    const applied = this.serialize(async () => {
      if (this.plan.driver === 'remote') {
        throw mlserveError('MLS_GATEWAY_APPLY_FAILED', {reason: 'this gateway routes replicas its engine runs (Swarm, Kubernetes), so a new config reaches it through `mlserve deploy`, not `mlserve apply`'})
      }
      const asyncProblem = Array.isArray(next?.apis) ? asyncApplyProblem(this.plan, next) : null
      if (asyncProblem) throw mlserveError('MLS_ASYNC_APPLY_UNSUPPORTED', asyncProblem)
      const {reconcile} = await import('./reconcile.js')
      return reconcile(this, this.keepingCounts(next))
    })
    // The user reads why in `mlserve apply`; the run log keeps it too, for whoever watches the runtime.
    applied.catch((error: Error) => this.log(`apply: not applied: ${error.message}`))
    return applied
  }

  /** Runs a change after those before it (mlserve apply and autoscaling steps never interleave). */
  serialize<T>(change: () => Promise<T>): Promise<T> {
    const run = this.applying.then(change)
    this.applying = run.catch(() => undefined)
    return run
  }

  /**
   * An API the runtime serves keeps its replica count through an apply, within
   * the new min..max, as `cortex deploy` keeps a deployment's count; one fixed
   * by --replicas keeps it, fixed.
   */
  private keepingCounts(next: RuntimePlan): RuntimePlan {
    if (!Array.isArray(next?.apis)) return next
    return {
      ...next,
      apis: next.apis.map((api) => {
        // A malformed plan is left for reconcile to refuse, with its reason.
        if (typeof api !== 'object' || api === null || !Array.isArray(api.replicas)) return api
        const route = this.gateway.api(api.name)
        const now = this.plan.apis.find((candidate) => candidate.name === api.name)
        if (!route || route.replicas.length === 0 || !api.autoscaling || api.replicas.length === 0) return api
        const fixed = now?.autoscaling?.fixed ?? null
        const count = fixed !== null ? route.replicas.length : keptCount(route.replicas.length, api.autoscaling)
        const replicas = Array.from({length: count}, (_, i) => api.replicas[i] ?? {...api.replicas[0], index: i})
        return {...api, replicas, autoscaling: {...api.autoscaling, fixed}}
      }),
    }
  }

  /** A replica index of `api` no replica of this runtime had before. */
  freshIndex(api: string): number {
    let index = this.replicaIndexes.get(api) ?? 0
    for (const replica of this.replicas) if (replica.spec.api === api) index = Math.max(index, replica.spec.index + 1)
    this.replicaIndexes.set(api, index + 1)
    return index
  }

  /**
   * Drains requests in flight (up to the request timeout), then stops every
   * replica. A call with `drain: false` stops at once, also when a draining
   * stop is already under way: that is the second Ctrl-C.
   */
  stop(options: {drain?: boolean} = {}): Promise<void> {
    this.autoscaler.stop()
    // No new replica is found from now on; retired ones still draining finish as the gateway drains.
    void this.discovery?.stop()
    this.asyncJobs?.stopTaking()
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
      // Jobs still running when replicas stop go back to the queue, not counted as retries.
      await this.asyncJobs?.close(force ? 0 : this.plan.gateway.timeoutMs)
      await Promise.allSettled(this.replicas.map((replica) => replica.stop({force})))
      await this.gateway.close()
    })()
    return this.stopped
  }
}
