// The bookkeeping both load models share: outcome counts, the latency
// histograms (successful answers, sheds and errors apart, as Locust reports
// failures apart: a 503 comes back in a fraction of a millisecond and would
// otherwise pass for good latency), per-second buckets, send lateness and the
// generator's CPU, turned into a LoadResult at the end. The runners only decide when a request is sent
// and when it ends; every number in a result is computed here.
import {ApiTally} from './by-api.js'
import {LatencyHistogram} from './histogram.js'
import type {
  GeneratorStats,
  LoadModel,
  LoadResult,
  RequestCounts,
  RunSettings,
  SecondListener,
  SecondStats,
} from './types.js'

/** Above this share of one core, the generator's own CPU may limit the run. */
export const GENERATOR_CPU_LIMIT_PERCENT = 80
/** Above this share of late sends, the open-loop schedule was not kept. */
export const LATE_SENDS_LIMIT_PERCENT = 1
/** Fewer requests or a shorter window than this give unstable percentiles. */
export const MIN_STABLE_REQUESTS = 50
export const MIN_STABLE_WINDOW_S = 1

const NS_PER_S = 1e9
/** A last partial second shorter than this is folded into the second before it (so a few ms of tail do not show as a second of their own). */
const TAIL_MERGE_S = 0.25

interface Bucket {
  sent: number
  completed: number
  ok: number
  shed: number
  failed: number
  timeouts: number
  lateSends: number
}

const emptyBucket = (): Bucket => ({sent: 0, completed: 0, ok: 0, shed: 0, failed: 0, timeouts: 0, lateSends: 0})

export interface RecorderOptions {
  model: LoadModel
  /** Start of the measured window on the nowNs() clock. */
  startNs: number
  /** Open loop: a send later than this counts as late. */
  lateThresholdMs?: number
  onSecond?: SecondListener
}

export class Recorder {
  readonly counts: RequestCounts = {total: 0, ok: 0, failed: 0, shed: 0, httpErrors: 0, timeouts: 0, connectionErrors: 0, byStatus: {}}
  readonly timeline: SecondStats[] = []
  /** The whole run's latencies of successful answers: each second's are added in when it closes, so an answer is recorded once. */
  private readonly latency = new LatencyHistogram()
  /** Shed answers (503). */
  private readonly shedLatency = new LatencyHistogram()
  /** Other HTTP errors, and timeouts at the time they were given up. */
  private readonly errorLatency = new LatencyHistogram()
  private secondLatency = new LatencyHistogram()
  private previousLatency = new LatencyHistogram()
  private previous: {bucket: Bucket; lengthS: number} | null = null
  private readonly lateness = new LatencyHistogram()
  /** Answers by the API that gave them, for answers that named one. */
  private readonly byApi = new ApiTally()
  private bucket = emptyBucket()
  private second = 0
  private readonly lateThresholdNs: number
  sends = 0
  lateSends = 0
  /** Late sends that were late because every connection was busy. */
  lateWaiting = 0
  waitedForConnection = 0
  lastSendNs: number | null = null
  lastAnswerNs: number | null = null

  constructor(private readonly options: RecorderOptions) {
    this.lateThresholdNs = (options.lateThresholdMs ?? 1) * 1e6
  }

  get startNs(): number {
    return this.options.startNs
  }

  /** Open loop: a measured request went out at `actualNs`, planned for `plannedNs`; `waited` when it had to wait for a free connection. */
  recordSend(plannedNs: number, actualNs: number, waited = false): void {
    this.advance(actualNs)
    this.sends++
    this.bucket.sent++
    if (waited) this.waitedForConnection++
    const late = actualNs - plannedNs
    this.lateness.recordNs(Math.max(0, late))
    if (late > this.lateThresholdNs) {
      this.lateSends++
      this.bucket.lateSends++
      if (waited) this.lateWaiting++
    }
    this.lastSendNs = actualNs
  }

