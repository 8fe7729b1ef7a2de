// CI thresholds: does a result meet the limits it was given?
import type {LoadResult, ThresholdReport, ThresholdSpec} from './types.js'

/**
 * Checks a result against the limits that are set (unset ones are skipped):
 * p99 latency of the successful (2xx) answers at most `maxP99Ms` (sheds and
 * errors are judged by the error rate, not by their speed); error rate (failed / total, where failed is
 * every non-2xx answer, timeout and connection error, 503s included) at most
 * `maxErrorRate`; throughput (2xx answers per second) at least `minThroughput`.
 * A run that measured no request fails every threshold set.
 */
export function checkThresholds(result: LoadResult, spec: ThresholdSpec): ThresholdReport {
  const failures: string[] = []
  const any = spec.maxP99Ms !== undefined || spec.maxErrorRate !== undefined || spec.minThroughput !== undefined
  if (any && result.requests.total === 0) {
    failures.push('no request was measured')
    return {passed: false, failures, checked: spec}
  }
  if (spec.maxP99Ms !== undefined && result.requests.ok === 0) {
    failures.push('no request got a successful answer, so there is no p99 latency to judge')
  } else if (spec.maxP99Ms !== undefined && result.latencyMs.p99 > spec.maxP99Ms) {
    failures.push(`p99 latency ${fmt(result.latencyMs.p99)} ms (successful answers) is above ${fmt(spec.maxP99Ms)} ms`)
  }
  if (spec.maxErrorRate !== undefined && result.errorRate > spec.maxErrorRate) {
    const r = result.requests
    failures.push(
      `error rate ${pct(result.errorRate)} (${r.failed} of ${r.total}: ${r.shed} shed, ${r.httpErrors} other HTTP errors, ${r.timeouts} timeouts, ${r.connectionErrors} connection errors) is above ${pct(spec.maxErrorRate)}`,
    )
  }
  if (spec.minThroughput !== undefined && result.throughput < spec.minThroughput) {
    failures.push(`throughput ${fmt(result.throughput)} req/s (2xx) is below ${fmt(spec.minThroughput)} req/s`)
  }
  return {passed: failures.length === 0, failures, checked: spec}
}

function fmt(n: number): string {
  return String(Math.round(n * 1000) / 1000)
}

function pct(fraction: number): string {
  return `${Math.round(fraction * 1e5) / 1e3}%`
}
