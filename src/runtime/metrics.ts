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

/** The autoscaler's figures per API, read at scrape time. */
export interface AutoscalerGaugeSource {
  apis: () => Array<{api: string; desired: number; current: number; inFlight: number; events: {up: number; down: number}}>
}

/** The AsyncAPIs' figures, read at scrape time. */
export interface AsyncGaugeSource {
  (): Array<{api: string; queued: number; inProgress: number; jobs: Record<string, number>; retries: number; webhook: Record<string, number>}>
}

/** Each API's prediction cache, read at scrape time. */
export interface CacheGaugeSource {
  caches: () => Array<{api: string; cache: {hits: number; misses: number; evictions: {bounds: number; ttl: number}; entries: number; bytes: number}}>
}

/** The batch endpoint's counts per API (gateway/batch.ts), read at scrape time. */
export interface BatchCountSource {
  apis: ReadonlyMap<string, {requests: number; unique: number; duplicate: number; cached: number}>
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

  addAutoscaler(source: AutoscalerGaugeSource): void {
    const metric = this.perApi(() => source.apis().map((f) => [f.api, f] as const))
    metric.gauge('mlserve_autoscaler_desired_replicas', "The replica count the autoscaler wants for an API (Cortex's algorithm, after stabilization).", (f) => f.desired)
    metric.gauge('mlserve_autoscaler_current_replicas', "An API's replicas now, starting ones included.", (f) => f.current)
    metric.gauge('mlserve_autoscaler_in_flight', "An API's in-flight requests (running + queued) averaged over its window: the autoscaler's signal.", (f) => f.inFlight)
    metric.counterBy('mlserve_autoscaler_events_total', 'Scaling steps the autoscaler took for an API, by direction (up, down).', 'direction', (f) => ({up: f.events.up, down: f.events.down}))
  }

  addAsync(source: AsyncGaugeSource): void {
    const metric = this.perApi(() => source().map((f) => [f.api, f] as const))
    metric.gauge('mlserve_async_queue_length', "Jobs waiting in an AsyncAPI's queue (every runtime sharing the store).", (f) => f.queued)
    metric.gauge('mlserve_async_in_progress', "An AsyncAPI's jobs held under a lease, running (every runtime sharing the store).", (f) => f.inProgress)
    metric.counterBy('mlserve_async_jobs_total', 'Jobs of an AsyncAPI this runtime took in (submitted) and finished (completed, failed).', 'status', (f) => f.jobs)
    metric.counterBy('mlserve_async_webhook_total', 'Webhook calls by outcome: delivered, retried (a failed try tried again), failed (given up).', 'outcome', (f) => f.webhook)
    metric.counter('mlserve_async_retries_total', 'Jobs this runtime queued again because the runtime or replica running them died (at least once).', (f) => f.retries)
  }

  /** Each API's requests in this gateway, running and queued on its replicas (raw, not averaged): what an autoscaler outside sums across gateways. */
  addApiInFlight(source: () => Iterable<readonly [api: string, inFlight: number]>): void {
    this.perApi(source).gauge('mlserve_api_in_flight', "An API's requests in this gateway now, running and queued on its replicas (not averaged): the signal the Swarm autoscaler sums across gateway tasks.", (n) => n)
  }

  addCache(source: CacheGaugeSource): void {
    const metric = this.perApi(() => source.caches().map(({api, cache}) => [api, cache] as const))
    metric.counter('mlserve_cache_hits_total', "Requests answered from an API's prediction cache.", (c) => c.hits)
    metric.counter('mlserve_cache_misses_total', "Requests to an API with a prediction cache that went to a replica (not found, Cache-Control: no-cache or no-store, or a body that is not JSON).", (c) => c.misses)
    metric.counterBy('mlserve_cache_evictions_total', "Answers that left an API's prediction cache before a clear, by reason: bounds (max_entries or max_bytes) or ttl (expired).", 'reason', (c) => ({bounds: c.evictions.bounds, ttl: c.evictions.ttl}))
    metric.gauge('mlserve_cache_bytes', "Bytes of keys and answer bodies an API's prediction cache holds (at most max_bytes).", (c) => c.bytes)
    metric.gauge('mlserve_cache_entries', "Answers an API's prediction cache holds (at most max_entries).", (c) => c.entries)
  }

  addBatch(source: BatchCountSource): void {
    const metric = this.perApi(() => source.apis)
    metric.counter('mlserve_batch_requests_total', 'Batches an API answered at its batch endpoint (POST <endpoint>/batch) that reached the duplicate removal.', (c) => c.requests)
    metric.counterBy('mlserve_batch_items_total', "Items of an API's batches by outcome: unique (sent to a replica), duplicate (an earlier item's answer), cached (from the prediction cache).", 'outcome', (c) => ({unique: c.unique, duplicate: c.duplicate, cached: c.cached}))
  }

  /**
   * Makers of metrics labelled by API whose values are read from `rows` (API
   * name, that API's figures) at scrape time; `counterBy` adds a second label
   * whose values are the keys `read` returns.
   */
  private perApi<F>(rows: () => Iterable<readonly [api: string, figures: F]>): {
    gauge: (name: string, help: string, read: (figures: F) => number) => void
    counter: (name: string, help: string, read: (figures: F) => number) => void
    counterBy: (name: string, help: string, label: string, read: (figures: F) => Record<string, number>) => void
  } {
    const registers = [this.registry]
    return {
      gauge(name, help, read) {
        new Gauge({
          name,
          help,
          labelNames: ['api'],
          registers,
          collect() {
            this.reset()
            for (const [api, figures] of rows()) this.set({api}, read(figures))
          },
        })
      },
      counter(name, help, read) {
        new Counter({
          name,
          help,
          labelNames: ['api'],
          registers,
          collect() {
            this.reset()
            for (const [api, figures] of rows()) this.inc({api}, read(figures))
          },
        })
      },
      counterBy(name, help, label, read) {
        new Counter({
          name,
          help,
          labelNames: ['api', label],
          registers,
          collect() {
            this.reset()
            for (const [api, figures] of rows()) for (const [value, count] of Object.entries(read(figures))) this.inc({api, [label]: value}, count)
          },
        })
      },
    }
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
