// One GET of a replica's readiness route: what every driver's start-up poll,
// a remote replica's periodic check and the gateway's probe of a suspect
// replica share. It asks Connection: close: the harness gives each connection
// a thread of its own, so a kept-alive check would hold one of the replica's
// threads until it idled out, and a gateway connection would wait for it.
import {request} from 'undici'

/** The status it answered, 'busy' when no answer came within the time, or 'unreachable' (refused, reset, aborted by the caller). */
export type ReadinessAnswer = number | 'busy' | 'unreachable'

export async function checkReadiness(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ReadinessAnswer> {
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    const response = await request(url, {method: 'GET', reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: signal ? AbortSignal.any([signal, timeout]) : timeout})
    await response.body.dump()
    return response.statusCode
  } catch (error) {
    const {code} = error as {code?: string}
    return timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'busy' : 'unreachable'
  }
}
