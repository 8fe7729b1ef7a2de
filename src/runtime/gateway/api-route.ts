// One API as the gateway sees it: its replicas (which `mlserve apply` may
// replace one by one), its admission limit, its figures, and how a request
// picks a replica within it: by shard key when the request has one, so a
// session's state and caches stay warm on one replica, else the least loaded.
import type {RuntimeMetrics} from '../metrics.js'
import type {Replica} from '../replica.js'
import {PredictionCache, type CacheConfig} from './cache.js'
import {ApiFigureRecorder} from './figures.js'
import {ReplicaRoute} from './replica-route.js'
import {rendezvousPick} from './rendezvous.js'
import {shardOf, type RouteRequest, type Router} from './routing.js'

const WAIT_MS = 25

export class ApiRoute implements Router {
  readonly figures = new ApiFigureRecorder()
  private routes: ReplicaRoute[] = []
  private next = 0
  readonly answersAs: string
  /** The API's prediction cache (predictor.cache), or null: then the request path never parses a body. */
  cache: PredictionCache | null = null

  constructor(
    readonly name: string,
    public endpoint: string,
    private maxConcurrency: number,
    private readonly metrics: RuntimeMetrics,
  ) {
    this.answersAs = name
  }

  get replicas(): readonly ReplicaRoute[] {
    return this.routes
  }

  get maxReplicaConcurrency(): number {
    return this.maxConcurrency
  }

  get isRoutable(): boolean {
    return this.routes.some((route) => route.isRoutable)
  }

  /** Requests its replicas hold, running and queued: the autoscaler's signal. */
  get inFlight(): number {
    let total = 0
    for (const route of this.routes) total += route.admission.inFlight
    return total
  }

  /** Puts a replica behind this API; it takes traffic once it is ready. */
  add(replica: Replica): ReplicaRoute {
    const route = new ReplicaRoute(replica, this.maxConcurrency, this.metrics, this.name)
    route.figures = this.figures
    this.routes = [...this.routes, route]
    return route
  }

  /**
   * Takes a replica out of routing, then waits (up to `deadlineMs`) until the
   * requests it holds have finished: no new request reaches it, and none it
   * holds is dropped. The caller stops the replica afterwards.
   */
  async retire(route: ReplicaRoute, deadlineMs: number): Promise<void> {
    this.routes = this.routes.filter((candidate) => candidate !== route)
    const until = Date.now() + deadlineMs
    while (route.admission.inFlight > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, WAIT_MS))
    await route.close()
  }

  /** An API's own endpoint answers as the API itself. */
  choose(): ApiRoute {
    return this
  }

  /**
   * Serves answers from a cache of this config and version: the one held when
   * both are the same (its answers stay valid), else a new, empty one that
   * keeps the counts (Prometheus counters only grow). A null config: no cache.
   */
  useCache(config: CacheConfig | null, version: string): void {
    const held = this.cache
    if (config === null) this.cache = null
    else if (!held || held.version !== version || !sameCacheConfig(held.config, config)) this.cache = new PredictionCache(config, version, {}, held ?? undefined)
  }

  pick(request: RouteRequest): ReplicaRoute | null {
    const shard = shardOf(request)
    return shard === null ? this.leastLoaded() : this.byShard(shard)
  }

  /** The replica a shard key maps to (rendezvous hashing: a replica joining or leaving moves only its own keys); past its admission limit, the next one in the key's order. */
  private byShard(shard: number): ReplicaRoute | null {
    return rendezvousPick(shard, this.routes, hasRoom) ?? rendezvousPick(shard, this.routes, isRoutable)
  }

  /** The ready replica holding the fewest requests; ties rotate so load spreads evenly. */
  private leastLoaded(): ReplicaRoute | null {
    const replicas = this.routes
    const n = replicas.length
    let best: ReplicaRoute | null = null
    let bestLoad = Infinity
    const start = this.next < n ? this.next : 0
    this.next = start + 1 >= n ? 0 : start + 1
    for (let i = 0; i < n; i++) {
      const j = start + i
      const route = replicas[j < n ? j : j - n]
      if (!route.isRoutable) continue
      const load = route.admission.inFlight
      if (load < bestLoad) {
        best = route
        bestLoad = load
      }
    }
    return best
  }
}

const sameCacheConfig = (a: CacheConfig, b: CacheConfig): boolean => a.maxEntries === b.maxEntries && a.maxBytes === b.maxBytes && a.ttlMs === b.ttlMs
const isRoutable = (route: ReplicaRoute): boolean => route.isRoutable
const hasRoom = (route: ReplicaRoute): boolean => route.isRoutable && !route.admission.full
