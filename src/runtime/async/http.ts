// The job routes of the AsyncAPIs: POST <endpoint> stores a job and answers
// {"id"} once it is durable; GET <endpoint>/<id> answers {id, status,
// result | error}. The gateway asks `match` before its routers, so these
// paths never reach an AsyncAPI's replicas directly.
import type {IncomingMessage, ServerResponse} from 'node:http'
import {errorRegistry, type ErrorCode, type ErrorSpec} from '../../errors.js'
import {showDuration} from '../../config/limits.js'
import type {AsyncApi} from './service.js'
import {storeProblem} from './store-problem.js'

/** Ids are UUIDs; anything else after the endpoint is not a job. */
const ID = /^[0-9a-f-]{1,64}$/i

export interface JobRoute {
  api: string
  answer: (req: IncomingMessage, res: ServerResponse) => Promise<number>
}

export class JobRoutes {
  private readonly byEndpoint = new Map<string, AsyncApi>()

  constructor(private readonly maxBodyBytes: number) {}

  add(api: AsyncApi): void {
    this.byEndpoint.set(api.endpoint, api)
  }

  /** The route for a path: the endpoint itself (submit) or <endpoint>/<id> (poll); null for any other path. */
  match(path: string): JobRoute | null {
    const api = this.byEndpoint.get(path)
    if (api) return {api: api.name, answer: (req, res) => this.submit(api, req, res)}
    const slash = path.lastIndexOf('/')
    if (slash <= 0) return null
    const owner = this.byEndpoint.get(path.slice(0, slash))
    if (!owner) return null
    const id = path.slice(slash + 1)
    return {api: owner.name, answer: (req, res) => this.poll(owner, id, req, res)}
  }

  private async submit(api: AsyncApi, req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (req.method !== 'POST') {
      req.resume()
      return send(res, 'MLS_GATEWAY_METHOD_NOT_ALLOWED', {method: req.method ?? '?', path: api.endpoint, allowed: 'POST'}, {Allow: 'POST'})
    }
    if (!api.accepting) {
      req.resume()
      return send(res, 'MLS_GATEWAY_DRAINING', {}, {'Retry-After': '1', Connection: 'close'})
    }
    const body = await readBody(req, this.maxBodyBytes)
    if (body === null) return send(res, 'MLS_GATEWAY_BODY_TOO_LARGE', {limit: this.maxBodyBytes}, {Connection: 'close'})
    let id: string
    try {
      id = await api.submit({body, contentType: req.headers['content-type']})
    } catch (error) {
      return send(res, 'MLS_ASYNC_STORE_FAILED', {api: api.name, store: api.plan.store, reason: storeProblem(api.plan, error)}, {'Retry-After': '1'})
    }
    return json(res, 200, {id})
  }

  private async poll(api: AsyncApi, id: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
    req.resume()
    // A RealtimeAPI's batch route, tried on an AsyncAPI: say so, not that POST is the wrong method for a job.
    if (id === 'batch' && req.method === 'POST') return send(res, 'MLS_ASYNC_NO_BATCH', {api: api.name, endpoint: api.endpoint})
    if (req.method !== 'GET') return send(res, 'MLS_GATEWAY_METHOD_NOT_ALLOWED', {method: req.method ?? '?', path: `${api.endpoint}/<id>`, allowed: 'GET'}, {Allow: 'GET'})
    const notFound = (): number => send(res, 'MLS_ASYNC_JOB_NOT_FOUND', {api: api.name, id, ttl: showDuration(api.plan.resultTtlMs)})
    if (!ID.test(id)) return notFound()
    let job
    try {
      job = await api.get(id)
    } catch (error) {
      return send(res, 'MLS_ASYNC_STORE_FAILED', {api: api.name, store: api.plan.store, reason: storeProblem(api.plan, error)}, {'Retry-After': '1'})
    }
    if (!job) return notFound()
    const answer: Record<string, unknown> = {id: job.id, status: job.status}
    if (job.status === 'completed') answer.result = job.result
    if (job.status === 'failed') answer.error = job.error
    answer.retries = job.retries
    answer.created = new Date(job.createdAt).toISOString()
    if (job.startedAt !== undefined) answer.started = new Date(job.startedAt).toISOString()
    if (job.finishedAt !== undefined) answer.finished = new Date(job.finishedAt).toISOString()
    return json(res, 200, answer)
  }
}

/** The whole body, or null once it passes the limit. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      req.resume()
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  if (res.headersSent) return status
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers})
  res.end(text)
  return status
}

/** An error answer from the registry, as the gateway's own answers are. */
function send<C extends ErrorCode>(res: ServerResponse, code: C, params: Parameters<(typeof errorRegistry)[C]['message']>[0], headers: Record<string, string> = {}): number {
  const spec = errorRegistry[code] as ErrorSpec<typeof params>
  return json(res, spec.httpStatus ?? 500, {error: spec.message(params), code, suggestion: spec.suggestion(params)}, headers)
}
