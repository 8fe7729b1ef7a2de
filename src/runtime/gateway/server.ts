// The gateway: one port in front of every API's replicas. A POST to an API's
// endpoint becomes an Exchange, placed by that endpoint's Router; every other
// path is a control route. The server owns what is per connection: the
// header and body deadlines (408), parser errors (400), draining, and the one
// place where each answer is counted and logged.
import {randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {mlserveError} from '../../errors.js'
import type {AutoscalerStatus} from '../autoscale/index.js'
import {RuntimeMetrics} from '../metrics.js'
import type {Replica, ReplicaStatus} from '../replica.js'
import {lingerAfter, rawError, sendError} from './answers.js'
import {answerControl, type ControlState} from './control.js'
import {ApiRoute} from './api-route.js'
import {BatchCounts, batchEndpointOf, DEFAULT_BATCH_SETTINGS, serveBatch, type BatchContext, type BatchSettings} from './batch.js'
import type {CacheConfig} from './cache.js'
import {Exchange, receivingExchange, type ExchangePolicy} from './exchange.js'
import type {ReplicaRoute} from './replica-route.js'
import type {Router} from './routing.js'
import {ShadowMirror} from './shadow.js'
import {SplitRouter} from './split.js'
import {answerTraffic, isTrafficPath, refuseControlPeer, STATUS_PATH, type TrafficState} from './traffic-routes.js'
import type {SplitterStatus, TrafficStatus} from './traffic-types.js'
import {formatWeights} from './weights.js'

/** The AsyncAPIs' job routes (src/runtime/async): asked before the routers, so a job path never reaches a replica directly. */
export interface JobRouteTable {
  match(path: string): {api: string; answer: (req: IncomingMessage, res: ServerResponse) => Promise<number>} | null
}

export interface GatewayApi {
  name: string
  endpoint: string
  maxReplicaConcurrency: number
  replicas: Replica[]
  /** Its prediction cache (null or absent: none), for answers of `version`. */
  cache?: CacheConfig | null
  version?: string
}

/** A TrafficSplitter as the gateway serves it. */
export interface GatewaySplitter {
  name: string
  endpoint: string
  /** The non-shadow APIs and their weights (adding up to 100). */
  apis: Array<{name: string; weight: number}>
  shadow: {api: string; percent: number} | null
}

/** The gateway's address and limits: what a runtime plan decides for it. */
export interface GatewayLimits {
  host: string
  port: number
  /** From a request's complete body to its answer, queueing included; past it the answer is 504. */
  timeoutMs: number
  maxBodyBytes: number
  /** Seconds a shed client is told to wait before retrying. */
  retryAfterSeconds: number
  /** Time allowed for a request's headers, from the connection opening or the previous request (slowloris guard); 408 past it. */
  headersTimeoutMs: number
  /** Time allowed for a whole request, headers and body, to arrive (slow-upload guard); 408 past it. */
  requestTimeoutMs: number
}

export interface GatewayOptions extends GatewayLimits {
  accessLog?: (line: string) => void
  /** Who serves: reported by GET /status beside the APIs. */
  identity?: {pid: number; project: string}
  splitters?: GatewaySplitter[]
  /** The runtime's token: what changes state through the traffic routes must carry it. Null: nothing may. */
  token?: string | null
  /**
   * Who may use the control routes (/traffic…, /apply, /status): 'loopback'
   * (default) answers this machine only; 'token' also answers peers elsewhere
   * that carry the token, for any method (a gateway in a container sees the
   * host's requests come from the bridge). /healthz, /readyz, /metrics stay open.
   */
  control?: 'loopback' | 'token'
  /** Applies a new plan (POST /apply, from mlserve apply). */
  apply?: (plan: unknown) => Promise<{changes: string[]}>
  /** An API's autoscaler figures, for GET /status. */
  autoscaler?: (api: string) => AutoscalerStatus | null
  /** An API's batch endpoint settings (predictor.batch_endpoint); absent or null: the defaults. */
  batch?: (api: string) => BatchSettings | null | undefined
}

export interface ReplicaLoad extends ReplicaStatus {
  running: number
  queued: number
  shed: number
  slots: number
  maxReplicaConcurrency: number
}

export interface ApiStatus {
  name: string
  endpoint: string
  ready: boolean
  replicas: ReplicaLoad[]
  /** current, desired and the reason (null when the gateway runs without a runtime's autoscaler). */
  autoscaler?: AutoscalerStatus | null
}

// Node checks header and request deadlines on this period (its default, 30 s,
// would let a slowloris socket live 30 s past its deadline).
const DEADLINE_CHECK_MS = 1_000
const KEEP_ALIVE_MS = 65_000
/** The api and replica labels of an answer no API or replica was chosen for. */
const NONE = '-'
/** The replica label of an answer the prediction cache gave. */
const CACHE = 'cache'

export class Gateway {
  readonly metrics = new RuntimeMetrics()
  private readonly server: Server
  /** What each endpoint routes by: an API's own replicas, or a splitter. */
  private readonly routers = new Map<string, Router>()
  private readonly apis = new Map<string, ApiRoute>()
  private readonly splitters = new Map<string, SplitRouter>()
  private readonly traffic: TrafficState
  private readonly policy: ExchangePolicy
  private readonly control: ControlState
  private draining = false
  private boundPort = 0
  /** Exchanges not yet answered (any phase), so a drain also waits for bodies still arriving. */
  private open = 0
  private jobs: JobRouteTable | null = null
  private readonly batchCounts = new BatchCounts()

  constructor(
    apis: GatewayApi[],
    private readonly options: GatewayOptions,
  ) {
    for (const api of apis) this.addApi(api)
    for (const splitter of options.splitters ?? []) this.addSplitter(splitter)
    this.metrics.addCache({
      caches: () => [...this.apis.values()].flatMap((api) => (api.cache ? [{api: api.name, cache: api.cache}] : [])),
    })
    this.metrics.addBatch(this.batchCounts)
    this.metrics.addApiInFlight(() => [...this.apis.values()].map((api) => [api.name, api.inFlight] as const))
    this.metrics.addTraffic({
      weights: () => [...this.splitters.values()].flatMap((split) => Object.entries(split.weights).map(([api, weight]) => ({splitter: split.name, api, weight}))),
      shadows: () => [...this.apis.values()].map((api) => ({api: api.name, ...api.figures.shadow})),
    })
    this.policy = {timeoutMs: options.timeoutMs, maxBodyBytes: options.maxBodyBytes, retryAfter: String(options.retryAfterSeconds)}
    this.server = createServer(
      {
        keepAliveTimeout: KEEP_ALIVE_MS,
        headersTimeout: options.headersTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        connectionsCheckingInterval: DEADLINE_CHECK_MS,
      },
      (req, res) => this.handle(req, res),
    )
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.clientError(error, socket))
    this.control = {
      ready: () => !this.draining && [...this.apis.values()].every((api) => api.isRoutable),
      status: () => ({url: this.url, ...this.options.identity, draining: this.draining, apis: this.status(), splitters: this.splitterStatus()}),
      metrics: () => this.metrics.render(),
      endpoints: () => [...this.routers.keys()],
    }
    this.traffic = {
      token: options.token ?? null,
      control: options.control ?? 'loopback',
      status: () => this.trafficStatus(),
      splitter: (name) => this.splitters.get(name),
      splitterNames: () => [...this.splitters.keys()],
      setWeights: (splitter, weights) => {
        const problem = splitter.setWeights(weights)
        if (problem === null) this.options.accessLog?.(`traffic: ${splitter.name} weights ${formatWeights(splitter.status().previous)} → ${formatWeights(splitter.weights)}`)
        return problem
      },
      rollback: (splitter) => {
        const done = splitter.rollback(this.apis)
        if (done) this.options.accessLog?.(`traffic: ${splitter.name} rolled back to ${formatWeights(splitter.weights)}`)
        return done
      },
      apply: options.apply,
    }
  }

  /** Puts an API behind its endpoint (at start, and when mlserve apply adds one). */
  addApi(api: GatewayApi): ApiRoute {
    const route = new ApiRoute(api.name, api.endpoint, api.maxReplicaConcurrency, this.metrics)
    for (const replica of api.replicas) route.add(replica)
    route.useCache(api.cache ?? null, api.version ?? '')
    this.apis.set(api.name, route)
    this.routers.set(api.endpoint, route)
    return route
  }

  /** Serves AsyncAPIs' job routes: POST <endpoint> and GET <endpoint>/<id>. */
  serveJobs(routes: JobRouteTable): void {
    this.jobs = routes
  }

  api(name: string): ApiRoute | undefined {
    return this.apis.get(name)
  }

  /** Takes an API's endpoint away (its replicas are then retired by the caller). */
  removeApi(name: string): ApiRoute | undefined {
    const api = this.apis.get(name)
    if (!api) return undefined
    this.apis.delete(name)
    if (this.routers.get(api.endpoint) === api) this.routers.delete(api.endpoint)
    return api
  }

  /** Serves a TrafficSplitter at its endpoint; its APIs must already be served. */
  addSplitter(splitter: GatewaySplitter): SplitRouter {
    const arms = splitter.apis.map(({name, weight}) => ({api: this.apis.get(name)!, weight}))
    const shadow = splitter.shadow ? new ShadowMirror(this.apis.get(splitter.shadow.api)!, splitter.shadow.percent, this.options.timeoutMs) : null
    const router = new SplitRouter(splitter.name, splitter.endpoint, arms, shadow)
    this.splitters.set(splitter.name, router)
    this.routers.set(splitter.endpoint, router)
    return router
  }

  splitter(name: string): SplitRouter | undefined {
    return this.splitters.get(name)
  }

  removeSplitter(name: string): void {
    const splitter = this.splitters.get(name)
    if (!splitter) return
    this.splitters.delete(name)
    if (this.routers.get(splitter.endpoint) === splitter) this.routers.delete(splitter.endpoint)
  }

  /** Every API may be a splitter's target; new ones (mlserve apply) included. */
  apiRoutes(): ReadonlyMap<string, ApiRoute> {
    return this.apis
  }

  splitterStatus(): SplitterStatus[] {
    return [...this.splitters.values()].map((splitter) => splitter.status())
  }

  trafficStatus(): TrafficStatus {
    return {
      splitters: this.splitterStatus(),
      apis: Object.fromEntries(
        [...this.apis.values()].map((api) => [api.name, api.figures.snapshot(api.endpoint, api.replicas.length, api.replicas.filter((route) => route.isRoutable).length)]),
      ),
    }
  }

  get port(): number {
    return this.boundPort
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
    return `http://${host}:${this.boundPort}`
  }

  /** Binds the port; fails with MLS_PORT_IN_USE before anything else starts. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        if (error.code === 'EADDRINUSE') reject(mlserveError('MLS_PORT_IN_USE', {port: this.options.port, host: this.options.host}))
        else reject(error)
      }
      this.server.once('error', onError)
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError)
        const address = this.server.address()
        this.boundPort = typeof address === 'object' && address ? address.port : this.options.port
        resolve()
      })
    })
  }

  /** Requests not yet answered: being received, queued or running. */
  inFlight(): number {
    return this.open
  }

  /** Slots and queue places held, including those of answered requests whose replica still works on them (after a 504 or a client that left). */
  private held(): number {
    let total = 0
    for (const api of this.apis.values()) for (const route of api.replicas) total += route.admission.inFlight
    return total
  }

  /**
   * Stops taking new requests and waits (up to `deadlineMs`) for those in
   * flight to finish. The port stays open meanwhile: a new request gets 503
   * "shutting down" with Retry-After and Connection: close, not a refused
   * connection.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true
    this.server.closeIdleConnections()
    const until = Date.now() + deadlineMs
    while ((this.open > 0 || this.held() > 0) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  async close(): Promise<void> {
    this.draining = true
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
    await Promise.all([...this.apis.values()].flatMap((api) => api.replicas.map((route) => route.close())))
  }

  status(): ApiStatus[] {
    return [...this.apis.values()].map((api) => ({
      name: api.name,
      endpoint: api.endpoint,
      ready: api.isRoutable,
      replicas: api.replicas.map((route) => ({
        ...route.replica.status(),
        ready: route.isRoutable,
        running: route.admission.runningCount,
        queued: route.admission.queuedCount,
        shed: route.admission.shedTotal,
        slots: route.admission.capacity,
        maxReplicaConcurrency: route.admission.maxConcurrency,
      })),
      autoscaler: this.options.autoscaler?.(api.name) ?? null,
    }))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now()
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    let router = this.routers.get(path)
    const job = this.jobs?.match(path)
    if (job && (router === undefined || router.name === job.api)) {
      this.open++
      void job.answer(req, res).then(
        (code) => this.record(req, job.api, null, code, started, NONE),
        () => res.destroy(),
      ).finally(() => this.open--)
      return
    }
    // POST <endpoint>/batch: the endpoint's batch route (batch.ts); config checks keep any endpoint from taking it.
    const batchOf = router === undefined ? batchEndpointOf(path) : null
    if (batchOf !== null) router = this.routers.get(batchOf)
    if (router === undefined) {
      if (isTrafficPath(path)) {
        void answerTraffic(req, res, path, q === -1 ? '' : url.slice(q), this.traffic).then((code) => {
          if (code >= 400) this.record(req, NONE, null, code, started, NONE)
        })
        return
      }
      // A gateway that answers peers elsewhere keeps its live state (replica origins, loads) for its token's holders; probes and metrics stay open.
      const refused = path === STATUS_PATH ? refuseControlPeer(req, res, path, this.traffic) : null
      const code = refused ?? answerControl(req, res, path, this.control)
      if (code >= 400) this.record(req, NONE, null, code, started, NONE)
      return
    }
    const header = req.headers['x-request-id']
    const requestId = typeof header === 'string' && header.length > 0 && header.length <= 200 ? header : randomUUID()
    res.setHeader('X-Request-ID', requestId)
    if (router.answersAs !== null) res.setHeader('X-Mlserve-Api', router.answersAs)

    if (req.method !== 'POST') {
      req.resume()
      const code = sendError(res, 'MLS_GATEWAY_METHOD_NOT_ALLOWED', {method: req.method ?? '?', path, allowed: 'POST'}, {headers: {Allow: 'POST'}})
      this.record(req, router.name, null, code, started, requestId)
      return
    }
    if (this.draining) {
      req.resume()
      const code = sendError(res, 'MLS_GATEWAY_DRAINING', {}, {extra: {api: router.name}, headers: {'Retry-After': this.policy.retryAfter, Connection: 'close'}})
      this.record(req, router.name, null, code, started, requestId)
      return
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > this.policy.maxBodyBytes) {
      const code = sendError(res, 'MLS_GATEWAY_BODY_TOO_LARGE', {limit: this.policy.maxBodyBytes}, {headers: {Connection: 'close'}})
      lingerAfter(res, req.socket)
      this.record(req, router.name, null, code, started, requestId)
      return
    }
    if (batchOf !== null) {
      this.open++
      serveBatch(req, res, router, this.batchContext(req, requestId, started), requestId, path, q === -1 ? '' : url.slice(q))
      return
    }
    const exchange = new Exchange(req, res, router, this.policy, this.finished, requestId, started, q === -1 ? '' : url.slice(q))
    this.open++
    exchange.start()
  }

  private batchContext(req: IncomingMessage, requestId: string, started: number): BatchContext {
    return {
      ...this.policy,
      apiFor: (router, request) => {
        if (router instanceof ApiRoute) return router
        const route = router.pick(request)
        return route === null ? null : this.apis.get(route.api) ?? null
      },
      settings: (api) => this.options.batch?.(api) ?? DEFAULT_BATCH_SETTINGS,
      counts: this.batchCounts,
      finished: (api, code) => {
        this.open--
        this.record(req, api, null, code, started, requestId)
      },
    }
  }

  private readonly finished = (exchange: Exchange, code: number, route: ReplicaRoute | null): void => {
    this.open--
    this.record(exchange.req, exchange.api, route, code, exchange.startedAt, exchange.requestId, exchange.fromCache ? CACHE : NONE)
  }

  /** Counts an answer in mlserve_requests_total and the request-duration histogram, and writes the access log line. */
  private record(req: IncomingMessage, api: string, route: ReplicaRoute | null, code: number, started: number, requestId: string, replica = NONE): void {
    const seconds = (performance.now() - started) / 1000
    const observer = route ? route.observer : this.metrics.observer(api, replica)
    observer.observe(code, seconds)
    ;(route ? route.figures : this.apis.get(api)?.figures)?.observe(code, seconds)
    if (this.options.accessLog) {
      this.options.accessLog(
        `${req.socket.remoteAddress ?? NONE} "${req.method} ${req.url}" ${code} ${(seconds * 1000).toFixed(1)}ms api=${api} replica=${route?.id ?? replica} id=${requestId}`,
      )
    }
  }

  /**
   * A connection whose request never reached a complete exchange: a header or
   * body deadline passed (408), or the request was not valid HTTP (400).
   * Answered from the registry and counted; the socket is then closed.
   */
  private clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const exchange = receivingExchange(socket)
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    const response = timeout
      ? rawError('MLS_GATEWAY_REQUEST_TIMEOUT', exchange ? {part: 'body', seconds: this.options.requestTimeoutMs / 1000} : {part: 'headers', seconds: this.options.headersTimeoutMs / 1000})
      : rawError('MLS_GATEWAY_BAD_REQUEST', {reason: parserReason(error.code)})
    const status = timeout ? 408 : 400
    const inFlightAnswer = (socket as Socket & {_httpMessage?: ServerResponse | null})._httpMessage
    if (!inFlightAnswer || !inFlightAnswer.headersSent) socket.end(response)
    if (exchange) exchange.abortReceiving(status)
    else this.metrics.observer(NONE, NONE).observe(status, 0)
    socket.destroySoon()
  }
}

/** Node's parser codes, in words a client can act on. */
function parserReason(code: string | undefined): string {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'the headers are too large'
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'a chunk size is not hexadecimal'
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return 'Content-Length is sent with Transfer-Encoding'
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'the Transfer-Encoding is not valid'
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'Content-Length is not valid'
    default:
      return 'the request line or a header is malformed'
  }
}
