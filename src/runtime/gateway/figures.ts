// One API's own figures, kept by the gateway for `mlserve traffic` and
// rollouts: answers by status code, shed and error counts, a latency
// histogram a client can subtract between two readings, and the copies the
// API received as a shadow. Prometheus has the same counts per replica; these
// are per API so that a rollout can judge the API it moves traffic to.
import * as hdr from 'hdr-histogram-js'
import type {ApiFigures} from './traffic-types.js'

/** One hour, in microseconds: longer answers are clamped. */
const MAX_US = 3_600_000_000

export class ApiFigureRecorder {
  private readonly codes = new Map<number, number>()
  private requests = 0
  private shed = 0
  private errors = 0
  private readonly latency = hdr.build({bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3, autoResize: false})
  readonly shadow = {sent: 0, completed: 0, shed: 0, failed: 0}

  observe(code: number, seconds: number): void {
    this.requests++
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1)
    if (code === 503) {
      this.shed++
      return
    }
    if (code >= 500) this.errors++
    this.latency.recordValue(Math.min(MAX_US, Math.max(1, Math.round(seconds * 1e6))))
  }

  snapshot(endpoint: string, replicas: number, readyReplicas: number): ApiFigures {
    return {
      endpoint,
      replicas,
      readyReplicas,
      codes: Object.fromEntries([...this.codes].sort((a, b) => a[0] - b[0]).map(([code, n]) => [String(code), n])),
      requests: this.requests,
      shed: this.shed,
      errors: this.errors,
      latencyHistogram: hdr.encodeIntoCompressedBase64(this.latency),
      shadow: {...this.shadow},
    }
  }
}
