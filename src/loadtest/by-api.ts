// Answers by the API that gave them. The mlserve gateway puts the name of the
// API that answered (or was chosen, for a shed) in `X-Mlserve-Api`, so behind
// a TrafficSplitter endpoint the load test can show how the split spread the
// requests and what each API's answers looked like. The generators only read
// the header; the counting is here, called from the Recorder on the answer
// path, so it stays to a map lookup and a histogram record per answer.
import {LatencyHistogram} from './histogram.js'
import type {ApiLoadStats} from './types.js'

/** The response header naming the API, lower case (as undici gives header names). */
export const API_HEADER = 'x-mlserve-api'

/**
 * The most API names tallied apart. A TrafficSplitter has a handful; a target
 * that puts something else in the header (a request id, say) must not make a
 * histogram per answer. Names past this are counted under OTHER_APIS.
 */
export const MAX_APIS = 32
/** Where names past MAX_APIS are counted; parentheses cannot occur in an API name. */
export const OTHER_APIS = '(other)'

/** The API named in a raw header list ([name, value, name, value, …], as autocannon's parser gives it), or undefined. */
export function apiOfRawHeaders(raw: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]
    // The length check first: toLowerCase only for names that could match.
    if (name.length === API_HEADER.length && name.toLowerCase() === API_HEADER) return raw[i + 1] || undefined
  }
  return undefined
}

/** The API named in undici's parsed headers (a repeated header gives an array: the first counts), or undefined. */
export function apiOfHeaders(headers: Record<string, string | string[] | undefined> | null | undefined): string | undefined {
  const value = headers?.[API_HEADER]
  const api = Array.isArray(value) ? value[0] : value
  return api || undefined
}

interface ApiCounts {
  requests: number
  ok: number
  shed: number
  errors: number
  latency: LatencyHistogram
}

export class ApiTally {
  private readonly apis = new Map<string, ApiCounts>()

  /** One HTTP answer that named `api`, with its status and latency. */
  record(api: string, status: number, latencyNs: number): void {
    let counts = this.apis.get(api)
    if (counts === undefined) {
      const name = this.apis.size < MAX_APIS ? api : OTHER_APIS
      counts = this.apis.get(name)
      if (counts === undefined) {
        counts = {requests: 0, ok: 0, shed: 0, errors: 0, latency: new LatencyHistogram()}
        this.apis.set(name, counts)
      }
    }
    counts.requests++
    if (status >= 200 && status < 300) {
      counts.ok++
      counts.latency.recordNs(latencyNs)
    } else if (status === 503) {
      counts.shed++
    } else {
      counts.errors++
    }
  }

  get size(): number {
    return this.apis.size
  }

  /** The figures by API name, in name order, against `answers` HTTP answers in all; undefined when no answer named an API. */
  result(answers: number): Record<string, ApiLoadStats> | undefined {
    if (this.apis.size === 0) return undefined
    const byApi: Record<string, ApiLoadStats> = {}
    // Name order, with the overflow last.
    const names = [...this.apis.keys()].filter((name) => name !== OTHER_APIS).sort()
    if (this.apis.has(OTHER_APIS)) names.push(OTHER_APIS)
    for (const name of names) {
      const c = this.apis.get(name)!
      byApi[name] = {
        requests: c.requests,
        ok: c.ok,
        shed: c.shed,
        errors: c.errors,
        share: answers > 0 ? Math.round((c.requests / answers) * 1e6) / 1e6 : 0,
        p50Ms: c.latency.percentileMs(50),
        p99Ms: c.latency.percentileMs(99),
      }
    }
    return byApi
  }

  destroy(): void {
    for (const c of this.apis.values()) c.latency.destroy()
    this.apis.clear()
  }
}
