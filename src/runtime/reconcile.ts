// mlserve apply on a running runtime, as `cortex deploy` updates a running
// API: the plan of the edited mlserve.yaml is compared with what the gateway
// serves now, and only the difference changes. Traffic never moves to a
// replica before it is ready: new APIs are put behind their endpoint once all
// their replicas are ready, changed replicas are replaced one at a time (a new
// one ready before an old one drains), and removed APIs drain before their
// replicas stop. What cannot change without a restart (the gateway's address,
// the driver) is refused before anything is touched.
//
// The comparison is always against the live state (the gateway's routes and
// the specs of the replicas behind them), not against the last plan, so an
// apply that failed half way is finished by the next one.
import {MlserveError} from '../errors.js'
import {runtimeDefaults} from './defaults.js'
import {formatWeights, ShadowMirror, type ApiRoute, type GatewaySplitter, type ReplicaRoute, type SplitRouter, type Weights} from './gateway/index.js'
import type {ApiPlan, GatewayPlan, RuntimePlan} from './plan.js'
import type {Replica, ReplicaSpec} from './replica.js'
import type {Runtime} from './runtime.js'

export interface ApplyResult {
  /** What changed, one sentence each for the user; empty when the runtime already served the plan. */
  changes: string[]
}

/** Moves a running runtime to `next`. Throws an MlserveError (MLS_GATEWAY_APPLY_FAILED) when the plan cannot be applied. */
export async function reconcile(runtime: Runtime, next: RuntimePlan): Promise<ApplyResult> {
  refuseUnappliable(runtime, next)
  const reconciliation = new Reconciliation(runtime, next)
  try {
    await reconciliation.run()
  } finally {
    // Also after a failure half way: the plan and the state record say what is served now.
    runtime.plan = livePlan(runtime, next)
    runtime.announce()
  }
  return {changes: reconciliation.changes}
}

// ---------------------------------------------------------------------------
// Refusals: everything checked before anything starts or stops.

const RESTART = 'Stop `mlserve run` and start it again to change it'

function applyFailed(reason: string, suggestion = 'Fix mlserve.yaml and run `mlserve apply` again'): MlserveError {
  // The gateway answers "could not apply the new config: <message> <suggestion>.", so the message ends a sentence and the suggestion does not.
  return new MlserveError('MLS_GATEWAY_APPLY_FAILED', `${reason}.`, suggestion, 1, [])
}

/** The gateway limits mlserve.yaml cannot set: `mlserve apply` sends the defaults, which leave the running ones as they are. */
const LIMITS: Array<{key: keyof GatewayPlan; flag: string}> = [
  {key: 'timeoutMs', flag: '--timeout'},
  {key: 'maxBodyBytes', flag: '--max-body-size'},
  {key: 'retryAfterSeconds', flag: 'the Retry-After seconds'},
  {key: 'headersTimeoutMs', flag: 'the headers timeout'},
  {key: 'requestTimeoutMs', flag: 'the request timeout'},
]

