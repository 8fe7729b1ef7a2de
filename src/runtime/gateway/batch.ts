// The batch endpoint: POST /<endpoint>/batch with a JSON list of payloads.
// Items that are the same JSON value (canonical JSON: sorted keys, no
// whitespace) are predicted once; each unique item is first looked up in the
// API's prediction cache, exactly as a single POST of it would be; the unique
// misses go to one replica in one call (its /predict-batch route, through
// dispatch.ts and so through the API's admission); the answers come back in
// the request's order, duplicates included, each with its own status.
//
// Admission: the call to the batch route is one request, holding one slot of
// one replica (plus, when the replica runs the items one by one, up to
// threads_per_process - 1 more slots that are free at that moment, never
// queued), so max_replica_concurrency still bounds the requests and threads a
// replica holds. A replica without the batch route (a command predictor, or
// an image built before it) gets the unique misses as single calls instead,
// each one request to admission, at most as many at once as the API's ready
// replicas have slots. On a TrafficSplitter's endpoint, the split picks one
// API for the whole batch; a shadow gets no copy of a batch.
import type {IncomingMessage, ServerResponse} from 'node:http'
import {lingerAfter, sendError, type GatewayCode, type GatewayParams} from './answers.js'
import type {ApiRoute} from './api-route.js'
import {cacheDirective, cacheKey, type PredictionCache} from './cache.js'
import {canonicalJson, parseCanonical} from './canonical-json.js'
import {callReplica, type InternalAnswer} from './dispatch.js'
import {arrayElements, objectMembers, type Span} from './json-spans.js'
import type {RouteRequest, Router} from './routing.js'

/** The batch endpoint's settings for one API, as the plan carries them (predictor.batch_endpoint). */
export interface BatchSettings {
  maxItems: number
}

/** For a gateway told no settings (the plan always gives them): predictor.batch_endpoint's default. */
export const DEFAULT_BATCH_SETTINGS: BatchSettings = {maxItems: 1000}

/** The path suffix of an endpoint's batch route. */
export const BATCH_SUFFIX = '/batch'

/** The endpoint whose batch route `path` is, or null (the endpoint "/" has its batch at /batch). */
export function batchEndpointOf(path: string): string | null {
  if (!path.endsWith(BATCH_SUFFIX)) return null
  return path.length === BATCH_SUFFIX.length ? '/' : path.slice(0, -BATCH_SUFFIX.length)
}

/** What a batch needs from the gateway. */
export interface BatchContext {
  timeoutMs: number
  maxBodyBytes: number
  retryAfter: string
  /** The API a router's batch goes to (an API's own endpoint: itself; a splitter: the API its split picks), or null when none is ready. */
  apiFor(router: Router, request: RouteRequest): ApiRoute | null
  settings(api: string): BatchSettings
  counts: BatchCounts
  /** Told once per batch: the API that answered (or the router's name) and the status. */
  finished(api: string, code: number): void
}

/** Items per API by outcome, and batches, for mlserve_batch_items_total and mlserve_batch_requests_total. */
export class BatchCounts {
  readonly apis = new Map<string, {requests: number; unique: number; duplicate: number; cached: number}>()

  count(api: string, items: {unique: number; duplicate: number; cached: number}): void {
    let counts = this.apis.get(api)
    if (counts === undefined) this.apis.set(api, (counts = {requests: 0, unique: 0, duplicate: 0, cached: 0}))
    counts.requests++
    counts.unique += items.unique
    counts.duplicate += items.duplicate
    counts.cached += items.cached
  }
}

/** The harness's batch route on a python replica (batch_route.py). */
const REPLICA_BATCH_PATH = '/predict-batch'

/** One item's answer as it goes into the batch's answer, or how it failed. */
type ItemAnswer = {ok: true; json: string} | {ok: false; status: number; fields: string}

interface Unique {
  /** Its canonical JSON: the cache key, and the text sent to the replica. */
  key: string
  answer: ItemAnswer | null
}

/** The mode each API's replicas last reported (X-Mlserve-Batch-Mode): 'each' asks for more than one slot. */
const lastMode = new WeakMap<ApiRoute, string>()