  /** An HTTP answer of any status, finished at `atNs` after `latencyNs`; `api` is the API it named (the `X-Mlserve-Api` header), if any. */
  recordAnswer(status: number, latencyNs: number, atNs: number, api?: string): void {
    this.advance(atNs)
    if (api !== undefined) this.byApi.record(api, status, latencyNs)
    const c = this.counts
    c.total++
    c.byStatus[status] = (c.byStatus[status] ?? 0) + 1
    this.bucket.completed++
    if (status >= 200 && status < 300) {
      c.ok++
      this.bucket.ok++
      this.secondLatency.recordNs(latencyNs)
    } else {
      c.failed++
      this.bucket.failed++
      if (status === 503) {
        c.shed++
        this.bucket.shed++
        this.shedLatency.recordNs(latencyNs)
      } else {
        c.httpErrors++
        this.errorLatency.recordNs(latencyNs)
      }
    }
    this.lastAnswerNs = atNs
  }

  /** No answer within the timeout; the latency (time until given up) is recorded with the errors'. */
  recordTimeout(latencyNs: number, atNs: number): void {
    this.advance(atNs)
    this.counts.total++
    this.counts.failed++
    this.counts.timeouts++
    this.bucket.completed++
    this.bucket.failed++
    this.bucket.timeouts++
    this.errorLatency.recordNs(latencyNs)
    this.lastAnswerNs = atNs
  }

  /** Refused, reset or closed before an answer: counted, with no latency. */
  recordConnectionError(atNs: number): void {
    this.advance(atNs)
    this.counts.total++
    this.counts.failed++
    this.counts.connectionErrors++
    this.bucket.completed++
    this.bucket.failed++
    this.lastAnswerNs = atNs
  }

  /** Closes every second that has fully passed by `nowNs`, reporting each to onSecond. Call it about once a second. */
  tick(nowNs: number): void {
    this.advance(nowNs)
  }

  private advance(atNs: number): void {
    const index = Math.floor((atNs - this.options.startNs) / NS_PER_S)
    while (this.second < index) this.closeSecond(1)
  }

  private closeSecond(lengthS: number): void {
    const stats = this.statsOf(this.second, lengthS, this.bucket, this.secondLatency)
    this.latency.add(this.secondLatency)
    this.timeline.push(stats)
    this.options.onSecond?.(stats)
    // The closed second is kept until the next one closes, so a short tail at
    // the end of the run can be folded into it.
    this.previous = {bucket: this.bucket, lengthS}
    const spare = this.previousLatency
    this.previousLatency = this.secondLatency
    this.secondLatency = spare
    this.secondLatency.reset()
    this.bucket = emptyBucket()
    this.second++
  }

  private statsOf(second: number, lengthS: number, b: Bucket, latency: LatencyHistogram): SecondStats {
    const open = this.options.model === 'open'
    return {
      second,
      lengthS: round(lengthS, 3),
      sent: open ? b.sent : null,
      completed: b.completed,
      ok: b.ok,
      shed: b.shed,
      failed: b.failed,
      timeouts: b.timeouts,
      throughput: lengthS > 0 ? round(b.ok / lengthS, 1) : 0,
      p50Ms: latency.percentileMs(50),
      p90Ms: latency.percentileMs(90),
      p99Ms: latency.percentileMs(99),
      maxMs: latency.maxMs(),
      lateSends: open ? b.lateSends : null,
    }
  }

