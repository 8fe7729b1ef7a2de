// Routing: which replica takes a request. Every policy (the least-loaded pick
// within an API today; a weighted split, a shadow or session affinity next)
// implements `Router`, and the gateway asks only this interface, so a policy is
// a module of its own rather than an `if` on the request path.
import type {IncomingHttpHeaders} from 'node:http'
import type {ReplicaRoute} from './replica-route.js'

/** What a router may look at: enough for a split by weight, a shard key or a session header. */
export interface RouteRequest {
  headers: IncomingHttpHeaders
  query: string
}

export interface Router {
  /** The API (or splitter) name that answers, for errors and metrics. */
  readonly name: string
  /** Every replica the router may pick, for status and draining. */
  readonly replicas: readonly ReplicaRoute[]
  /** The replica to admit the request on, or null when none is routable. */
  pick(request: RouteRequest): ReplicaRoute | null
}

/** One API's replicas: the ready replica holding the fewest requests; ties rotate so load spreads evenly. */
export class LeastLoadedRouter implements Router {
  private next = 0

  constructor(
    readonly name: string,
    readonly replicas: readonly ReplicaRoute[],
  ) {}

  pick(): ReplicaRoute | null {
    const {replicas} = this
    const n = replicas.length
    let best: ReplicaRoute | null = null
    let bestLoad = Infinity
    const start = this.next
    this.next = start + 1 === n ? 0 : start + 1
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
