// What went wrong with a job store, in our words for answers and the run log:
// a client learns that Redis at a URL did not answer, not ioredis's retry
// settings, and never the URL's password.
import {redactUrl} from './redis-store.js'
import type {AsyncPlan} from './types.js'

/** ioredis's ways of saying the server is not there (connection refused, closed, timed out, retries used up). */
const UNREACHABLE = /max retries per request|Connection is closed|Stream isn't writeable|Command timed out|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN/i

/** The reason a store call failed, without a closing period (the registry's message adds it). */
export function storeProblem(plan: Pick<AsyncPlan, 'store' | 'dir' | 'redisUrl'>, error: unknown): string {
  const said = trimmed(error instanceof Error ? error.message : String(error))
  if (plan.store === 'embedded') return `the embedded store in ${plan.dir} failed: ${said}`
  const at = `Redis at ${redactUrl(plan.redisUrl)}`
  const code = (error as NodeJS.ErrnoException | null)?.code ?? ''
  if (UNREACHABLE.test(said) || UNREACHABLE.test(code) || (error as Error | null)?.name === 'MaxRetriesPerRequestError') return `${at} did not answer`
  // A reply error is Redis's own sentence (OOM, READONLY, …): short enough to show.
  return `${at} refused the request: ${said}`
}

function trimmed(text: string): string {
  return text.trim().replace(/[.\s]+$/, '')
}
