// How a production client retries, as Ray Serve recommends: a timeout on each
// try, exponential backoff with jitter on 502/503/504 and connection errors,
// and the server's Retry-After honoured.

export const RETRYABLE_STATUS = new Set([502, 503, 504])

export interface BackoffPolicy {
  baseMs: number
  maxMs: number
  /** Longest Retry-After we are willing to honour. */
  maxRetryAfterMs: number
}

export const defaultBackoff: BackoffPolicy = {baseMs: 100, maxMs: 5_000, maxRetryAfterMs: 30_000}

/** Parses Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfterMs(value: string | undefined | null, now = Date.now()): number | null {
  if (!value) return null
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return null
  return Math.max(0, date - now)
}

/**
 * Delay before retry number `attempt` (1 for the first retry): "full jitter"
 * exponential backoff, but never sooner than the server's Retry-After.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, policy: BackoffPolicy = defaultBackoff, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))
  const backoff = Math.round(ceiling / 2 + (random() * ceiling) / 2)
  if (retryAfterMs === null) return backoff
  return Math.max(backoff, Math.min(retryAfterMs, policy.maxRetryAfterMs))
}