  /** The last, partial second: its own entry, or folded into the second before when shorter than TAIL_MERGE_S. */
  private closeTail(partialS: number): void {
    const b = this.bucket
    if (partialS <= 1e-3 && b.completed === 0 && b.sent === 0) return
    const last = this.timeline.at(-1)
    if (partialS < TAIL_MERGE_S && this.previous && last && last.second === this.second - 1) {
      const p = this.previous.bucket
      const merged: Bucket = {
        sent: p.sent + b.sent,
        completed: p.completed + b.completed,
        ok: p.ok + b.ok,
        shed: p.shed + b.shed,
        failed: p.failed + b.failed,
        timeouts: p.timeouts + b.timeouts,
        lateSends: p.lateSends + b.lateSends,
      }
      this.latency.add(this.secondLatency)
      this.previousLatency.add(this.secondLatency)
      this.timeline[this.timeline.length - 1] = this.statsOf(last.second, this.previous.lengthS + partialS, merged, this.previousLatency)
      return
    }
    this.closeSecond(Math.max(partialS, 1e-3))
  }

  /** Closes the last, possibly partial, second and builds the result. */
  finish(input: {
    endNs: number
    cpuPercent: number
    aborted: boolean
    url: string
    api?: string
    request: {method: string; bodies: unknown[]; description?: string}
    settings: RunSettings
    startedAt: Date
    /** Open loop: the planned length of the sending window, in seconds. */
    plannedWindowS?: number
  }): LoadResult {
    const windowNs = Math.max(0, input.endNs - this.options.startNs)
    this.advance(input.endNs)
    this.closeTail(windowNs / NS_PER_S - this.second)
    const durationS = windowNs / NS_PER_S
    const c = this.counts
    const answers = c.total - c.timeouts - c.connectionErrors
    const open = this.options.model === 'open'

    let sendRate: number | null = null
    if (open) {
      // Sends per second over the time it took to send them: the planned
      // window, or longer when the last sends went out late.
      const sendingS = this.lastSendNs === null ? 0 : (this.lastSendNs - this.options.startNs) / NS_PER_S
      const spanS = Math.max(input.plannedWindowS ?? 0, sendingS)
      sendRate = spanS > 0 ? round(this.sends / spanS, 2) : 0
    }

    const generator = assessGenerator({
      model: this.options.model,
      cpuPercent: input.cpuPercent,
      sends: this.sends,
      lateSends: this.lateSends,
      lateWaiting: this.lateWaiting,
      waitedForConnection: this.waitedForConnection,
      lateThresholdMs: this.lateThresholdNs / 1e6,
      maxConnections: input.settings.maxConnections,
      sharesProcess: input.api !== undefined,
    })
    const lateness = open && this.lateness.count > 0
      ? {p50: this.lateness.percentileMs(50) ?? 0, p99: this.lateness.percentileMs(99) ?? 0, max: this.lateness.maxMs() ?? 0}
      : null

    const byApi = this.byApi.result(answers)
    const result: LoadResult = {
      model: this.options.model,
      target: {url: input.url, api: input.api ?? null, method: input.request.method, payloads: input.request.bodies.length, data: input.request.description ?? (input.request.bodies.length > 0 ? `${input.request.bodies.length} bodies` : 'none')},
      settings: input.settings,
      startedAt: input.startedAt.toISOString(),
      durationS: round(durationS, 3),
      aborted: input.aborted,
      requests: {...c, byStatus: {...c.byStatus}},
      errorRate: c.total > 0 ? round(c.failed / c.total, 6) : 0,
      throughput: durationS > 0 ? round(c.ok / durationS, 2) : 0,
      responseRate: durationS > 0 ? round(answers / durationS, 2) : 0,
      sendRate,
      latencyMs: this.latency.summary(),
      shedLatencyMs: this.shedLatency.summary(),
      errorLatencyMs: this.errorLatency.summary(),
      ...(byApi ? {byApi} : {}),
      timeline: this.timeline,
      generator: {...generator, lateness},
      warnings: measurementWarnings({total: c.total, ok: c.ok, durationS, timeouts: c.timeouts, timeoutMs: input.settings.timeoutMs, aborted: input.aborted}),
    }
    this.latency.destroy()
    this.shedLatency.destroy()
    this.errorLatency.destroy()
    this.secondLatency.destroy()
    this.previousLatency.destroy()
    this.lateness.destroy()
    this.byApi.destroy()
    return result
  }
}

