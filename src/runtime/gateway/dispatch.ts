// The gateway's internal call: one request to one of an API's replicas, made
// by the gateway itself rather than by a client's exchange (the batch
// endpoint's call, an async job's run). It goes through the same admission as
// a client's request: the API picks a replica, the replica's admission runs it,
// queues it or sheds it, and a running call keeps its slot until the replica
// answers, even after `timeoutMs` has passed and the caller was told
// 'timeout', so admission never sends the next request into a thread still
// busy with this one. Nothing is counted here: the caller counts its own
// answer (the slots it holds show in the replica gauges meanwhile).
import type {IncomingHttpHeaders} from 'node:http'
import type {Dispatcher} from 'undici'
import type {AdmissionOutcome, GrantListener, Ticket} from '../admission.js'
import type {ApiRoute} from './api-route.js'
import {failureReason, MAX_REFUSALS} from './exchange.js'
import type {ReplicaRoute} from './replica-route.js'
import type {RouteRequest} from './routing.js'

export interface InternalRequest {
  body: Buffer
  /** The replica's route to call; default its predict path. */
  path?: string
  /** Sent to the replica (lower-case names); also what the API picks a replica by (a shard key). Content-Type defaults to application/json. */
  headers?: Record<string, string>
  /** From the call to its answer, queueing included. */
  timeoutMs: number
  requestId: string
  /**
   * Slots of the chosen replica to hold, for a call that runs on several of
   * its threads (the batch route's items one by one): the first through
   * admission as any call, the others only when free at that moment (never
   * queued, never past max_replica_concurrency). The replica is told how many
   * it got in X-Mlserve-Slots. Default 1.
   */
  slots?: number
}

export type InternalAnswer =
  | {kind: 'answered'; status: number; body: Buffer; contentType?: string; replica: string; headers: IncomingHttpHeaders}
  /** `replica`: the one that held the call, when one did (a timeout while running, a failure). */
  | {kind: 'shed' | 'no-replica' | 'timeout' | 'failed'; reason: string; replica?: string}

/** Calls one of `api`'s replicas through its admission; never rejects. */
export function callReplica(api: ApiRoute, request: InternalRequest): Promise<InternalAnswer> {
  return new Promise((resolve) => new InternalCall(api, request, resolve).start())
}

class InternalCall implements Dispatcher.DispatchHandler, GrantListener {
  /** 'placing' → 'waiting' | 'running' → 'done'; 'abandoned' once the caller was told (timeout) while the replica works on. */
  private phase: 'placing' | 'waiting' | 'running' | 'done' | 'abandoned' = 'placing'
  private route: ReplicaRoute | null = null
  private ticket: Ticket | null = null
  /** Slots held beyond the first (InternalRequest.slots), released with it. */
  private extra: Ticket[] = []
  private timer: NodeJS.Timeout | null = null
  private status = 0
  private contentType: string | undefined
  private headers: IncomingHttpHeaders = {}
  private chunks: Buffer[] = []
  private refusals = 0
  private readonly routeRequest: RouteRequest

  constructor(
    private readonly api: ApiRoute,
    private readonly request: InternalRequest,
    private readonly resolve: (answer: InternalAnswer) => void,
  ) {
    this.routeRequest = {headers: (request.headers ?? {}) as IncomingHttpHeaders, query: ''}
  }

  start(): void {
    this.timer = setTimeout(() => this.timedOut(), this.request.timeoutMs)
    this.place()
  }

  private place(): void {
    const route = this.api.pick(this.routeRequest)
    if (route === null) {
      this.finish({kind: 'no-replica', reason: `API ${this.api.name} has no ready replica`})
      return
    }
    this.route = route
    const ticket = route.admission.admit(this)
    if (ticket === null) {
      this.finish({kind: 'shed', reason: `replica ${route.id} of API ${this.api.name} holds max_replica_concurrency (${route.admission.maxConcurrency}) requests`})
      return
    }
    this.ticket = ticket
    if (ticket.state === 'running') this.dispatch()
    else this.phase = 'waiting'
  }

  admissionOutcome(outcome: AdmissionOutcome): void {
    if (this.phase !== 'waiting') return
    if (outcome === 'granted') this.dispatch()
    else if (outcome === 'evicted') {
      // The replica stopped being routable while this waited: try the others.
      this.ticket = null
      this.phase = 'placing'
      this.place()
    }
  }

  private dispatch(): void {
    const route = this.route!
    const pool = route.pool
    if (pool === null) {
      this.ticket!.release()
      this.ticket = null
      this.place()
      return
    }
    this.phase = 'running'
    const headers: string[] = ['x-request-id', this.request.requestId]
    let typed = false
    for (const [name, value] of Object.entries(this.request.headers ?? {})) {
      const lower = name.toLowerCase()
      if (lower === 'x-request-id' || lower === 'content-length' || lower === 'host' || lower === 'connection') continue
      if (lower === 'content-type') typed = true
      headers.push(lower, value)
    }
    if (!typed) headers.push('content-type', 'application/json')
    if (this.request.slots !== undefined) headers.push('x-mlserve-slots', String(1 + this.takeExtraSlots(route, this.request.slots - 1)))
    pool.dispatch({path: this.request.path ?? route.predictPath, method: 'POST', headers, body: this.request.body, headersTimeout: 0, bodyTimeout: 0}, this)
  }

  /** Up to `wanted` more slots of the replica, each only if one is free now with nobody waiting. */
  private takeExtraSlots(route: ReplicaRoute, wanted: number): number {
    const {admission} = route
    while (this.extra.length < wanted && admission.queuedCount === 0 && admission.runningCount < admission.capacity && !admission.full) {
      const ticket = admission.admit(null)
      if (ticket === null) break
      if (ticket.state !== 'running') {
        ticket.release()
        break
      }
      this.extra.push(ticket)
    }
    return this.extra.length
  }

  private release(): void {
    this.ticket!.release()
    for (const ticket of this.extra) ticket.release()
    this.extra = []
  }

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode
    this.headers = headers
    const type = headers['content-type']
    this.contentType = typeof type === 'string' ? type : undefined
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase === 'running') this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    this.release()
    if (this.phase !== 'running') return
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks = []
    this.finish({kind: 'answered', status: this.status, body, contentType: this.contentType, replica: this.route!.id, headers: this.headers})
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error & {code?: string}): void {
    // No answer began: the replica may be dead; suspected before the slot is freed, as an exchange does.
    if (this.status === 0) this.route!.suspect()
    this.release()
    if (this.phase !== 'running') return
    if (error.code === 'ECONNREFUSED' && this.refusals < MAX_REFUSALS) {
      // It never reached the replica, so placing it again is safe.
      this.refusals++
      this.ticket = null
      this.chunks = []
      this.phase = 'placing'
      this.place()
      return
    }
    this.finish({kind: 'failed', reason: failureReason(error), replica: this.route!.id})
  }

  /** Past timeoutMs: a waiting call leaves the queue; a running one is answered now and keeps its slot until the replica answers. */
  private timedOut(): void {
    this.timer = null
    if (this.phase === 'done' || this.phase === 'abandoned') return
    const running = this.phase === 'running'
    if (!running) this.ticket?.release()
    this.finish({kind: 'timeout', reason: `no answer within ${this.request.timeoutMs} ms`, ...(running ? {replica: this.route!.id} : {})})
    if (running) this.phase = 'abandoned'
  }

  private finish(answer: InternalAnswer): void {
    this.phase = 'done'
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    this.resolve(answer)
  }
}
