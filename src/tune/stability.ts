// A measurement is trusted once it is stable, as perf_analyzer judges it: the
// last 3 windows within 10% of each other on throughput and latency. After 10
// windows we give up and say so. Latency stability is judged on the median: a
// one-second window holds a few hundred requests, so its p99 rests on a handful
// of samples and swings by more than 10% even when nothing changes. The p99
// reported is the mean over the same windows.

export interface Window {
  throughput: number
  p50Ms: number
  p99Ms: number
  errorRate: number
}

export interface StableMeasure extends Window {
  windows: number
  stable: boolean
}

export interface StabilityOptions {
  minWindows: number
  maxWindows: number
  /** Largest spread allowed among the last `minWindows`, as a fraction of their mean. */
  tolerance: number
  signal?: AbortSignal
}

export const defaultStability: StabilityOptions = {minWindows: 3, maxWindows: 10, tolerance: 0.1}

function spread(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  if (mean === 0) return 0
  return (Math.max(...values) - Math.min(...values)) / mean
}

export function isStable(windows: Window[], options: Pick<StabilityOptions, 'minWindows' | 'tolerance'> = defaultStability): boolean {
  if (windows.length < options.minWindows) return false
  const last = windows.slice(-options.minWindows)
  // Sub-millisecond medians jitter by whole fractions of themselves; 0.2 ms of absolute slack keeps them from never settling.
  const p50s = last.map((w) => w.p50Ms)
  const latencyStable = spread(p50s) <= options.tolerance || Math.max(...p50s) - Math.min(...p50s) <= 0.2
  return spread(last.map((w) => w.throughput)) <= options.tolerance && latencyStable
}

/** Measures windows until the last few agree (or the limit), and returns their mean. */
export async function measureStable(measureWindow: () => Promise<Window>, options: StabilityOptions = defaultStability): Promise<StableMeasure> {
  const windows: Window[] = []
  while (windows.length < options.maxWindows) {
    windows.push(await measureWindow())
    if (options.signal?.aborted) break
    if (isStable(windows, options)) break
  }
  const last = windows.slice(-options.minWindows)
  const mean = (pick: (w: Window) => number): number => last.reduce((sum, w) => sum + pick(w), 0) / last.length
  return {
    throughput: mean((w) => w.throughput),
    p50Ms: mean((w) => w.p50Ms),
    p99Ms: mean((w) => w.p99Ms),
    errorRate: mean((w) => w.errorRate),
    windows: windows.length,
    stable: isStable(windows, options),
  }
}
