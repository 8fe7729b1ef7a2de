// The types of src/loadtest: what a run is asked to do and what it measured.
// They are shared with src/report (which renders a LoadResult) and src/tune
// (which runs many of them), so they live here, with the part that owns them.

/** `closed`: N connections, each sends its next request once the last one is answered. `open`: requests go out at planned times, whatever the target does. */
export type LoadModel = 'closed' | 'open'

/** How open-loop send times are spaced: evenly (`constant`) or as a Poisson process (exponential gaps with the same mean). */
export type Arrival = 'constant' | 'poisson'

/** What each request looks like. Bodies are used round robin; no bodies means requests without one. */
export interface RequestSource {
  method: string
  headers: Record<string, string>
  bodies: Buffer[]
  /** Where the bodies came from, for reports: "none", "inline JSON", a file or directory path. */
  description?: string
}

/** Called once per second of the measured window, with that second's figures (live progress, tuning's stability checks). */
export type SecondListener = (second: SecondStats) => void

interface RunOptionsBase {
  /** The full URL every request goes to. Only http: is supported. */
  url: string
  request: RequestSource
  /** Length of the measured window. Give this or `amount`; with neither, 10 s. */
  durationMs?: number
  /** Measure this many requests instead of running for `durationMs`. */
  amount?: number
  /** Load sent before the measured window and not counted (default 0). */
  warmupMs?: number
  /** A request with no answer this long after it was sent counts as a timeout (default 10 s). */
  timeoutMs?: number
  onSecond?: SecondListener
  /** Aborting stops the run at once; the promise still resolves, with what was measured so far and `aborted: true`. */
  signal?: AbortSignal
  /** Only shown in reports: the API under test when the target was started with `--api`. */
  api?: string
}

export interface ClosedLoopOptions extends RunOptionsBase {
  /** Concurrent connections, each with one request in flight. */
  connections: number
}

export interface OpenLoopOptions extends RunOptionsBase {
  /** Planned sends per second. */
  rate: number
  /** Default `constant`. */
  arrival?: Arrival
  /** The most requests in flight at once (default 512). Past it, sends wait for a free connection and their latency still counts from the planned time. */
  maxConnections?: number
  /** Seed of the Poisson schedule, for a reproducible run (default: random). */
  seed?: number
  /** A send more than this after its planned time counts as late (default 1 ms). */
  lateThresholdMs?: number
}

/**
 * Counts over the measured window. Every measured request ends in exactly one
 * of: ok (2xx), shed (503), httpErrors (any other status), timeouts, or
 * connectionErrors, so `total = ok + failed` and
 * `failed = shed + httpErrors + timeouts + connectionErrors`.
 */
export interface RequestCounts {
  total: number
  ok: number
  /** Everything that is not a 2xx answer: the numerator of the error rate. */
  failed: number
  /** 503 answers: the target shed the request (admission control). Counted in `failed`, and shown apart. */
  shed: number
  /** Answers with a status other than 2xx or 503. */
  httpErrors: number
  /** No answer within the timeout. */
  timeouts: number
  /** The connection was refused, reset or closed before an answer. */
  connectionErrors: number
  /** Answers by HTTP status code. */
  byStatus: Record<string, number>
}

/** Latency percentiles in milliseconds, with microsecond resolution (HdrHistogram, 3 significant digits); all 0 when `samples` is 0. */
export interface LatencySummary {
  /** How many latencies were recorded. */
  samples: number
  min: number
  mean: number
  p50: number
  p90: number
  p95: number
  p99: number
  p999: number
  max: number
}

/** One second of the measured window, by the time each request finished. */
export interface SecondStats {
  /** Seconds since the measured window started: 0, 1, 2, … */
  second: number
  /** Length of this second in seconds: 1, except a last partial one. */
  lengthS: number
  /** Requests sent in this second (open loop; null for the closed loop). */
  sent: number | null
  /** Requests that finished in this second, whatever the outcome. */
  completed: number
  ok: number
  shed: number
  /** Failed requests (non-2xx, timeouts, connection errors; shed included). */
  failed: number
  timeouts: number
  /** 2xx answers per second. */
  throughput: number
  /** Latency of this second's successful (2xx) answers; null when none finished in it. */
  p50Ms: number | null
  p90Ms: number | null
  p99Ms: number | null
  maxMs: number | null
  /** Sends more than the late threshold after their planned time (open loop; null for the closed loop). */
  lateSends: number | null
}

