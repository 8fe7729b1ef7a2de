// One prediction, from its first body byte to its answer. The body is read in
// full (bounded by max_body_bytes) before the request asks for admission, so a
// slow upload never holds a replica slot. Then it is placed on the replica the
// router picks (run, queue, or shed), forwarded through undici's raw dispatch
// API (no streams or promises on this path), and bounded by the gateway
// timeout.
//
// When a running request times out (504) or its client leaves (499), the
// replica's thread is still busy with it: the exchange keeps the slot until the
// replica answers, so admission never sends the next request into a thread
// that is still working on the abandoned one. Placing and forwarding are
// placement.ts's, shared with the gateway's internal call (dispatch.ts).
import type {IncomingMessage, ServerResponse} from 'node:http'
import {lingerAfter, sendError, type GatewayCode, type GatewayParams} from './answers.js'
import type {ApiRoute} from './api-route.js'
import {cacheDirective, cacheKey, type CachedAnswer, type PredictionCache} from './cache.js'
import {parseCanonical} from './canonical-json.js'
import {EMPTY, failureReason, Placement} from './placement.js'
import type {ReplicaRoute} from './replica-route.js'
import type {Router, ShadowCopy} from './routing.js'

/** The limits an exchange works under; one object shared by every exchange of a gateway. */
export interface ExchangePolicy {
  /** From the body's arrival to the answer, queueing included; past it, 504. */
  timeoutMs: number
  maxBodyBytes: number
  /** The Retry-After header's value on a 503. */
  retryAfter: string
}

/** Told once per exchange: the status the client got (499 when it left), and the replica that held it, if any. */
export type FinishedListener = (exchange: Exchange, code: number, route: ReplicaRoute | null) => void

const kExchange = Symbol('mlserve.exchange')
type Carrier = {[kExchange]?: Exchange}

// Listeners are module functions that find their exchange on the emitter, so
// an exchange allocates no closures for them.
function onBodyData(this: IncomingMessage & Carrier, chunk: Buffer): void {
  this[kExchange]!.bodyData(chunk)
}
function onBodyEnd(this: IncomingMessage & Carrier): void {
  this[kExchange]!.bodyComplete()
}
function onRequestError(this: IncomingMessage & Carrier): void {
  this[kExchange]!.clientLeft()
}
function onResponseClose(this: ServerResponse & Carrier): void {
  if (!this.writableFinished) this[kExchange]!.clientLeft()
}
function onTimeout(this: NodeJS.Timeout & Carrier): void {
  this[kExchange]!.timedOut()
}

/**
 * The exchange whose body is arriving on `socket`, if any: the request Node's
 * parser is reading (its `incoming`) carries it, so a body deadline can be
 * counted against its API without the server keeping a map per request.
 */
export function receivingExchange(socket: object): Exchange | undefined {
  const incoming = (socket as {parser?: {incoming?: Carrier | null} | null}).parser?.incoming
  const exchange = incoming?.[kExchange]
  return exchange?.receiving ? exchange : undefined
}

/** Its phase 'abandoned' once the client got its answer (504/499) while the replica works on. */
export class Exchange extends Placement {
  private first: Buffer | null = null
  private chunks: Buffer[] | null = null
  private size = 0
  /** The copy sent to a shadow API, told how this request was answered. */
  private shadow: ShadowCopy | undefined = undefined
  /** Where a 200 answer is stored (the chosen API's cache as it was at lookup: one replaced by mlserve apply meanwhile gets it, not its successor), and its key. */
  private cache: PredictionCache | null = null
  private cacheKey = ''
  /** The API whose cache answered, when one did. */
  private cachedBy: string | null = null

  constructor(
    readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    router: Router,
    private readonly policy: ExchangePolicy,
    private readonly onFinished: FinishedListener,
    readonly requestId: string,
    readonly startedAt: number,
    query: string,
  ) {
    super(router, {headers: req.headers, query})
  }

  /** The API that answers: the one chosen for it, else the endpoint's (a splitter's name before a choice). */
  get api(): string {
    return this.route?.api ?? this.cachedBy ?? this.router.name
  }

  /** True when the answer came from the prediction cache (no replica took part). */
  get fromCache(): boolean {
    return this.cachedBy !== null
  }

  start(): void {
    ;(this.req as Carrier)[kExchange] = this
    ;(this.res as Carrier)[kExchange] = this
    this.req.on('data', onBodyData)
    this.req.on('end', onBodyEnd)
    this.req.on('error', onRequestError)
    this.res.on('close', onResponseClose)
  }

  bodyData(chunk: Buffer): void {
    if (this.phase !== 'reading') return
    this.size += chunk.length
    if (this.size > this.policy.maxBodyBytes) {
      this.answerError(null, 'MLS_GATEWAY_BODY_TOO_LARGE', {limit: this.policy.maxBodyBytes}, {Connection: 'close'})
      lingerAfter(this.res, this.req.socket)
      return
    }
    if (this.first === null) this.first = chunk
    else (this.chunks ??= [this.first]).push(chunk)
  }

  bodyComplete(): void {
    if (this.phase !== 'reading') return
    this.phase = 'placing'
    this.body = this.chunks ? Buffer.concat(this.chunks, this.size) : this.first ?? EMPTY
    this.first = null
    this.chunks = null
    const api = this.router.choose?.(this.routeRequest)
    if (api?.cache && this.answeredFromCache(api, api.cache)) return
    this.timer = setTimeout(onTimeout, this.policy.timeoutMs)
    ;(this.timer as Carrier)[kExchange] = this
    this.place()
    if (this.router.copy && (this.phase as string) !== 'answered') this.shadow = this.router.copy(this.routeRequest, this.body, this.requestId)
  }