function refuseUnappliable(runtime: Runtime, next: RuntimePlan): void {
  if (!isPlan(next)) throw applyFailed('the body is not a runtime plan (apis, splitters and gateway are missing)', 'Run `mlserve apply` of the same mlserve version as `mlserve run`')
  const now = runtime.plan
  if (next.project.file !== now.project.file) {
    throw applyFailed(`this runtime serves ${now.project.file}, not ${next.project.file}`, 'Apply to the runtime started from that file, or start one with `mlserve run`')
  }
  if (next.driver !== now.driver) throw applyFailed(`the driver changed from ${now.driver} to ${next.driver}`, RESTART)
  if (next.driver === 'docker' && (next.docker === null || now.docker === null)) throw applyFailed('the plan has no images for the docker driver', 'Run `mlserve apply` again')
  if (next.gateway.host !== now.gateway.host) throw applyFailed(`the gateway's host changed from ${now.gateway.host} to ${next.gateway.host}`, RESTART)
  // 0 asks for any free port: the bound one is as good.
  const port = next.gateway.port
  if (port !== 0 && port !== now.gateway.port && port !== runtime.gateway.port) {
    throw applyFailed(`the gateway's port changed from ${runtime.gateway.port} to ${port}`, RESTART)
  }
  for (const {key, flag} of LIMITS) {
    const wanted = next.gateway[key]
    if (wanted !== now.gateway[key] && wanted !== runtimeDefaults[key as keyof typeof runtimeDefaults]) {
      throw applyFailed(`the gateway's ${key} changed from ${String(now.gateway[key])} to ${String(wanted)} (${flag} of \`mlserve run\`)`, RESTART)
    }
  }
  const apis = new Set(next.apis.map((api) => api.name))
  const endpoints = new Map<string, string>()
  for (const item of [...next.apis, ...next.splitters]) {
    const holder = endpoints.get(item.endpoint)
    if (holder !== undefined) throw applyFailed(`${holder} and ${item.name} both take the endpoint ${item.endpoint}`)
    endpoints.set(item.endpoint, item.name)
  }
  for (const api of next.apis) {
    if (api.replicas.some((spec) => spec.api !== api.name)) throw applyFailed(`the replicas planned for API ${api.name} belong to another API`)
  }
  for (const splitter of next.splitters) {
    const named = [...splitter.apis.map((entry) => entry.name), ...(splitter.shadow ? [splitter.shadow.api] : [])]
    const missing = named.filter((name) => !apis.has(name))
    if (missing.length > 0) throw applyFailed(`TrafficSplitter ${splitter.name} routes to ${missing.join(', ')}, which the plan does not serve`)
  }
}

function isPlan(value: RuntimePlan): boolean {
  const plan = value as Partial<RuntimePlan> | null
  return (
    typeof plan === 'object' && plan !== null && Array.isArray(plan.apis) && Array.isArray(plan.splitters) &&
    typeof plan.gateway === 'object' && plan.gateway !== null && typeof plan.project === 'object' && plan.project !== null &&
    plan.apis.every((api) => typeof api?.name === 'string' && typeof api.endpoint === 'string' && Array.isArray(api.replicas))
  )
}

// ---------------------------------------------------------------------------
// Comparing replica specs.

/**
 * Fields of a spec that do not make a replica different: its number, and what
 * `mlserve run` decides for the whole runtime rather than mlserve.yaml (body
 * limit, readiness timeout, CPU pinning), which new replicas take from the
 * running ones.
 */
const RUNTIME_WIDE = new Set<keyof ReplicaSpec>(['index', 'maxBodyBytes', 'readinessTimeoutMs', 'cpus'])

/** The config words for what differs between two specs ("predictor.config", "GPU devices"), empty when they are the same replica. */
function specChanges(a: ReplicaSpec, b: ReplicaSpec): string[] {
  const words: Partial<Record<keyof ReplicaSpec, string>> = {
    api: 'api',
    kind: 'predictor.type',
    projectDir: 'project directory',
    interpreter: 'predictor.interpreter',
    predictorPath: 'predictor.path',
    command: 'predictor.command',
    predictorConfig: 'predictor.config',
    env: 'predictor.env',
    processes: 'processes_per_replica',
    threads: 'threads_per_process',
    batching: 'server_side_batching',
    readinessPath: 'predictor.readiness_path',
    predictPath: 'predictor.predict_path',
    gpus: 'GPU devices',
    codeVersion: 'predictor code',
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof ReplicaSpec>)
  const changed: string[] = []
  for (const key of keys) {
    if (RUNTIME_WIDE.has(key)) continue
    if (canonical(a[key]) !== canonical(b[key])) changed.push(words[key] ?? key)
  }
  return changed
}

