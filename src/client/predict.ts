// One prediction, sent the way a production client should.
import {mlserveError} from '../errors.js'
import {exchange, headerOf} from './http.js'
import {RETRYABLE_STATUS, parseRetryAfterMs, retryDelayMs} from './retry.js'

export interface PredictRequest {
  url: string
  body: Buffer
  contentType: string
  headers?: Record<string, string>
  /** Time limit of each try. */
  timeoutMs: number
  /** Retries after the first try. */
  retries: number
  onRetry?: (info: {attempt: number; reason: string; delayMs: number}) => void
}

export interface PredictResponse {
  url: string
  status: number
  contentType: string | null
  requestId: string | null
  /** The gateway's X-Mlserve-Cache (hit or miss) for an API with a prediction cache, else null. */
  cache: string | null
  attempts: number
  latencyMs: number
  body: Buffer
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function predict(req: PredictRequest): Promise<PredictResponse> {
  const started = performance.now()
  let lastReason = ''
  for (let attempt = 1; attempt <= req.retries + 1; attempt++) {
    let retryAfterMs: number | null = null
    try {
      const response = await exchange(req.url, {
        method: 'POST',
        body: req.body,
        headers: {'content-type': req.contentType, ...req.headers},
        timeoutMs: req.timeoutMs,
      })
      const body = response.body
      const header = (name: string): string | null => headerOf(response.headers, name)
      if (!RETRYABLE_STATUS.has(response.status) || attempt > req.retries) {
        return {
          url: req.url,
          status: response.status,
          contentType: header('content-type'),
          requestId: header('x-request-id'),
          cache: header('x-mlserve-cache'),
          attempts: attempt,
          latencyMs: performance.now() - started,
          body,
        }
      }
      lastReason = `HTTP ${response.status}`
      retryAfterMs = parseRetryAfterMs(header('retry-after'))
    } catch (error) {
      const err = error as Error & {code?: string; cause?: {code?: string}}
      lastReason = err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${req.timeoutMs} ms` : `${err.cause?.code ?? err.code ?? err.name}: ${err.message}`
      if (attempt > req.retries) break
    }
    const delayMs = retryDelayMs(attempt, retryAfterMs)
    req.onRetry?.({attempt, reason: lastReason, delayMs})
    await sleep(delayMs)
  }
  throw mlserveError('MLS_PREDICT_FAILED', {url: req.url, attempts: req.retries + 1, detail: lastReason})
}

/** The answer in one line for people: status, latency, tries, and whether the cache answered. */
export function answerSummary(response: Pick<PredictResponse, 'status' | 'latencyMs' | 'attempts' | 'cache'>): string {
  const notes = [`${response.attempts} attempt${response.attempts === 1 ? '' : 's'}`]
  if (response.cache !== null) notes.push(`cache ${response.cache}`)
  return `${response.status} in ${response.latencyMs.toFixed(1)} ms (${notes.join(', ')})`
}
