// Latency histograms: HdrHistogram recording microseconds, reported in
// milliseconds. Three significant digits keep every value below 2.048 ms exact
// to the microsecond, and larger ones within 0.1%.
import * as hdr from 'hdr-histogram-js'
import type {LatencySummary} from './types.js'

/** The longest latency tracked exactly: one hour. Larger values are clamped. */
const MAX_US = 3_600_000_000

export class LatencyHistogram {
  // 32-bit buckets (about 94 KB each): 'packed' saves memory but is far slower to record into, and this sits on the generator's answer path.
  private readonly histogram = hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  })

  /** Records one latency given in nanoseconds (rounded to the microsecond, at least 1 µs). */
  recordNs(ns: number): void {
    this.recordUs(ns / 1000)
  }

  recordUs(us: number): void {
    const value = Math.min(MAX_US, Math.max(1, Math.round(us)))
    this.histogram.recordValue(value)
  }

  get count(): number {
    return this.histogram.totalCount
  }

  /** The latency at `percentile` (0–100) in ms, or null when empty. */
  percentileMs(percentile: number): number | null {
    if (this.histogram.totalCount === 0) return null
    return toMs(this.valueAt(percentile))
  }

  maxMs(): number | null {
    return this.histogram.totalCount === 0 ? null : toMs(this.histogram.maxValue)
  }

  summary(): LatencySummary {
    const h = this.histogram
    if (h.totalCount === 0) return {samples: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0}
    return {
      samples: h.totalCount,
      min: toMs(h.minNonZeroValue),
      mean: toMs(h.mean),
      p50: toMs(this.valueAt(50)),
      p90: toMs(this.valueAt(90)),
      p95: toMs(this.valueAt(95)),
      p99: toMs(this.valueAt(99)),
      p999: toMs(this.valueAt(99.9)),
      max: toMs(h.maxValue),
    }
  }

  /** HdrHistogram answers with the top of a value's bucket; never report more than the largest value seen. */
  private valueAt(percentile: number): number {
    return Math.min(this.histogram.getValueAtPercentile(percentile), this.histogram.maxValue)
  }

  /** Adds every value recorded in `other`. */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram)
  }

  reset(): void {
    this.histogram.reset()
  }

  destroy(): void {
    this.histogram.destroy()
  }
}

/** µs to ms, kept to the microsecond. */
function toMs(us: number): number {
  return Math.round(us) / 1000
}