/** JSON with object keys sorted, so {a, b} and {b, a} compare equal; undefined and absent are the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : item,
  ) ?? 'undefined'
}

// ---------------------------------------------------------------------------

class Reconciliation {
  readonly changes: string[] = []
  private readonly gateway: Runtime['gateway']
  /** APIs whose docker image or container limits changed: every replica of theirs is replaced. */
  private readonly newImages = new Set<string>()

  constructor(
    private readonly runtime: Runtime,
    private readonly next: RuntimePlan,
  ) {
    this.gateway = runtime.gateway
  }

  async run(): Promise<void> {
    this.takeImages()
    const served = new Set(this.gateway.apiRoutes().keys())
    const wanted = new Set(this.next.apis.map((api) => api.name))
    await this.addApis(this.next.apis.filter((api) => !served.has(api.name)))
    for (const plan of this.next.apis) if (served.has(plan.name)) await this.updateApi(plan)
    this.updateSplitters()
    for (const name of served) if (!wanted.has(name)) await this.removeApi(name)
  }

  private note(change: string): void {
    this.changes.push(change)
    this.runtime.log(`apply: ${change}`)
  }

  /**
   * The docker driver's factory reads each API's image and limits from the
   * plan it was started with, at each replica's creation: the new plan's go
   * there, and an API whose image or limits changed is replaced.
   */
  private takeImages(): void {
    const now = this.runtime.plan.docker
    const next = this.next.docker
    if (this.next.driver !== 'docker' || now === null || next === null) return
    for (const api of this.next.apis) {
      if (!this.gateway.api(api.name)) continue
      if (now.images[api.name] !== next.images[api.name] || canonical(now.limits[api.name]) !== canonical(next.limits[api.name])) this.newImages.add(api.name)
    }
    Object.assign(now.images, next.images)
    Object.assign(now.limits, next.limits)
    now.gpuSupport = next.gpuSupport ?? now.gpuSupport
  }

  // -- replicas -------------------------------------------------------------

  /** A spec of `plan`'s as this runtime runs it: a fresh index, and the runtime-wide settings of the running replicas. */
  private freshSpec(spec: ReplicaSpec): ReplicaSpec {
    // Ids (api-index) are never reused, so metrics and logs of a replaced replica stay apart.
    const index = this.runtime.freshIndex(spec.api)
    const running = this.runtime.replicas[0]?.spec
    return {...spec, index, maxBodyBytes: this.runtime.plan.gateway.maxBodyBytes, cpus: running ? running.cpus : spec.cpus}
  }

  /**
   * Starts replicas of the specs and resolves once every one is ready. They
   * join runtime.replicas at once, so a shutdown meanwhile stops them too. If
   * any fails, all of them are stopped and the error says which.
   */
  private async startReplicas(specs: ReplicaSpec[]): Promise<Replica[]> {
    const replicas = specs.map((spec) => this.runtime.makeReplica(this.freshSpec(spec)))
    this.runtime.replicas.push(...replicas)
    const results = await Promise.allSettled(replicas.map((replica) => replica.start()))
    const failed = results.findIndex((result) => result.status === 'rejected')
    if (failed === -1) return replicas
    await this.stopReplicas(replicas)
    const reason = (results[failed] as PromiseRejectedResult).reason as Error
    // The reason (a traceback, often) comes last, where a long one reads best.
    const why = reason.message.trim()
    throw new MlserveError(
      'MLS_GATEWAY_APPLY_FAILED',
      `replica ${replicas[failed].id} did not start, so its API was left as it was${this.doneSoFar()}. ${why}${/[.!?]$/.test(why) ? '' : '.'}`,
      'Fix mlserve.yaml or the predictor and run `mlserve apply` again',
      1,
      [],
      reason,
    )
  }

  private doneSoFar(): string {
    return this.changes.length === 0 ? '' : `, after these changes: ${this.changes.join('; ')}`
  }

  private async stopReplicas(replicas: readonly Replica[]): Promise<void> {
    await Promise.allSettled(replicas.map((replica) => replica.stop()))
    for (const replica of replicas) {
      const at = this.runtime.replicas.indexOf(replica)
      if (at !== -1) this.runtime.replicas.splice(at, 1)
    }
  }

  /** Takes replicas out of an API's routing, waits for the requests they hold, and stops them. Returns how many requests were drained. */
  private async retire(api: ApiRoute, routes: readonly ReplicaRoute[]): Promise<number> {
    const held = routes.reduce((sum, route) => sum + route.admission.inFlight, 0)
    await Promise.all(routes.map((route) => api.retire(route, this.runtime.plan.gateway.timeoutMs)))
    await this.stopReplicas(routes.map((route) => route.replica))
    return held
  }

  // -- APIs -----------------------------------------------------------------

  /** New APIs: every replica of every one ready before any endpoint is served; one failure and none is. */
  private async addApis(plans: ApiPlan[]): Promise<void> {
    if (plans.length === 0) return
    const replicas = await this.startReplicas(plans.flatMap((plan) => plan.replicas))
    for (const plan of plans) {
      const own = replicas.filter((replica) => replica.spec.api === plan.name)
      this.gateway.addApi({name: plan.name, endpoint: plan.endpoint, maxReplicaConcurrency: plan.maxReplicaConcurrency, replicas: own, cache: plan.cache, version: plan.version})
      this.note(`api ${plan.name}: added at ${plan.endpoint}, ${count(own.length, 'replica')} ready`)
    }
  }

  private async updateApi(plan: ApiPlan): Promise<void> {
    const api = this.gateway.api(plan.name)!
    if (api.endpoint !== plan.endpoint || api.maxReplicaConcurrency !== plan.maxReplicaConcurrency) {
      await this.reregister(api, plan)
      return
    }
    // Replicas whose spec is still wanted stay; the rest are replaced or retired.
    const stale = [...api.replicas]
    const missing: ReplicaSpec[] = []
    const changed = new Set<string>()
    for (const spec of plan.replicas) {
      const keep = this.newImages.has(plan.name) ? -1 : stale.findIndex((route) => specChanges(route.replica.spec, spec).length === 0)
      if (keep !== -1) stale.splice(keep, 1)
      else missing.push(spec)
    }
    if (stale.length === 0 && missing.length === 0) {
      this.takeCache(api, plan)
      return
    }
    const before = api.replicas.length
    const paired = Math.min(stale.length, missing.length)
    for (let i = 0; i < paired; i++) for (const word of specChanges(stale[i].replica.spec, missing[i])) changed.add(word)
    if (this.newImages.has(plan.name)) changed.add('image')

    // More replicas first, so capacity only grows while the others are replaced.
    const extra = missing.slice(paired)
    if (extra.length > 0) {
      const added = await this.startReplicas(extra)
      for (const replica of added) api.add(replica)
    }
    const replaced: string[] = []
    let drained = 0
    for (let i = 0; i < paired; i++) {
      const [fresh] = await this.startReplicas([missing[i]])
      api.add(fresh)
      drained += await this.retire(api, [stale[i]])
      replaced.push(`${stale[i].id} → ${fresh.id}`)
    }
    const surplus = stale.slice(paired)
    if (surplus.length > 0) drained += await this.retire(api, surplus)

    const parts: string[] = []
    if (paired > 0) parts.push(`${[...changed].join(', ') || 'spec'} changed, replaced ${count(paired, 'replica')} one at a time (${replaced.join(', ')})`)
    if (api.replicas.length !== before) parts.push(`replicas ${before} → ${api.replicas.length}`)
    if (drained > 0) parts.push(`drained ${count(drained, 'request')}`)
    this.note(`api ${plan.name}: ${parts.join('; ')}`)
    // Only now: every replica answers as the new version, and none of the old ones holds a request.
    this.takeCache(api, plan)
  }

  /**
   * The prediction cache after an API's replicas moved to `plan`: kept when
   * its config and the API's answers version are the same, else emptied (a
   * new cache), or dropped when the plan has none.
   */
  private takeCache(api: ApiRoute, plan: ApiPlan): void {
    const held = api.cache
    api.useCache(plan.cache ?? null, plan.version)
    if (api.cache === held) return
    if (held === null) this.note(`api ${plan.name}: cache on`)
    else if (api.cache === null) this.note(`api ${plan.name}: cache off (dropped)`)
    else this.note(`api ${plan.name}: cache emptied (${held.version !== plan.version ? 'code or predictor config changed' : 'cache settings changed'})`)
  }

  /**
   * A new endpoint or max_replica_concurrency: an admission limit is fixed per
   * replica route, so the API gets a whole new set of ready replicas, then
   * takes over its name (and new endpoint) in one step; the old set drains.
   * The splitters over it follow at once.
   */
  private async reregister(api: ApiRoute, plan: ApiPlan): Promise<void> {
    const parts: string[] = []
    if (api.endpoint !== plan.endpoint) parts.push(`endpoint ${api.endpoint} → ${plan.endpoint}`)
    if (api.maxReplicaConcurrency !== plan.maxReplicaConcurrency) parts.push(`max_replica_concurrency ${api.maxReplicaConcurrency} → ${plan.maxReplicaConcurrency}`)
    const changed = new Set<string>()
    api.replicas.forEach((route, i) => {
      const spec = plan.replicas[i] ?? plan.replicas[0]
      if (spec) for (const word of specChanges(route.replica.spec, spec)) changed.add(word)
    })
    if (this.newImages.has(plan.name)) changed.add('image')
    if (changed.size > 0) parts.push(`${[...changed].join(', ')} changed`)
    const replicas = await this.startReplicas(plan.replicas)
    const old = [...api.replicas]
    this.gateway.removeApi(plan.name)
    const fresh = this.gateway.addApi({name: plan.name, endpoint: plan.endpoint, maxReplicaConcurrency: plan.maxReplicaConcurrency, replicas})
    fresh.cache = api.cache
    this.takeCache(fresh, plan)
    this.repointSplitters(fresh)
    const drained = await this.retire(api, old)
    parts.push(`${count(replicas.length, 'new replica')} ready, then ${count(old.length, 'old one')} retired${drained > 0 ? ` (drained ${count(drained, 'request')})` : ''}`)
    this.note(`api ${plan.name}: ${parts.join('; ')}`)
  }

  private async removeApi(name: string): Promise<void> {
    const api = this.gateway.removeApi(name)
    if (!api) return
    const routes = [...api.replicas]
    const drained = await this.retire(api, routes)
    this.note(`api ${name}: removed from ${api.endpoint}; drained ${count(drained, 'request')}, stopped ${count(routes.length, 'replica')}`)
  }

  // -- splitters ------------------------------------------------------------

  /** A splitter holds the API routes it sends to: after an API was registered anew, each splitter over it is rebuilt over the new route. */
  private repointSplitters(api: ApiRoute): void {
    for (const splitter of this.liveSplitters()) {
      const arm = splitter.apis.some((candidate) => candidate.name === api.name)
      if (arm) this.rebuild(splitter, splitter.endpoint, true)
      else if (splitter.shadow?.api.name === api.name) splitter.shadow = new ShadowMirror(api, splitter.shadow.percent, splitter.shadow.timeoutMs)
    }
  }

  /**
   * Serves a splitter anew (over the current API routes, at `endpoint`) with
   * the same weights, shadow and, when `keepPrevious` and its APIs are all
   * still served, the same weights to roll back to.
   */
  private rebuild(splitter: SplitRouter, endpoint: string, keepPrevious: boolean): SplitRouter {
    const status = splitter.status()
    const routes = this.gateway.apiRoutes()
    const previous = keepPrevious && status.previous !== null && Object.keys(status.previous).every((name) => routes.has(name)) ? status.previous : null
    const shadow = splitter.shadow
    this.gateway.removeSplitter(status.name)
    const rebuilt = this.gateway.addSplitter({name: status.name, endpoint, apis: arms(previous ?? status.weights), shadow: null})
    if (previous !== null) rebuilt.setWeights(status.weights, routes)
    if (shadow !== null) rebuilt.shadow = routes.get(shadow.api.name) === shadow.api ? shadow : new ShadowMirror(routes.get(shadow.api.name)!, shadow.percent, shadow.timeoutMs)
    return rebuilt
  }

  private liveSplitters(): SplitRouter[] {
    return this.gateway.splitterStatus().map((status) => this.gateway.splitter(status.name)!)
  }

  private updateSplitters(): void {
    const routes = this.gateway.apiRoutes()
    const wanted = new Set(this.next.splitters.map((splitter) => splitter.name))
    for (const plan of this.next.splitters) {
      let splitter = this.gateway.splitter(plan.name)
      if (!splitter) {
        this.gateway.addSplitter(plan)
        this.note(`splitter ${plan.name}: added at ${plan.endpoint}, weights ${formatWeights(weightsOf(plan))}${plan.shadow ? `, shadow ${plan.shadow.api} ${plan.shadow.percent}%` : ''}`)
        continue
      }
      const parts: string[] = []
      if (splitter.endpoint !== plan.endpoint) {
        parts.push(`endpoint ${splitter.endpoint} → ${plan.endpoint}`)
        splitter = this.rebuild(splitter, plan.endpoint, true)
      }
      const weights = weightsOf(plan)
      const before = splitter.weights
      if (canonical(before) !== canonical(weights)) {
        const problem = splitter.setWeights(weights, routes)
        if (problem !== null) throw applyFailed(`the weights of TrafficSplitter ${plan.name} cannot be used: ${problem}${this.doneSoFar()}`)
        parts.push(`weights ${formatWeights(before)} → ${formatWeights(weights)}`)
      }
      const shadow = splitter.shadow
      if (plan.shadow === null) {
        if (shadow !== null) parts.push(`shadow ${shadow.api.name} removed`)
        splitter.shadow = null
      } else if (shadow === null || shadow.api !== routes.get(plan.shadow.api)) {
        splitter.shadow = new ShadowMirror(routes.get(plan.shadow.api)!, plan.shadow.percent, this.runtime.plan.gateway.timeoutMs)
        parts.push(shadow === null ? `shadow ${plan.shadow.api} ${plan.shadow.percent}% added` : `shadow ${shadow.api.name} → ${plan.shadow.api} ${plan.shadow.percent}%`)
      } else if (shadow.percent !== plan.shadow.percent) {
        parts.push(`shadow ${plan.shadow.api} ${shadow.percent}% → ${plan.shadow.percent}%`)
        shadow.percent = plan.shadow.percent
      }
      if (parts.length > 0) this.note(`splitter ${plan.name}: ${parts.join('; ')}`)
    }
    for (const splitter of this.liveSplitters()) {
      if (wanted.has(splitter.name)) continue
      this.gateway.removeSplitter(splitter.name)
      this.note(`splitter ${splitter.name}: removed from ${splitter.endpoint}`)
    }
    // Weights to roll back to that name an API about to be removed could not be restored: such a splitter keeps no earlier weights.
    const kept = new Set(this.next.apis.map((api) => api.name))
    for (const splitter of this.liveSplitters()) {
      const previous = splitter.status().previous
      if (previous === null) continue
      const gone = Object.keys(previous).filter((name) => !kept.has(name))
      if (gone.length === 0) continue
      this.rebuild(splitter, splitter.endpoint, false)
      this.runtime.log(`apply: splitter ${splitter.name}: its earlier weights name ${gone.join(', ')}, which this config removes: there is nothing to roll back to`)
    }
  }
}