/** Decides whether the generator's numbers can be trusted, and says why not. */
export function assessGenerator(input: {
  model: LoadModel
  cpuPercent: number
  sends: number
  lateSends: number
  lateWaiting: number
  waitedForConnection: number
  lateThresholdMs: number
  maxConnections: number | null
  /** The target's gateway runs in this process (an `--api` run), so the CPU figure includes it. */
  sharesProcess?: boolean
}): Omit<GeneratorStats, 'lateness'> {
  const warnings: string[] = []
  const cpuPercent = round(input.cpuPercent, 1)
  const latePercent = input.sends > 0 ? round((input.lateSends / input.sends) * 100, 3) : 0
  // Sends that were late because every connection was busy describe the target, not the generator.
  const ownLatePercent = input.sends > 0 ? ((input.lateSends - input.lateWaiting) / input.sends) * 100 : 0
  const cpuSaturated = cpuPercent > GENERATOR_CPU_LIMIT_PERCENT
  const lateSaturated = input.model === 'open' && ownLatePercent > LATE_SENDS_LIMIT_PERCENT
  if (cpuSaturated) {
    const who = input.sharesProcess ? 'The load generator and the gateway, which share its process,' : 'The load generator'
    warnings.push(
      `${who} used ${cpuPercent}% of a CPU core (over ${GENERATOR_CPU_LIMIT_PERCENT}%): these figures may describe the generator rather than the target. Lower --connections or --rate, or run the generator on another machine.`,
    )
  }
  if (lateSaturated) {
    const cause =
      cpuPercent < GENERATOR_CPU_LIMIT_PERCENT / 2
        ? ` The generator itself used only ${cpuPercent}% of a core, so other work on this machine (the target too, if it runs here) kept it from running on time.`
        : ' Lower --rate, or run the generator on another machine.'
    warnings.push(
      `${round(ownLatePercent, 2)}% of sends went out more than ${input.lateThresholdMs} ms after their planned time (over ${LATE_SENDS_LIMIT_PERCENT}%): the generator could not keep the schedule, so the arrivals were burstier than planned.${cause}`,
    )
  }
  if (input.waitedForConnection > 0) {
    warnings.push(
      `${input.waitedForConnection} sends waited for a free connection: the target held all ${input.maxConnections ?? '?'} at once. Their latency counts from the planned send time; raise --max-connections if the target can take more.`,
    )
  }
  return {
    cpuPercent,
    lateSends: input.lateSends,
    latePercent,
    lateThresholdMs: input.lateThresholdMs,
    waitedForConnection: input.waitedForConnection,
    saturated: cpuSaturated || lateSaturated,
    warnings,
  }
}

export function measurementWarnings(input: {total: number; ok?: number; durationS: number; timeouts: number; timeoutMs: number; aborted: boolean}): string[] {
  const warnings: string[] = []
  if (input.aborted) warnings.push('The run was stopped early; the figures cover what was measured until then.')
  if (input.total < MIN_STABLE_REQUESTS || input.durationS < MIN_STABLE_WINDOW_S) {
    warnings.push(
      `Only ${input.total} requests over ${round(input.durationS, 2)} s were measured: percentiles from fewer than ${MIN_STABLE_REQUESTS} requests or under ${MIN_STABLE_WINDOW_S} s are not stable.`,
    )
  }
  if (input.timeouts > 0) {
    warnings.push(
      `${input.timeouts} requests got no answer within ${input.timeoutMs} ms; they count as errors and, at the time they were given up, in the errors' latency.`,
    )
  }
  if (input.ok === 0 && input.total > 0) {
    warnings.push('No request got a successful (2xx) answer, so there is no latency of successful answers; the latency of sheds and errors is reported apart.')
  }
  return warnings
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