export interface GeneratorStats {
  /** CPU time the generator's thread used during the window, as a percentage of one core (on Linux the main thread alone, so an `--api` gateway on its own thread is not included; elsewhere the whole process). */
  cpuPercent: number
  /** Open loop: sends that went out more than `lateThresholdMs` after their planned time. 0 for the closed loop. */
  lateSends: number
  /** lateSends as a percentage of sends. */
  latePercent: number
  lateThresholdMs: number
  /** How late sends went out, in ms (open loop; null for the closed loop). */
  lateness: {p50: number; p99: number; max: number} | null
  /** Open loop: sends that had to wait because `maxConnections` requests were already in flight (the target held them all). */
  waitedForConnection: number
  /** True when the generator, not the target, may have limited the run: CPU above 80% of a core, or over 1% of sends late for reasons other than waiting for a connection. */
  saturated: boolean
  warnings: string[]
}

export interface RunSettings {
  connections: number | null
  rate: number | null
  arrival: Arrival | null
  maxConnections: number | null
  durationMs: number | null
  amount: number | null
  warmupMs: number
  timeoutMs: number
}

export interface ThresholdSpec {
  /** Fail when the p99 latency of successful answers is above this many ms. */
  maxP99Ms?: number
  /** Fail when failed / total is above this fraction (0.01 = 1%). */
  maxErrorRate?: number
  /** Fail when throughput (2xx answers per second) is below this. */
  minThroughput?: number
}

export interface ThresholdReport {
  passed: boolean
  /** One short sentence per missed threshold, such as "p99 latency 412.3 ms is above 200 ms". */
  failures: string[]
  checked: ThresholdSpec
}

/**
 * The answers that named one API. The mlserve gateway names the API that
 * answered (or was chosen, for a shed) in the `X-Mlserve-Api` header, so
 * through a TrafficSplitter endpoint this shows how the split spread the load.
 */
export interface ApiLoadStats {
  /** Answers of any status that named this API. */
  requests: number
  /** 2xx answers. */
  ok: number
  /** 503 answers. */
  shed: number
  /** Answers with any other status. */
  errors: number
  /** requests / every HTTP answer in the window (0–1). Answers that named no API count in the whole but in no API, so shares can sum to less than 1; timeouts and connection errors, which have no answer, count in neither. */
  share: number
  /** Latency of this API's 2xx answers in ms, on the same basis as `latencyMs`; null when it had none. */
  p50Ms: number | null
  p99Ms: number | null
}

export interface LoadResult {
  model: LoadModel
  target: {url: string; api: string | null; method: string; payloads: number; data: string}
  settings: RunSettings
  startedAt: string
  /** Length of the measured window in seconds: from its start to the last answer counted (or the stop). */
  durationS: number
  /** True when the run was stopped early (Ctrl-C or an AbortSignal): the figures cover what was measured until then. */
  aborted: boolean
  requests: RequestCounts
  /** failed / total (0 when nothing was measured). Shed requests count as errors. */
  errorRate: number
  /** 2xx answers per second over the window: the figure capacity is judged on. */
  throughput: number
  /** Answers of any status per second (shed ones included). */
  responseRate: number
  /** Open loop: sends per second achieved over the time it took to send them; compare it with the planned `settings.rate`. Null for the closed loop. */
  sendRate: number | null
  /**
   * Latency of the successful (2xx) answers: the figure thresholds (`maxP99Ms`)
   * and tuning judge. Closed loop: from when the request was written. Open
   * loop: from its planned send time, so waiting to be sent counts.
   */
  latencyMs: LatencySummary
  /** Latency of the shed answers (503), apart: a shed comes back at once and would pass for good latency. */
  shedLatencyMs: LatencySummary
  /** Latency of the other HTTP errors and of timeouts (at the time they were given up); connection errors have none. */
  errorLatencyMs: LatencySummary
  /** Answers by the API that gave them (the `X-Mlserve-Api` header), keyed by API name in name order; absent when no answer carried the header. */
  byApi?: Record<string, ApiLoadStats>
  timeline: SecondStats[]
  generator: GeneratorStats
  /** Warnings about the measurement other than the generator's: too few requests, timeouts, an abort. */
  warnings: string[]
  /** Filled in when thresholds were checked (`checkThresholds`). */
  thresholds?: ThresholdReport
}