// ---------------------------------------------------------------------------

function weightsOf(splitter: GatewaySplitter): Weights {
  return Object.fromEntries(splitter.apis.map((entry) => [entry.name, entry.weight]))
}

function arms(weights: Weights): GatewaySplitter['apis'] {
  return Object.entries(weights).map(([name, weight]) => ({name, weight}))
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/**
 * The plan the runtime serves now, read from the gateway: what its status and
 * the next apply start from. An API's other settings (autoscaling…) are the
 * applied plan's, or the earlier plan's for an API it does not name.
 */
function livePlan(runtime: Runtime, next: RuntimePlan): RuntimePlan {
  const {gateway} = runtime
  // Every API served is in one of the two plans.
  const planned = (name: string): ApiPlan => (next.apis.find((api) => api.name === name) ?? runtime.plan.apis.find((api) => api.name === name))!
  return {
    ...runtime.plan,
    apis: [...gateway.apiRoutes().values()].map((api) => ({
      ...planned(api.name),
      name: api.name,
      endpoint: api.endpoint,
      maxReplicaConcurrency: api.maxReplicaConcurrency,
      replicas: api.replicas.map((route) => route.replica.spec),
    })),
    splitters: gateway.splitterStatus().map((status) => ({name: status.name, endpoint: status.endpoint, apis: arms(status.weights), shadow: status.shadow})),
  }
}

