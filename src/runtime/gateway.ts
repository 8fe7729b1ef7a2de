// The gateway: one port in front of every API's replicas. A POST to an API's
// endpoint is a prediction; it is admitted by the least-loaded ready replica's
// admission controller (run, queue, or shed with 503 + Retry-After), bounded by
// a timeout (504), and forwarded over a keep-alive pool to the replica.
import {createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {randomUUID} from 'node:crypto'
import {Pool, type Dispatcher} from 'undici'
import {mlserveError} from '../errors.js'
import {AdmissionController, type Ticket} from './admission.js'
import {RuntimeMetrics, type RequestObserver} from './metrics.js'
import type {Replica, ReplicaStatus} from './replica.js'

export interface GatewayApi {
  name: string
  endpoint: string
  maxReplicaConcurrency: number
  replicas: Replica[]
}

export interface GatewayOptions {
  host: string
  port: number
  /** End-to-end time limit per request, queueing included; past it the answer is 504. */
  timeoutMs: number
  maxBodyBytes: number
  /** Seconds a shed client is told to wait before retrying. */
  retryAfterSeconds: number
  accessLog?: (line: string) => void
  /** Who serves: reported by GET /status beside the APIs. */
  identity?: {pid: number; project: string}
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
}

const RESERVED_PATHS = new Set(['/metrics', '/healthz', '/readyz', '/status'])
export const reservedPaths = (): string[] => [...RESERVED_PATHS]

class ReplicaRoute {
  pool: Pool | null = null
  readonly admission: AdmissionController
  readonly observer: RequestObserver

  constructor(
    readonly replica: Replica,
    maxConcurrency: number,
    metrics: RuntimeMetrics,
    api: string,
  ) {
    const slots = replica.spec.processes * replica.spec.threads
    this.admission = new AdmissionController(slots, maxConcurrency)
    this.observer = metrics.observer(api, replica.id)
    metrics.addReplica({
      api,
      replica: replica.id,
      running: () => this.admission.runningCount,
      queued: () => this.admission.queuedCount,
      shed: () => this.admission.shedTotal,
      ready: () => this.isRoutable,
    })
    replica.on('ready', (origin: string) => this.connect(origin))
    replica.on('unready', () => this.disconnect())
    replica.on('slots', (slots: number) => this.admission.setSlots(slots))
    if (replica.ready && replica.origin) this.connect(replica.origin)
  }

  get isRoutable(): boolean {
    return this.pool !== null
  }

  private connect(origin: string): void {
    this.disconnect()
    const slots = this.replica.spec.processes * this.replica.spec.threads
    // One connection per slot: the harness gives each connection its own thread,
    // so this many connections run exactly processes × threads requests at once.
    this.pool = new Pool(origin, {connections: slots, pipelining: 1, keepAliveTimeout: 4_000})
    this.admission.setSlots(slots)
  }

  private disconnect(): void {
    const pool = this.pool
    this.pool = null
    this.admission.setSlots(0)
    if (pool) void pool.destroy().catch(() => undefined)
  }

  async close(): Promise<void> {
    const pool = this.pool
    this.pool = null
    if (pool) await pool.close().catch(() => undefined)
  }
}

class ApiRoute {
  private next = 0
  constructor(
    readonly api: GatewayApi,
    readonly routes: ReplicaRoute[],
  ) {}

  /** The ready replica holding the fewest requests; ties rotate so load spreads evenly. */
  pick(): ReplicaRoute | null {
    const {routes} = this
    const n = routes.length
    let best: ReplicaRoute | null = null
    let bestLoad = Infinity
    const start = this.next
    this.next = (this.next + 1) % n
    for (let i = 0; i < n; i++) {
      const route = routes[(start + i) % n]
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

export class Gateway {
  readonly metrics = new RuntimeMetrics()
  private readonly server: Server
  private readonly byEndpoint = new Map<string, ApiRoute>()
  private readonly apiRoutes: ApiRoute[] = []
  private draining = false
  private boundPort = 0

  constructor(
    apis: GatewayApi[],
    private readonly options: GatewayOptions,
  ) {
    for (const api of apis) {
      const routes = api.replicas.map((replica) => new ReplicaRoute(replica, api.maxReplicaConcurrency, this.metrics, api.name))
      const route = new ApiRoute(api, routes)
      this.apiRoutes.push(route)
      this.byEndpoint.set(api.endpoint, route)
    }
    this.server = createServer({keepAliveTimeout: 65_000, requestTimeout: 0}, (req, res) => this.handle(req, res))
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

  /** Requests running or queued across all replicas. */
  inFlight(): number {
    let total = 0
    for (const api of this.apiRoutes) for (const route of api.routes) total += route.admission.inFlight
    return total
  }

  /**
   * Stops taking new requests and waits (up to `deadlineMs`) for those in
   * flight to finish. New requests meanwhile get 503 with Connection: close.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true
    this.server.close()
    this.server.closeIdleConnections()
    const until = Date.now() + deadlineMs
    while (this.inFlight() > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  async close(): Promise<void> {
    this.draining = true
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    await Promise.all(this.apiRoutes.flatMap((api) => api.routes.map((route) => route.close())))
  }

  status(): ApiStatus[] {
    return this.apiRoutes.map(({api, routes}) => ({
      name: api.name,
      endpoint: api.endpoint,
      ready: routes.some((route) => route.isRoutable),
      replicas: routes.map((route) => ({
        ...route.replica.status(),
        ready: route.isRoutable,
        running: route.admission.runningCount,
        queued: route.admission.queuedCount,
        shed: route.admission.shedTotal,
        slots: route.admission.capacity,
        maxReplicaConcurrency: route.admission.maxConcurrency,
      })),
    }))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const api = this.byEndpoint.get(path)
    if (api === undefined) {
      this.handleControl(req, res, path)
      return
    }
    if (req.method !== 'POST') {
      req.resume()
      sendJson(res, 405, {error: `${req.method} is not allowed on ${path}; send predictions with POST.`}, {Allow: 'POST'})
      return
    }
    this.predict(req, res, api, q === -1 ? '' : url.slice(q))
  }

  private predict(req: IncomingMessage, res: ServerResponse, api: ApiRoute, query: string): void {
    const started = process.hrtime.bigint()
    const header = req.headers['x-request-id']
    const requestId = typeof header === 'string' && header.length > 0 && header.length <= 200 ? header : randomUUID()
    res.setHeader('X-Request-ID', requestId)
    const apiName = api.api.name
    const retryAfter = String(this.options.retryAfterSeconds)

    if (this.draining) {
      req.resume()
      sendJson(res, 503, {error: 'The gateway is shutting down.', api: apiName}, {'Retry-After': retryAfter, Connection: 'close'})
      return
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > this.options.maxBodyBytes) {
      this.rejectTooLarge(req, res)
      return
    }
    const route = api.pick()
    if (route === null) {
      req.resume()
      sendJson(res, 503, {error: `No replica of API "${apiName}" is ready.`, api: apiName}, {'Retry-After': retryAfter})
      return
    }
    const ticket = route.admission.admit()
    if (ticket === null) {
      req.resume()
      sendJson(
        res,
        503,
        {
          error: `API "${apiName}" is at capacity: every ready replica holds max_replica_concurrency (${route.admission.maxConcurrency}) requests.`,
          api: apiName,
          max_replica_concurrency: route.admission.maxConcurrency,
        },
        {'Retry-After': retryAfter},
      )
      this.finished(req, route, 503, started, requestId)
      return
    }
    new Exchange(this, req, res, route, ticket, requestId, started, query).start()
  }

  /** Records a finished request: metrics and, when enabled, the access log. */
  finished(req: IncomingMessage, route: ReplicaRoute, code: number, started: bigint, requestId: string): void {
    const seconds = elapsedSeconds(started)
    route.observer.observe(code, seconds)
    if (this.options.accessLog) {
      this.options.accessLog(`${req.socket.remoteAddress ?? '-'} "${req.method} ${req.url}" ${code} ${(seconds * 1000).toFixed(1)}ms replica=${route.replica.id} id=${requestId}`)
    }
  }

  get timeoutMs(): number {
    return this.options.timeoutMs
  }

  get maxBodyBytes(): number {
    return this.options.maxBodyBytes
  }

  get retryAfterSeconds(): number {
    return this.options.retryAfterSeconds
  }

  rejectTooLarge(req: IncomingMessage, res: ServerResponse): void {
    sendJson(res, 413, {error: `The request body exceeds the limit of ${this.options.maxBodyBytes} bytes.`}, {Connection: 'close'})
    req.destroy()
  }

  private handleControl(req: IncomingMessage, res: ServerResponse, path: string): void {
    req.resume()
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 404, {error: `No API is served at ${path}.`, endpoints: [...this.byEndpoint.keys()]})
      return
    }
    switch (path) {
      case '/healthz':
        sendJson(res, 200, {status: 'ok'})
        return
      case '/readyz': {
        const ready = this.apiRoutes.every((api) => api.routes.some((route) => route.isRoutable))
        sendJson(res, ready && !this.draining ? 200 : 503, {ready: ready && !this.draining})
        return
      }
      case '/status':
        sendJson(res, 200, {url: this.url, ...this.options.identity, draining: this.draining, apis: this.status()})
        return
      case '/metrics':
        this.metrics.render().then(
          ({contentType, body}) => {
            res.writeHead(200, {'content-type': contentType})
            res.end(body)
          },
          (error: Error) => sendJson(res, 500, {error: error.message}),
        )
        return
      default:
        sendJson(res, 404, {error: `No API is served at ${path}.`, endpoints: [...this.byEndpoint.keys()]})
    }
  }
}

/**
 * One admitted request, from its body arriving to its answer: it waits for a
 * slot, forwards the body to the replica through undici's raw dispatch API (no
 * streams or promises on this path), and ends early on timeout (504) or when
 * the client leaves, freeing its place in the queue or its slot.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private settled: 'timeout' | 'client' | null = null
  private done = false
  private readonly chunks: Buffer[] = []
  private size = 0
  private body: Buffer | null = null
  private timer: NodeJS.Timeout | null = null
  private upstream: Dispatcher.DispatchController | null = null
  private status = 0
  private contentType: string | undefined
  private readonly response: Buffer[] = []

  constructor(
    private readonly gateway: Gateway,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: ReplicaRoute,
    private readonly ticket: Ticket,
    private readonly requestId: string,
    private readonly started: bigint,
    private readonly query: string,
  ) {}

  start(): void {
    this.timer = setTimeout(() => this.end('timeout'), this.gateway.timeoutMs)
    this.res.once('close', () => {
      if (!this.res.writableFinished) this.end('client')
    })
    const {req} = this
    req.on('data', (chunk: Buffer) => {
      if (this.done) return
      this.size += chunk.length
      if (this.size > this.gateway.maxBodyBytes) {
        this.ticket.release()
        this.finish(413, () => this.gateway.rejectTooLarge(req, this.res))
        return
      }
      this.chunks.push(chunk)
    })
    req.once('end', () => {
      if (this.done) return
      this.body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size)
      if (this.ticket.state === 'running') this.dispatch()
      else void this.ticket.granted.then((outcome) => (outcome === 'granted' ? this.dispatch() : this.fail()))
    })
    req.once('error', () => this.end('client'))
  }

  private dispatch(): void {
    if (this.done) return
    if (this.settled) {
      this.fail()
      return
    }
    const pool = this.route.pool
    if (pool === null) {
      this.ticket.release()
      this.finish(503, () =>
        sendJson(this.res, 503, {error: `Replica ${this.route.replica.id} stopped before the request ran.`}, {'Retry-After': String(this.gateway.retryAfterSeconds)}),
      )
      return
    }
    const headers: string[] = ['x-request-id', this.requestId]
    const contentType = this.req.headers['content-type']
    if (contentType) headers.push('content-type', contentType)
    const accept = this.req.headers.accept
    if (accept) headers.push('accept', accept)
    pool.dispatch(
      {path: this.route.replica.spec.predictPath + this.query, method: 'POST', headers, body: this.body, headersTimeout: 0, bodyTimeout: 0},
      this,
    )
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.upstream = controller
    if (this.settled) controller.abort(new Error(this.settled))
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode
    const type = headers['content-type']
    this.contentType = typeof type === 'string' ? type : undefined
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.response.push(chunk)
  }

  onResponseEnd(): void {
    this.ticket.release()
    if (this.settled) {
      this.fail()
      return
    }
    const payload = this.response.length === 1 ? this.response[0] : Buffer.concat(this.response)
    this.finish(this.status, () => {
      const headers: Record<string, string> = {'content-length': String(payload.length)}
      if (this.contentType) headers['content-type'] = this.contentType
      this.res.writeHead(this.status, headers)
      this.res.end(payload)
    })
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.ticket.release()
    if (this.settled) {
      this.fail()
      return
    }
    this.finish(502, () =>
      sendJson(this.res, 502, {error: `Replica ${this.route.replica.id} failed to answer: ${error.message}`, api: this.route.replica.spec.api}),
    )
  }

  /**
   * Ends the exchange early. Frees the queue position or the slot at once; the
   * replica's thread may still be busy, but its connection closes, so the next
   * request waits in the replica's backlog rather than running over the limit.
   */
  private end(reason: 'timeout' | 'client'): void {
    if (this.settled || this.done) return
    this.settled = reason
    const wasRunning = this.ticket.state === 'running'
    this.ticket.release()
    if (this.upstream) this.upstream.abort(new Error(reason))
    else if (!wasRunning || this.body === null) this.fail()
  }

  /** Answers a request that ended early: 504 on timeout; nothing to send when the client left (logged as 499, nginx's code). */
  private fail(): void {
    if (this.settled === 'timeout') {
      this.finish(504, () =>
        sendJson(this.res, 504, {error: `The request did not finish within the gateway timeout of ${this.gateway.timeoutMs} ms.`}),
      )
    } else {
      this.finish(499, () => undefined)
    }
  }

  private finish(code: number, respond: () => void): void {
    if (this.done) return
    this.done = true
    if (this.timer) clearTimeout(this.timer)
    respond()
    this.gateway.finished(this.req, this.route, code, this.started, this.requestId)
  }
}

function elapsedSeconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers})
  res.end(text)
}