/** Reads, checks and answers one batch request; `query` is the request's query string with its '?', or '' (passed on to the replica, and part of each item's cache key). */
export function serveBatch(req: IncomingMessage, res: ServerResponse, router: Router, context: BatchContext, requestId: string, path: string, query: string): void {
  const chunks: Buffer[] = []
  let size = 0
  let done = false
  let apiName = router.name
  const finish = (code: number): void => {
    if (done) return
    done = true
    context.finished(apiName, code)
  }
  const fail = <C extends GatewayCode>(code: C, params: GatewayParams<C>, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void => {
    if (done) return
    finish(sendError(res, code, params, {headers, extra}))
  }
  let reading = true
  res.on('close', () => {
    // A client gone while its body arrived is the server's to count (a body deadline); once read, it is a 499.
    if (!res.writableFinished && !reading) finish(499)
  })
  req.on('data', (chunk: Buffer) => {
    if (!reading) return
    size += chunk.length
    if (size > context.maxBodyBytes) {
      reading = false
      fail('MLS_GATEWAY_BODY_TOO_LARGE', {limit: context.maxBodyBytes}, {Connection: 'close'})
      lingerAfter(res, req.socket)
      return
    }
    chunks.push(chunk)
  })
  req.on('end', () => {
    if (!reading) return
    reading = false
    const routeRequest: RouteRequest = {headers: req.headers, query}
    const api = context.apiFor(router, routeRequest)
    if (api === null) {
      fail('MLS_GATEWAY_NO_REPLICA', {api: router.name}, {'Retry-After': context.retryAfter}, {api: router.name})
      return
    }
    apiName = api.name
    if (api.name !== router.answersAs) res.setHeader('X-Mlserve-Api', api.name)
    void run(Buffer.concat(chunks, size), api).catch(() => fail('MLS_GATEWAY_REPLICA_FAILED', {replica: '-', reason: 'the batch could not be completed'}))
  })

  async function run(body: Buffer, api: ApiRoute): Promise<void> {
    const parsed = parseCanonical(body)
    if (parsed === null || !Array.isArray(parsed.value)) {
      fail('MLS_BATCH_NOT_A_LIST', {path, reason: parsed === null ? 'the body is not JSON' : `the body is a JSON ${parsed.value === null ? 'null' : typeof parsed.value}`})
      return
    }
    const items = parsed.value as unknown[]
    const {maxItems} = context.settings(api.name)
    if (items.length > maxItems) {
      fail('MLS_BATCH_TOO_MANY_ITEMS', {api: api.name, items: items.length, maxItems})
      return
    }
    // A body whose numbers JSON.parse may have changed (parseCanonical marks it) is sent as it came: every item its own, no cache.
    const exact = !parsed.canonical.startsWith('\u0000')
    const uniques: Unique[] = []
    const positions = new Array<number>(items.length)
    if (exact) {
      const seen = new Map<string, number>()
      for (let i = 0; i < items.length; i++) {
        const key = canonicalJson(items[i])
        let at = seen.get(key)
        if (at === undefined) {
          at = uniques.length
          seen.set(key, at)
          uniques.push({key, answer: null})
        }
        positions[i] = at
      }
    } else {
      const text = body.toString('utf8')
      for (const [i, [start, end]] of (arrayElements(text) ?? []).entries()) {
        uniques.push({key: text.slice(start, end), answer: null})
        positions[i] = i
      }
    }
    // As a single POST: no-cache skips the lookup and stores the fresh answer; no-store does neither.
    const bypass = cacheDirective(req.headers['cache-control'])
    const cache = exact ? api.cache : null
    let cached = 0
    if (cache !== null && bypass !== null) for (let i = 0; i < uniques.length; i++) cache.bypassed()
    if (cache !== null && bypass === null) {
      for (const unique of uniques) {
        const hit = cache.get(cacheKey(unique.key, query))
        if (hit !== undefined) {
          unique.answer = itemFromBody(200, hit.body, hit.contentType)
          cached++
        }
      }
    }
    const misses = uniques.filter((unique) => unique.answer === null)
    context.counts.count(api.name, {unique: misses.length, duplicate: items.length - uniques.length, cached})
    // distinct = cached + sent to a replica; mlserve_batch_items_total{outcome="unique"} counts only the latter, so the header does not say "unique".
    res.setHeader('X-Mlserve-Batch', `items=${items.length} distinct=${uniques.length} cached=${cached}`)
    if (misses.length > 0) {
      const failure = await predict(api, misses, bypass === 'no-store' ? null : cache)
      if (failure !== null) {
        failure()
        return
      }
    }
    answer(uniques, positions)
  }

  /** Answers the misses in place; returns how to fail the whole batch instead, or null. */
  async function predict(api: ApiRoute, misses: Unique[], cache: PredictionCache | null): Promise<(() => void) | null> {
    const deadline = Date.now() + context.timeoutMs
    const kind = api.replicas[0]?.replica.spec.kind
    if (kind !== 'command') {
      const threads = api.replicas[0]?.replica.spec.threads ?? 1
      const answer = await callReplica(api, {
        body: Buffer.from(`[${misses.map((unique) => unique.key).join(',')}]`),
        path: REPLICA_BATCH_PATH + query,
        headers: routingHeaders(req),
        timeoutMs: context.timeoutMs,
        requestId,
        slots: lastMode.get(api) === 'each' ? Math.min(misses.length, threads) : 1,
      })
      if (answer.kind !== 'answered') return () => failCall(api, answer)
      if (answer.status !== 404) return takeBatchAnswer(api, answer, misses, cache)
      // No batch route on this replica (an image built before it): the items go singly.
    } else if (!api.isRoutable) {
      return () => failCall(api, {kind: 'no-replica', reason: 'no ready replica'})
    }
    await fanOut(api, misses, deadline, cache)
    return null
  }

  function takeBatchAnswer(api: ApiRoute, answer: Extract<InternalAnswer, {kind: 'answered'}>, misses: Unique[], cache: PredictionCache | null): (() => void) | null {
    const mode = answer.headers['x-mlserve-batch-mode']
    if (typeof mode === 'string') lastMode.set(api, mode)
    const text = answer.body.toString('utf8')
    if (answer.status === 500) {
      let error = 'it raised'
      let errorId: string | null = null
      try {
        const body = JSON.parse(text) as {error?: unknown; error_id?: unknown}
        if (typeof body.error === 'string') error = body.error
        if (typeof body.error_id === 'string') errorId = body.error_id
      } catch {
        // the replica's body is not JSON: the generic words stand
      }
      return () => fail('MLS_BATCH_FAILED', {api: api.name, replica: answer.replica, error, errorId}, {}, {api: api.name, error_id: errorId})
    }
    const invalid = (reason: string) => () => fail('MLS_BATCH_INVALID_ANSWER', {api: api.name, replica: answer.replica, reason}, {}, {api: api.name})
    if (answer.status !== 200) return invalid(`status ${answer.status}`)
    try {
      JSON.parse(text)
    } catch {
      return invalid('a body that is not JSON')
    }
    const spans = arrayElements(text)
    if (spans === null || spans.length !== misses.length) return invalid(`other than a list of ${misses.length} answers`)
    for (let i = 0; i < misses.length; i++) {
      const item = itemFromReplica(text, spans[i])
      if (item === null) return invalid(`an item that is not {status, body} or {status, error}`)
      misses[i].answer = item.answer
      if (cache !== null && item.store !== null) cache.set(cacheKey(misses[i].key, query), item.store)
    }
    return null
  }

  /** Each miss as a single call (a command predictor's own server has no batch route). */
  async function fanOut(api: ApiRoute, misses: Unique[], deadline: number, cache: PredictionCache | null): Promise<void> {
    const width = Math.max(1, api.replicas.filter((route) => route.isRoutable).reduce((sum, route) => sum + route.admission.capacity, 0))
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < misses.length) {
        const unique = misses[next++]
        const answer = await callReplica(api, {body: Buffer.from(unique.key), path: api.replicas[0]?.predictPath + query, headers: routingHeaders(req), timeoutMs: Math.max(1, deadline - Date.now()), requestId})
        if (answer.kind !== 'answered') {
          unique.answer = failedItem(STATUS_OF[answer.kind], answer.reason)
          continue
        }
        unique.answer = itemFromBody(answer.status, answer.body, answer.contentType)
        if (cache !== null && answer.status === 200) cache.set(cacheKey(unique.key, query), {body: answer.body, contentType: answer.contentType})
      }
    }
    await Promise.all(Array.from({length: Math.min(width, misses.length)}, worker))
  }

  function failCall(api: ApiRoute, answer: Exclude<InternalAnswer, {kind: 'answered'}>): void {
    const retry = {'Retry-After': context.retryAfter}
    switch (answer.kind) {
      case 'shed': {
        const maxReplicaConcurrency = api.maxReplicaConcurrency
        fail('MLS_GATEWAY_SHED', {api: api.name, maxReplicaConcurrency}, retry, {api: api.name, max_replica_concurrency: maxReplicaConcurrency})
        return
      }
      case 'no-replica':
        fail('MLS_GATEWAY_NO_REPLICA', {api: api.name}, retry, {api: api.name})
        return
      case 'timeout':
        fail('MLS_GATEWAY_TIMEOUT', {timeoutMs: context.timeoutMs})
        return
      case 'failed':
        fail('MLS_GATEWAY_REPLICA_FAILED', {replica: answer.replica ?? api.name, reason: answer.reason}, {}, {api: api.name})
    }
  }

  /** The answer in the request's order: each item its unique's answer; a failed one carries its own index. */
  function answer(uniques: Unique[], positions: number[]): void {
    if (done) return
    const parts: string[] = []
    for (let i = 0; i < positions.length; i++) {
      const item = uniques[positions[i]].answer!
      parts.push(item.ok ? item.json : `{"index":${i},"status":${item.status},${item.fields}}`)
    }
    const text = `[${parts.join(',')}]`
    res.writeHead(200, {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text))})
    res.end(text)
    finish(200)
  }
}

