// A TrafficSplitter: one endpoint over several APIs by weight (Cortex's
// semantics: non-shadow weights add up to 100; weight 0 takes no traffic).
// Without a shard key, smooth weighted round-robin gives each API exactly its
// share over any run of 100 requests. With one, a slot table maps the key to an
// API, and a weight change moves the fewest keys possible. The chosen API's own
// admission then places the request: a split never bypasses an API's
// max_replica_concurrency. Weights change live; the weights they replaced are
// kept for a rollback.
import type {ApiRoute} from './api-route.js'
import type {ReplicaRoute} from './replica-route.js'
import {shardOf, type RouteRequest, type Router, type ShadowCopy} from './routing.js'
import type {ShadowMirror} from './shadow.js'
import {SlotTable} from './slot-table.js'
import type {SplitterStatus} from './traffic-types.js'
import {weightProblem, type Weights} from './weights.js'

interface Arm {
  api: ApiRoute
  weight: number
  /** Smooth weighted round-robin's running score. */
  current: number
}

export class SplitRouter implements Router {
  private arms: Arm[] = []
  private table: SlotTable
  private previous: Weights | null = null
  private changedAt = new Date()
  readonly answersAs = null
  /** Requests placed on each API, for its share of this splitter. */
  private readonly routed = new Map<string, number>()

  constructor(
    readonly name: string,
    readonly endpoint: string,
    apis: ReadonlyArray<{api: ApiRoute; weight: number}>,
    public shadow: ShadowMirror | null,
  ) {
    this.arms = apis.map(({api, weight}) => ({api, weight, current: 0}))
    this.table = new SlotTable(this.arms.map((arm) => ({api: arm.api.name, weight: arm.weight})))
  }

  get weights(): Weights {
    return Object.fromEntries(this.arms.map((arm) => [arm.api.name, arm.weight]))
  }

  get apis(): ApiRoute[] {
    return this.arms.map((arm) => arm.api)
  }

  /** The API for this request, by weight or by its shard key's slot; chosen once per request, so a cache lookup and the placement agree. */
  choose(request: RouteRequest): ApiRoute | null {
    if (request.chosen !== undefined) return request.chosen
    const shard = shardOf(request)
    const arm = shard === null ? this.nextByWeight() : this.byShard(shard)
    return (request.chosen = arm === null ? null : arm.api)
  }

  pick(request: RouteRequest): ReplicaRoute | null {
    const api = this.choose(request)
    if (api === null) return null
    // An API with no ready replica (starting, restarting) must not turn its share into 503s while another can answer.
    const route = api.pick(request) ?? this.fallback(api, request)
    if (route !== null) this.count(route.api)
    return route
  }

  answeredFromCache(api: ApiRoute): void {
    this.count(api.name)
  }

  private count(api: string): void {
    this.routed.set(api, (this.routed.get(api) ?? 0) + 1)
  }

  copy(request: RouteRequest, body: Buffer, requestId: string): ShadowCopy | undefined {
    return this.shadow?.copy(request, body, requestId)
  }

  /**
   * Replaces the weights at once (the next request already follows them).
   * Every non-shadow API of the splitter must be given; they add up to 100.
   * Returns null when valid, else why not.
   */
  setWeights(weights: Weights, apis: ReadonlyMap<string, ApiRoute> | null = null): string | null {
    const problem = weightProblem(weights, this.arms.map((arm) => arm.api.name), apis !== null)
    if (problem) return problem
    this.previous = this.weights
    this.apply(weights, apis)
    return null
  }

  /** Restores the weights before the last change; the ones replaced become the new "previous". False when there were none. */
  rollback(apis: ReadonlyMap<string, ApiRoute>): boolean {
    if (this.previous === null) return false
    const restore = this.previous
    this.previous = this.weights
    this.apply(restore, apis)
    return true
  }

  status(): SplitterStatus {
    return {
      name: this.name,
      endpoint: this.endpoint,
      weights: this.weights,
      shadow: this.shadow ? {api: this.shadow.api.name, percent: this.shadow.percent} : null,
      previous: this.previous,
      changedAt: this.changedAt.toISOString(),
      routed: Object.fromEntries(this.routed),
    }
  }

  private apply(weights: Weights, apis: ReadonlyMap<string, ApiRoute> | null): void {
    const byName = new Map(this.arms.map((arm) => [arm.api.name, arm.api]))
    this.arms = Object.entries(weights).map(([name, weight]) => ({api: byName.get(name) ?? apis!.get(name)!, weight, current: 0}))
    this.table.reweigh(this.arms.map((arm) => ({api: arm.api.name, weight: arm.weight})))
    this.changedAt = new Date()
  }

  /** Smooth weighted round-robin (as nginx): over any 100 picks each API gets exactly its weight, interleaved. */
  private nextByWeight(): Arm | null {
    const arms = this.arms
    let best: Arm | null = null
    for (let i = 0; i < arms.length; i++) {
      const arm = arms[i]
      if (arm.weight === 0) continue
      arm.current += arm.weight
      if (best === null || arm.current > best.current) best = arm
    }
    if (best !== null) best.current -= 100
    return best
  }

  private byShard(shard: number): Arm | null {
    const name = this.table.lookup(shard)
    for (const arm of this.arms) if (arm.api.name === name) return arm
    return null
  }

  /** Another API with weight, heaviest first, that has a ready replica. */
  private fallback(chosen: ApiRoute, request: RouteRequest): ReplicaRoute | null {
    const others = this.arms.filter((arm) => arm.api !== chosen && arm.weight > 0).sort((a, b) => b.weight - a.weight)
    for (const arm of others) {
      const route = arm.api.pick(request)
      if (route !== null) return route
    }
    return null
  }
}
