// The gateway's internal call: one request to one of an API's replicas, made
// by the gateway itself rather than by a client's exchange (the batch
// endpoint's call, an async job's run). It goes through the same admission as
// a client's request: the API picks a replica, the replica's admission runs it,
// queues it or sheds it, and a running call keeps its slot until the replica
// answers, even after `timeoutMs` has passed and the caller was told
// 'timeout', so admission never sends the next request into a thread still
// busy with this one. Nothing is counted here: the caller counts its own
// answer (the slots it holds show in the replica gauges meanwhile). Placing
// and forwarding are placement.ts's, shared with a client's exchange.
import type {IncomingHttpHeaders} from 'node:http'
import type {Dispatcher} from 'undici'
import type {Ticket} from '../admission.js'
import type {ApiRoute} from './api-route.js'
import {failureReason, Placement} from './placement.js'
import type {ReplicaRoute} from './replica-route.js'

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

/** Its phase 'abandoned' once the caller was told 'timeout' while the replica works on. */
class InternalCall extends Placement {
  /** Slots held beyond the first (InternalRequest.slots), released with it. */
  private extra: Ticket[] = []
  private headers: IncomingHttpHeaders = {}

  constructor(
    api: ApiRoute,
    private readonly request: InternalRequest,
    private readonly resolve: (answer: InternalAnswer) => void,
  ) {
    super(api, {headers: (request.headers ?? {}) as IncomingHttpHeaders, query: ''})
    this.body = request.body
  }

  start(): void {
    this.phase = 'placing'
    this.timer = setTimeout(() => this.timedOut(), this.request.timeoutMs)
    this.place()
  }

  protected override noReplica(): void {
    this.finish({kind: 'no-replica', reason: `API ${this.router.name} has no ready replica`})
  }

  protected override shed(route: ReplicaRoute): void {
    this.finish({kind: 'shed', reason: `replica ${route.id} of API ${this.router.name} holds max_replica_concurrency (${route.admission.maxConcurrency}) requests`})
  }

  protected override pathOn(route: ReplicaRoute): string {
    return this.request.path ?? route.predictPath
  }

  protected override headersFor(route: ReplicaRoute): string[] {
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
    return headers
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

  protected override releaseSlots(): void {
    super.releaseSlots()
    for (const ticket of this.extra) ticket.release()
    this.extra = []
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    super.onResponseStart(controller, statusCode, headers)
    this.headers = headers
  }

  protected override answered(payload: Buffer): void {
    this.finish({kind: 'answered', status: this.status, body: payload, contentType: this.contentType, replica: this.route!.id, headers: this.headers})
  }

  protected override failed(error: Error & {code?: string}): void {
    this.finish({kind: 'failed', reason: failureReason(error), replica: this.route!.id})
  }

  /** Past timeoutMs: a waiting call leaves the queue; a running one is answered now and keeps its slot until the replica answers. */
  private timedOut(): void {
    this.timer = null
    if (this.phase === 'answered' || this.phase === 'abandoned') return
    const running = this.phase === 'running'
    this.leave()
    this.resolve({kind: 'timeout', reason: `no answer within ${this.request.timeoutMs} ms`, ...(running ? {replica: this.route!.id} : {})})
  }

  private finish(answer: InternalAnswer): void {
    this.conclude()
    this.resolve(answer)
  }
}
