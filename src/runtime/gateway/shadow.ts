// Shadow traffic (Cortex's `shadow: true`, Ray's shadow fraction): a copy of
// `percent`% of a splitter's requests goes fire-and-forget to the shadow API,
// whose answer the client never sees. The shadow never affects the primary: a
// copy runs only on a free slot of a shadow replica and never queues, so
// copies are shed first, and nothing of the primary waits on a copy. Each
// copy's answer is kept beside the primary's in a ledger, which
// `mlserve traffic diff` reads.
import type {IncomingHttpHeaders} from 'node:http'
import type {Dispatcher} from 'undici'
import type {Ticket} from '../admission.js'
import type {ApiRoute} from './api-route.js'
import type {ReplicaRoute} from './replica-route.js'
import type {RouteRequest, ShadowCopy} from './routing.js'
import {ShadowLedger, type ShadowAnswer} from './shadow-diff.js'

export class ShadowMirror {
  readonly ledger = new ShadowLedger({})
  /** Deterministic sampling: exactly `percent` copies per 100 requests, spread evenly. */
  private accumulator = 0

  constructor(
    readonly api: ApiRoute,
    public percent: number,
    /** A copy unanswered by then counts as failed (504); its slot stays held until the replica answers, as a primary's does. */
    readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {}

  copy(request: RouteRequest, body: Buffer, requestId: string): ShadowCopy | undefined {
    this.accumulator += this.percent
    if (this.accumulator < 100) return undefined
    this.accumulator -= 100
    const counts = this.api.figures.shadow
    const route = this.api.pick(request)
    if (route === null || route.pool === null || !hasFreeSlot(route)) {
      counts.shed++
      return undefined
    }
    const ticket = route.admission.admit(null)
    if (ticket === null || ticket.state !== 'running') {
      ticket?.release()
      counts.shed++
      return undefined
    }
    counts.sent++
    const copy = new ShadowExchange(this, route, ticket, body, requestId)
    copy.dispatch(request)
    return copy
  }
}

/** The gateway's own default timeout, for mirrors made without one. */
const DEFAULT_TIMEOUT_MS = 29_000

function onCopyTimeout(this: NodeJS.Timeout & {copy?: ShadowExchange}): void {
  this.copy?.timedOut()
}

/** A slot free now, with nobody waiting: a copy must never queue ahead of, or behind, real requests. */
function hasFreeSlot(route: ReplicaRoute): boolean {
  const {admission} = route
  return route.isRoutable && admission.queuedCount === 0 && admission.runningCount < admission.capacity && !admission.full
}

class ShadowExchange implements Dispatcher.DispatchHandler, ShadowCopy {
  private readonly startedAt = performance.now()
  private status = 0
  private chunks: Buffer[] = []
  private shadowAnswer: ShadowAnswer | null = null
  private primary: {api: string; answer: ShadowAnswer} | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly mirror: ShadowMirror,
    private readonly route: ReplicaRoute,
    private readonly ticket: Ticket,
    private readonly body: Buffer,
    private readonly requestId: string,
  ) {}

  dispatch(request: RouteRequest): void {
    const headers: string[] = ['x-request-id', this.requestId, 'x-mlserve-shadow', '1']
    const contentType = (request.headers as IncomingHttpHeaders)['content-type']
    if (contentType) headers.push('content-type', contentType)
    this.timer = setTimeout(onCopyTimeout, this.mirror.timeoutMs)
    ;(this.timer as NodeJS.Timeout & {copy?: ShadowExchange}).copy = this
    this.route.pool!.dispatch({path: this.route.predictPath + request.query, method: 'POST', headers, body: this.body, headersTimeout: 0, bodyTimeout: 0}, this)
  }

  /** No answer in time: the pair is recorded as a failed copy now; the slot is released when the replica answers. */
  timedOut(): void {
    this.timer = null
    if (this.shadowAnswer !== null) return
    this.mirror.api.figures.shadow.failed++
    this.shadowAnswer = {status: 504, body: null, ms: performance.now() - this.startedAt}
    this.settle()
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
  }

  primaryAnswered(api: string, status: number, body: Buffer | null): void {
    if (this.primary !== null) return
    this.primary = {api, answer: {status, body, ms: performance.now() - this.startedAt}}
    this.settle()
  }

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    this.ticket.release()
    this.clearTimer()
    if (this.shadowAnswer !== null) return
    const counts = this.mirror.api.figures.shadow
    if (this.status >= 500) counts.failed++
    else counts.completed++
    this.shadowAnswer = {status: this.status, body: Buffer.concat(this.chunks), ms: performance.now() - this.startedAt}
    this.chunks = []
    this.settle()
  }

  onResponseError(): void {
    if (this.status === 0) this.route.suspect()
    this.ticket.release()
    this.clearTimer()
    if (this.shadowAnswer !== null) return
    this.mirror.api.figures.shadow.failed++
    this.shadowAnswer = {status: 0, body: null, ms: performance.now() - this.startedAt}
    this.chunks = []
    this.settle()
  }

  /** Once both have answered, the pair goes to the ledger. */
  private settle(): void {
    if (this.shadowAnswer === null || this.primary === null) return
    this.mirror.ledger.record({
      requestId: this.requestId,
      at: Date.now(),
      request: this.body,
      primaryApi: this.primary.api,
      primary: this.primary.answer,
      shadowApi: this.mirror.api.name,
      shadow: this.shadowAnswer,
    })
  }
}