const STATUS_OF = {shed: 503, 'no-replica': 503, timeout: 504, failed: 502} as const

/** The request headers an API picks a replica by (a shard key), passed on to the replica's call. */
function routingHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name of ['x-shard-key', 'x-serve-shard-key']) {
    const value = req.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return headers
}

function failedItem(status: number, error: string, errorId?: string): ItemAnswer {
  return {ok: false, status, fields: `"error":${JSON.stringify(error)}${errorId ? `,"error_id":${JSON.stringify(errorId)}` : ''}`}
}

/** An item's answer from a whole body, as a single call (or the cache) has it. */
function itemFromBody(status: number, body: Buffer, contentType: string | undefined): ItemAnswer {
  const type = contentType ?? ''
  if (status >= 400) {
    let error = `the replica answered ${status}`
    try {
      const parsed = JSON.parse(body.toString('utf8')) as {error?: unknown; error_id?: unknown}
      if (typeof parsed.error === 'string') return failedItem(status, parsed.error, typeof parsed.error_id === 'string' ? parsed.error_id : undefined)
    } catch {
      if (/^text\//i.test(type)) error = body.toString('utf8')
    }
    return failedItem(status, error)
  }
  if (/^application\/(.+\+)?json/i.test(type) || (type === '' && isJson(body))) {
    const text = body.toString('utf8')
    if (isJson(body)) return {ok: true, json: `{"status":${status},"body":${text}}`}
  }
  if (/^text\//i.test(type)) return {ok: true, json: `{"status":${status},"body":${JSON.stringify(body.toString('utf8'))},"content_type":${JSON.stringify(type)}}`}
  return {ok: true, json: `{"status":${status},"body":${JSON.stringify(body.toString('base64'))},"encoding":"base64","content_type":${JSON.stringify(type || 'application/octet-stream')}}`}
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'))
    return true
  } catch {
    return false
  }
}

/**
 * One element of the batch route's answer: what goes into the batch's answer,
 * and what the cache stores for a 200 (the body a single call would get).
 */
function itemFromReplica(text: string, span: Span): {answer: ItemAnswer; store: {body: Buffer; contentType?: string} | null} | null {
  const members = objectMembers(text, span)
  const status = members?.get('status')
  if (!members || !status) return null
  const code = Number(text.slice(...status))
  if (!Number.isInteger(code)) return null
  const error = members.get('error')
  if (error) {
    const errorId = members.get('error_id')
    return {answer: {ok: false, status: code, fields: `"error":${text.slice(...error)}${errorId ? `,"error_id":${text.slice(...errorId)}` : ''}`}, store: null}
  }
  const body = members.get('body')
  if (!body) return null
  const contentType = members.get('content_type')
  const json = text.slice(...span)
  if (contentType === undefined) {
    return {answer: {ok: true, json}, store: code === 200 ? {body: Buffer.from(text.slice(...body)), contentType: 'application/json'} : null}
  }
  const type = JSON.parse(text.slice(...contentType)) as string
  const value = JSON.parse(text.slice(...body)) as string
  const bytes = members.has('encoding') ? Buffer.from(value, 'base64') : Buffer.from(value)
  return {answer: {ok: true, json}, store: code === 200 ? {body: bytes, contentType: type} : null}
}
