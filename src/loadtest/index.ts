// The public API of src/loadtest: load generation against one HTTP endpoint,
// closed loop (capacity) or open loop (latency as users see it), measured
// with microsecond HdrHistograms, and CI thresholds on the result.
//
//   const request = await loadRequestSource({data: '{"x": 1}'})
//   const closed = await runClosedLoop({url, connections: 8, durationMs: 10_000, request})
//   const open = await runOpenLoop({url, rate: 200, arrival: 'poisson', durationMs: 10_000, request})
//   checkThresholds(open, {maxP99Ms: 200, maxErrorRate: 0.01})  // {passed, failures}
//
// Both runners take an AbortSignal: aborting ends the run at once and the
// promise resolves with what was measured (`aborted: true`). Definitions, used
// throughout:
// - latency: closed loop, from writing the request to its full answer; open
//   loop, from its planned send time (so time spent waiting to be sent counts).
//   Successful (2xx) answers, sheds (503) and errors (other statuses, and
//   timeouts) are recorded in histograms of their own: `latencyMs` is the
//   successful answers', the one thresholds judge. Connection errors have no
//   latency.
// - error rate: failed / total, where failed = every non-2xx answer (503 shed
//   included) + timeouts + connection errors. Shed answers are also counted
//   apart (`requests.shed`).
// - throughput: 2xx answers per second over the measured window.
// - by API: answers carrying the gateway's `X-Mlserve-Api` header are also
//   counted by the API they name (`byApi`), to check a traffic split.
// This part uses src/runtime only to start one replica for an `--api` target.
export {runClosedLoop} from './closed-loop.js'
export {runOpenLoop} from './open-loop.js'
export {checkThresholds} from './thresholds.js'
export {loadRequestSource, bodyAt, parseHeaders} from './request.js'
export {startApiTarget, probeTarget, type ApiTarget} from './target.js'
export {createSchedule, mulberry32} from './schedule.js'
export {LatencyHistogram} from './histogram.js'
export {ApiTally, API_HEADER, MAX_APIS, OTHER_APIS, apiOfHeaders, apiOfRawHeaders} from './by-api.js'
export {
  Recorder,
  assessGenerator,
  measurementWarnings,
  GENERATOR_CPU_LIMIT_PERCENT,
  LATE_SENDS_LIMIT_PERCENT,
  MIN_STABLE_REQUESTS,
  MIN_STABLE_WINDOW_S,
} from './recorder.js'
export {nowNs} from './clock.js'
export type {
  ApiLoadStats,
  Arrival,
  ClosedLoopOptions,
  GeneratorStats,
  LatencySummary,
  LoadModel,
  LoadResult,
  OpenLoopOptions,
  RequestCounts,
  RequestSource,
  RunSettings,
  SecondListener,
  SecondStats,
  ThresholdReport,
  ThresholdSpec,
} from './types.js'