  protected override noReplica(): void {
    this.answerError(null, 'MLS_GATEWAY_NO_REPLICA', {api: this.api}, {'Retry-After': this.policy.retryAfter}, {api: this.api})
  }

  protected override placedOn(route: ReplicaRoute): void {
    // An API's own endpoint named it already (server.ts); a split names the API it chose.
    if (route.api !== this.router.answersAs) this.res.setHeader('X-Mlserve-Api', route.api)
  }

  protected override shed(route: ReplicaRoute): void {
    const maxReplicaConcurrency = route.admission.maxConcurrency
    this.answerError(
      route,
      'MLS_GATEWAY_SHED',
      {api: this.api, maxReplicaConcurrency},
      {'Retry-After': this.policy.retryAfter},
      {api: this.api, max_replica_concurrency: maxReplicaConcurrency},
    )
  }

  /**
   * Looks the body up in the chosen API's cache before any admission. A hit
   * is answered here (true). A miss remembers where its 200 answer goes. A
   * body the predictor would not read as JSON (a Content-Type other than
   * JSON, or a body that does not parse) is neither looked up nor stored.
   */
  private answeredFromCache(api: ApiRoute, cache: PredictionCache): boolean {
    const {headers} = this.req
    this.res.setHeader('X-Mlserve-Cache', 'miss')
    const parsed = readsAsJson(headers['content-type']) ? parseCanonical(this.body!) : null
    if (parsed === null) {
      cache.bypassed()
      return false
    }
    const key = cacheKey(parsed.canonical, this.routeRequest.query)
    const bypass = cacheDirective(headers['cache-control'])
    if (bypass !== 'no-store') {
      this.cache = cache
      this.cacheKey = key
    }
    if (bypass !== null) {
      cache.bypassed()
      return false
    }
    const answer = cache.get(key)
    if (answer === undefined) return false
    this.answerCached(api, answer)
    return true
  }

  private answerCached(api: ApiRoute, answer: CachedAnswer): void {
    this.phase = 'answered'
    this.cachedBy = api.name
    this.cache = null
    this.router.answeredFromCache?.(api)
    const {res} = this
    // An API's own endpoint named it already (server.ts); a split names the API it chose.
    if (api.name !== this.router.answersAs) res.setHeader('X-Mlserve-Api', api.name)
    res.setHeader('X-Mlserve-Cache', 'hit')
    res.setHeader('content-length', answer.body.length)
    if (answer.contentType) res.setHeader('content-type', answer.contentType)
    res.writeHead(200)
    res.end(answer.body)
    // A shadow still gets its copy, compared with the answer the client got.
    if (this.router.copy) this.router.copy(this.routeRequest, this.body!, this.requestId)?.primaryAnswered(api.name, 200, answer.body)
    this.onFinished(this, 200, null)
  }

  protected override pathOn(route: ReplicaRoute): string {
    return route.predictPath + this.routeRequest.query
  }

  protected override headersFor(): string[] {
    const headers: string[] = ['x-request-id', this.requestId]
    const {req} = this
    const contentType = req.headers['content-type']
    if (contentType) headers.push('content-type', contentType)
    const accept = req.headers.accept
    if (accept) headers.push('accept', accept)
    return headers
  }

  protected override answered(payload: Buffer): void {
    this.conclude()
    if (this.status === 200 && this.cache !== null) this.cache.set(this.cacheKey, {body: payload, contentType: this.contentType})
    this.shadow?.primaryAnswered(this.api, this.status, payload)
    const {res} = this
    if (!res.headersSent) {
      res.setHeader('content-length', payload.length)
      if (this.contentType) res.setHeader('content-type', this.contentType)
      res.writeHead(this.status)
      res.end(payload)
    }
    this.onFinished(this, this.status, this.route)
  }

  protected override failed(error: Error & {code?: string}): void {
    this.answerError(this.route, 'MLS_GATEWAY_REPLICA_FAILED', {replica: this.route!.id, reason: failureReason(error)}, {}, {api: this.api})
  }

  /** True while the body is still arriving (a body deadline then belongs to this exchange). */
  get receiving(): boolean {
    return this.phase === 'reading'
  }

  /** The server answered for this exchange (a body deadline passed): count it, and ignore the close that follows. */
  abortReceiving(status: number): void {
    if (this.phase !== 'reading') return
    this.phase = 'answered'
    this.onFinished(this, status, null)
  }

  timedOut(): void {
    this.timer = null
    if (this.phase === 'answered' || this.phase === 'abandoned') return
    const route = this.phase === 'running' || this.phase === 'waiting' ? this.route : null
    this.leave()
    this.answerError(route, 'MLS_GATEWAY_TIMEOUT', {timeoutMs: this.policy.timeoutMs})
  }

  clientLeft(): void {
    if (this.phase === 'answered' || this.phase === 'abandoned') return
    const route = this.phase === 'running' || this.phase === 'waiting' ? this.route : null
    this.leave()
    this.onFinished(this, 499, route)
  }

  private answerError<C extends GatewayCode>(
    route: ReplicaRoute | null,
    code: C,
    params: GatewayParams<C>,
    headers: Record<string, string> = {},
    extra: Record<string, unknown> = {},
  ): void {
    this.conclude()
    const status = sendError(this.res, code, params, {extra, headers})
    this.shadow?.primaryAnswered(this.api, status, null)
    this.onFinished(this, status, route)
  }
}

/** The predictor reads the body as JSON: no Content-Type, application/json or any +json type (the harness's payloads.py). */
function readsAsJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return true
  const semicolon = contentType.indexOf(';')
  const mime = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
  return mime === 'application/json' || mime.endsWith('+json')
}

