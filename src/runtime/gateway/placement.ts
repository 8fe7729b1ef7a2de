// Placing one request on a replica and forwarding it: the part a client's
// exchange (exchange.ts) and the gateway's internal call (dispatch.ts) share.
// The router picks a replica; its admission runs the request, queues it or
// sheds it; a queued one is granted later or evicted (then placed again); a
// granted one is sent through undici's raw dispatch API, with this object as
// its handler, so the request path allocates no closures. A refused connection
// never reached the replica, so it is placed again, up to MAX_REFUSALS times. A
// failure with no answer makes the replica suspect before its slot is freed.
//
// A request whose caller was answered while it ran (a timeout, a client gone)
// is 'abandoned': it keeps its slot until the replica answers, so admission
// never sends the next request into a thread still busy with this one.
//
// What differs between the two is left to the subclass: how a shed, a missing
// replica, a failure and an answer reach the caller, and the path and headers
// sent.
import type {IncomingHttpHeaders} from 'node:http'
import type {Dispatcher} from 'undici'
import type {AdmissionOutcome, GrantListener, Ticket} from '../admission.js'
import type {ReplicaRoute} from './replica-route.js'
import type {RouteRequest, Router} from './routing.js'

/** Placements again after refused connections, before the request fails. */
export const MAX_REFUSALS = 3

/**
 * 'reading' (the body is arriving; an internal call has it from the start) →
 * 'placing' → 'waiting' | 'running' → 'answered'; 'abandoned' once the caller
 * was answered while the replica works on.
 */
export type PlacementPhase = 'reading' | 'placing' | 'waiting' | 'running' | 'answered' | 'abandoned'

export abstract class Placement implements Dispatcher.DispatchHandler, GrantListener {
  protected phase: PlacementPhase = 'reading'
  /** The replica it was last placed on. */
  protected route: ReplicaRoute | null = null
  protected ticket: Ticket | null = null
  /** The caller's deadline, queueing included. */
  protected timer: NodeJS.Timeout | null = null
  /** What is sent to the replica, once read. */
  protected body: Buffer | null = null
  /** The replica's answer: its status (0 until it begins), Content-Type and body (one chunk, or several). */
  protected status = 0
  protected contentType: string | undefined
  private response: Buffer | Buffer[] | null = null
  private refusals = 0

  constructor(
    protected readonly router: Router,
    protected readonly routeRequest: RouteRequest,
  ) {}

  /** No replica is routable. */
  protected abstract noReplica(): void
  /** `route`'s admission holds max_replica_concurrency requests already. */
  protected abstract shed(route: ReplicaRoute): void
  /** The path on the replica. */
  protected abstract pathOn(route: ReplicaRoute): string
  /** The headers sent, as undici's flat name/value list; called once the request holds its slot. */
  protected abstract headersFor(route: ReplicaRoute): string[]
  /** The replica answered (status and contentType are set) while the caller still waited. */
  protected abstract answered(payload: Buffer): void
  /** The call failed with no answer to pass on, past any placement again. */
  protected abstract failed(error: Error & {code?: string}): void

  /** Picked `route`, before its admission: the place for a header naming the API. */
  protected placedOn(_route: ReplicaRoute): void {}

  /** Frees what it holds of the replica: its slot, or its queue position. */
  protected releaseSlots(): void {
    this.ticket!.release()
  }

  /** Admits the request on the replica the router picks: runs it, queues it, or sheds it. */
  protected place(): void {
    const route = this.router.pick(this.routeRequest)
    if (route === null) {
      this.noReplica()
      return
    }
    this.route = route
    this.placedOn(route)
    const ticket = route.admission.admit(this)
    if (ticket === null) {
      this.shed(route)
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
    pool.dispatch({path: this.pathOn(route), method: 'POST', headers: this.headersFor(route), body: this.body, headersTimeout: 0, bodyTimeout: 0}, this)
  }

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode
    const type = headers['content-type']
    this.contentType = typeof type === 'string' ? type : undefined
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase === 'abandoned') return
    const response = this.response
    if (response === null) this.response = chunk
    else if (Array.isArray(response)) response.push(chunk)
    else this.response = [response, chunk]
  }

  onResponseEnd(): void {
    this.releaseSlots()
    if (this.phase !== 'running') return
    const response = this.response
    this.answered(response === null ? EMPTY : Array.isArray(response) ? Buffer.concat(response) : response)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error & {code?: string}): void {
    // No answer began: the replica may be dead. It is suspected before this
    // slot is released, so the freed slot goes to no one until a probe decides.
    if (this.status === 0) this.route!.suspect()
    this.releaseSlots()
    if (this.phase !== 'running') return
    if (error.code === 'ECONNREFUSED' && this.refusals < MAX_REFUSALS) {
      // The request never reached the replica, so it is safe to place again.
      this.refusals++
      this.ticket = null
      this.response = null
      this.phase = 'placing'
      this.place()
      return
    }
    this.failed(error)
  }

  /** The caller is answered: the deadline stops (a request abandoned meanwhile stays so). */
  protected conclude(): void {
    if (this.phase !== 'abandoned') this.phase = 'answered'
    this.settle()
  }

  /** The caller goes (timeout, gone): a queue position is given up at once; a running request keeps its slot until the replica answers. */
  protected leave(): void {
    const wasRunning = this.phase === 'running'
    this.phase = wasRunning ? 'abandoned' : 'answered'
    if (!wasRunning && this.ticket) this.ticket.release()
    this.settle()
  }

  protected settle(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
  }
}

export const EMPTY = Buffer.alloc(0)

/** A fixed vocabulary for why a replica failed, so no client-library message reaches a client. */
export function failureReason(error: Error & {code?: string}): string {
  switch (error.code) {
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection closed before it answered'
    case 'ECONNREFUSED':
      return 'it refused the connection'
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'its response headers were too large'
    default:
      return 'it sent an invalid HTTP response'
  }
}
