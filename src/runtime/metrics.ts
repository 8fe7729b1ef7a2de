// Prometheus metrics of a runtime, per API and per replica. Gauges for queue
// state are read from the admission controllers at scrape time rather than
// updated on every request, which keeps the request path free of them.
import {Counter, Gauge, Histogram, Registry} from 'prom-client'

export interface ReplicaGaugeSource {
  api: string
  replica: string
  running: () => number
  queued: () => number
  shed: () => number
  ready: () => boolean
}

// Seconds; spans sub-millisecond no-op predictors up to the 29 s of an API gateway.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The traffic policies' figures, read at scrape time. */
export interface TrafficGaugeSource {
  weights: () => Array<{splitter: string; api: string; weight: number}>
  shadows: () => Array<{api: string; sent: number; completed: number; shed: number; failed: number}>
}

export interface RequestObserver {
  observe(code: number, seconds: number): void
}

export class RuntimeMetrics {
  readonly registry = new Registry()
  private readonly sources: ReplicaGaugeSource[] = []
  private readonly duration: Histogram<'api' | 'replica'>
  private readonly requests: Counter<'api' | 'replica' | 'code'>
  private readonly observers = new Map<string, RequestObserver>()

  constructor() {
    const sources = this.sources
    const gauge = (name: string, help: string, read: (s: ReplicaGaugeSource) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['api', 'replica'],
        registers: [this.registry],
        collect() {
          this.reset()
          for (const s of sources) this.set({api: s.api, replica: s.replica}, read(s))
        },
      })
    }
    gauge('mlserve_requests_in_flight', 'Requests a replica is running now (at most processes × threads).', (s) => s.running())
    gauge('mlserve_requests_queued', "Requests waiting in a replica's queue.", (s) => s.queued())
    gauge('mlserve_replica_ready', 'Whether the replica takes traffic (1) or not (0).', (s) => (s.ready() ? 1 : 0))
    new Counter({
      name: 'mlserve_requests_shed_total',
      help: 'Requests answered 503 at once because the replica held max_replica_concurrency requests.',
      labelNames: ['api', 'replica'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const s of sources) this.inc({api: s.api, replica: s.replica}, s.shed())
      },
    })
    this.requests = new Counter({
      name: 'mlserve_requests_total',
      help: 'Requests answered by the gateway, by status code.',
      labelNames: ['api', 'replica', 'code'],
      registers: [this.registry],
    })
    this.duration = new Histogram({
      name: 'mlserve_request_duration_seconds',
      help: 'Time from a request reaching the gateway to its response, queueing included.',
      labelNames: ['api', 'replica'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    })
  }

  addTraffic(source: TrafficGaugeSource): void {
    new Gauge({
      name: 'mlserve_traffic_weight',
      help: "A TrafficSplitter's weight for one of its APIs: the percentage of its requests that API receives.",
      labelNames: ['splitter', 'api'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const w of source.weights()) this.set({splitter: w.splitter, api: w.api}, w.weight)
      },
    })
    new Counter({
      name: 'mlserve_shadow_copies_total',
      help: 'Copies of requests sent to an API as a shadow, by outcome: sent (dispatched), completed, failed (5xx or no answer), shed (no free slot, never queued).',
      labelNames: ['api', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const s of source.shadows()) {
          if (s.sent + s.shed === 0) continue
          for (const outcome of ['sent', 'completed', 'failed', 'shed'] as const) this.inc({api: s.api, outcome}, s[outcome])
        }
      },
    })
  }

  addReplica(source: ReplicaGaugeSource): void {
    this.sources.push(source)
  }

  /** A replica retired (mlserve apply): its gauges go; its counters stay, as Prometheus counters must. */
  removeReplica(source: ReplicaGaugeSource): void {
    const i = this.sources.indexOf(source)
    if (i !== -1) this.sources.splice(i, 1)
  }

  /** A pre-bound observer for one API and replica, so the request path does no label lookups. */
  observer(api: string, replica: string): RequestObserver {
    const key = `${api}\u0000${replica}`
    let observer = this.observers.get(key)
    if (!observer) {
      const histogram = this.duration.labels({api, replica})
      const counters = new Map<number, Counter.Internal>()
      const requests = this.requests
      observer = {
        observe(code, seconds) {
          histogram.observe(seconds)
          let counter = counters.get(code)
          if (!counter) {
            counter = requests.labels({api, replica, code: String(code)})
            counters.set(code, counter)
          }
          counter.inc()
        },
      }
      this.observers.set(key, observer)
    }
    return observer
  }

  async render(): Promise<{contentType: string; body: string}> {
    return {contentType: this.registry.contentType, body: await this.registry.metrics()}
  }
}
