// The types of src/tune: candidates, what was measured of each, and the
// recommendation. src/report renders them; the tune command returns them.

/** One configuration of a replica. */
export interface Candidate {
  processes: number
  threads: number
  /**
   * BLAS/OpenMP threads per process (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
   * MKL_NUM_THREADS), when tune sweeps them; null leaves the library its default
   * pool or the predictor's own env.
   */
  blasThreads: number | null
  /** Server-side batching, where tune swept it; null or absent: as the config has it. */
  batch?: Batching | null
}

export interface Batching {
  maxBatchSize: number
  intervalMs: number
}

export const candidateKey = (c: Candidate): string =>
  `${c.processes}x${c.threads}${c.blasThreads === null ? '' : `·blas${c.blasThreads}`}${c.batch ? `·batch${c.batch.maxBatchSize}@${c.batch.intervalMs}` : ''}`

/** "2 × 1", with ", BLAS 1" where BLAS threads were swept and ", batch 8 / 20 ms" where batching was: how reports name a candidate. */
export const candidateLabel = (c: Candidate): string =>
  `${c.processes} × ${c.threads}${c.blasThreads === null ? '' : `, BLAS ${c.blasThreads}`}${c.batch ? `, batch ${c.batch.maxBatchSize} / ${c.batch.intervalMs} ms` : ''}`

/** The load generator's health over one window: a saturated generator measured itself, not the replica. */
export interface GeneratorHealth {
  saturated: boolean
  /** Sends that went out late, as a percentage of sends. */
  latePercent: number
  /** Sends that waited for a free connection (the replica held them all). */
  waitedForConnection: number
  /**
   * CPU time of this process (the load generator and the gateway's thread) over
   * the window ÷ (window × the CPUs they were given); null where not measured.
   * Near 1, they, not the replica, set the pace.
   */
  hostCpuUtilization?: number | null
}

/** One closed-loop point of the sweep that bounds the search from above. */
export interface PlateauPoint {
  concurrency: number
  /** 2xx answers per second. */
  throughput: number
  p99Ms: number
  generator: GeneratorHealth
}

/** One open-loop (Poisson) window at a fixed offered rate, after a settling period that is not counted. */
export interface RateWindow {
  /** What this window was for: finding the capacity, repeating it to measure noise, or the recommended load. */
  phase: 'bisect' | 'repeat' | 'operating'
  /** Offered rate, req/s. */
  rate: number
  /** 2xx answers per second. */
  throughput: number
  /** Latency of the 2xx answers, from the planned send time: time in system. */
  meanMs: number
  p50Ms: number
  p99Ms: number
  /** (shed + errors) / total. */
  failedShare: number
  /** Requests measured (after the settling period). */
  requests: number
  durationS: number
  /** Mean requests in the replica, by Little's law: throughput × mean time in system. */
  meanInFlight: number
  /** CPU seconds the replica used over the window ÷ (window × the CPUs it was given); null where /proc can't tell. */
  cpuUtilization: number | null
  generator: GeneratorHealth
  /** p99 ≤ SLO and (shed + errors) < 0.1%; a generator that fell behind marks the candidate instead (CapacityResult.generatorSaturated). */
  passes: boolean
}

/** How the window was sized, in requests and seconds, and why: shown in reports. */
export interface WindowPlan {
  /** Each counted window lasts at least this long… */
  minSeconds: number
  /** …and holds at least this many requests, so p99 rests on ≥ 10 samples above it… */
  minRequests: number
  /** …but no longer than this (then the window says how many it held). */
  maxSeconds: number
  /** Load sent before each window and not counted, so the queue reaches its steady state. */
  settleSeconds: number
  reason: string
}

export interface ServiceTime {
  /** Closed loop at concurrency = processes × threads: every slot busy, nothing queued. */
  concurrency: number
  meanMs: number
  p50Ms: number
  p99Ms: number
}

export interface CapacityResult {
  /** Highest offered rate (req/s) that passed every window run at it; 0 when none passes. */
  capacity: number
  meetsSlo: boolean
  /** The closed-loop plateau: an upper bound for the search, not an answer. */
  upperBound: number
  plateau: PlateauPoint[]
  serviceTime: ServiceTime
  /** Every open-loop window, in the order measured. */
  windows: RateWindow[]
  /** The windows run at the capacity (the bisection's and its repeats). */
  atCapacity: RateWindow[]
  /** The lowest offered rate that failed; null when none did. */
  lowestFailingRate: number | null
  /**
   * Measured noise: `throughputSpread` and `p99Spread` are (max − min) / mean over
   * the repeated windows at capacity; `band` is this candidate's uncertainty,
   * the gap to the lowest failing rate, at least the throughput spread.
   */
  noise: {throughputSpread: number; p99Spread: number; band: number}
  /** CPU utilization of the replica's CPUs at capacity (mean over the windows there). */
  utilizationAtCapacity: number | null
  /** Fewer than `repeats` windows at the capacity had a generator that kept up, after up to 2 more tries. */
  generatorSaturated: boolean
}

export interface MemoryUse {
  /** Resident memory of the largest worker process, in MiB: each process holds its own model copy. */
  perProcessMiB: number
  /** Resident memory of the whole replica (every process), in MiB. */
  replicaMiB: number
}

export type CandidateStatus = 'ok' | 'fails-slo' | 'infeasible-memory' | 'generator-saturated' | 'failed' | 'aborted'

/** What serving the peak with replicas of this candidate costs. */
export interface CandidateCost {
  /** Offered rate per replica at the target utilization. */
  perReplicaRate: number
  replicas: number
  /** CPUs per replica (compute.cpu). */
  cpu: number
  /** Memory per replica, MiB: measured memory per process × processes, plus headroom. */
  memMiB: number
  /** Per hour, with the prices given (or the default weights, see docs/tune.md). */
  perHour: number
}

export interface CandidateResult extends Candidate {
  status: CandidateStatus
  capacity: CapacityResult | null
  memory: MemoryUse | null
  /** Filled in for candidates that meet the SLO. */
  cost: CandidateCost | null
  /** Seconds spent measuring this candidate. */
  durationS: number
  /** Why it failed to start or measure (status 'failed'). */
  error?: string
}

export interface Prices {
  /** Where the prices came from: the user's flags, or the default weights. */
  source: 'flags' | 'default-weights'
  perReplicaHour: number | null
  perCpuHour: number
  perGiBHour: number
}

/** The CPUs the replica was measured on. */
export interface Placement {
  /** compute.cpu of the API (1 when unset). */
  cpu: number
  /** CPUs the replica was pinned to. */
  replicaCpus: number[]
  /** CPUs left to the gateway and the load generator. */
  generatorCpus: number[]
  /** False when the machine has fewer than compute.cpu + 1 CPUs: measured on what there was, and said so. */
  fits: boolean
  /** Plain words, shown wherever the result is. */
  note: string
}

export interface TuneConstraints {
  sloP99Ms: number
  peakRps: number
  /** Target utilization of each replica at peak (headroom): 0.7 leaves 30%. */
  utilization: number
  /** compute.mem of the API in bytes, when set: candidates whose replica does not fit are infeasible. */
  memLimitBytes: number | null
}

export interface Verification {
  /** Per-replica rate it was driven at, req/s. */
  rate: number
  durationS: number
  passed: boolean
  p99Ms: number
  meanMs: number
  throughput: number
  /** Shares of all requests. */
  shedShare: number
  errorShare: number
  requests: number
  generatorSaturated: boolean
  /** Why it failed, in words. */
  failures: string[]
}

export interface Recommendation extends Candidate {
  processes_per_replica: number
  threads_per_process: number
  max_replica_concurrency: number
  target_replica_concurrency: number
  min_replicas: number
  /** compute.cpu and compute.mem for a replica, as Cortex writes them ("1", "512Mi"). */
  compute: {cpu: string; mem: string}
  /** BLAS/OpenMP thread env to set in predictor.env; empty when not swept. */
  env: Record<string, string>
  /** Capacity of one replica at the SLO, req/s. */
  capacity: number
  /** The rate each replica takes at peak: capacity × utilization, or less after a failed verification. */
  perReplicaRate: number
  /** True when the capacity is projected from fewer CPUs than compute.cpu (a machine too small). */
  projected: boolean
  cost: CandidateCost
  /** With --price-*: what serving costs. */
  dollars: {per1000Requests: number; perMonthAtPeak: number} | null
  /** The candidate with the most capacity per replica, when it is not the pick. */
  alternative: {label: string; capacity: number; cost: CandidateCost} | null
  /** Every --verify run, in order: a failed one is followed by a step down. */
  verifications: Verification[]
  /** One sentence that states the recommendation. */
  sentence: string
  /** One short paragraph with the numbers: queueing, Little's law, the headroom and the cost. */
  reasoning: string
}

export interface TuneResult {
  api: string
  file: string
  constraints: TuneConstraints
  search: 'quick' | 'exhaustive'
  grid: {processes: number[]; threads: number[]; blasThreads: Array<number | null>; batches: Batching[]}
  window: WindowPlan
  placement: Placement
  prices: Prices
  candidates: CandidateResult[]
  recommendation: Recommendation | null
  /** A pick that failed every verification: shown with its runs, never as a recommendation. */
  failedVerification: Recommendation | null
  /** When nothing meets the SLO: the candidates that came closest (lowest p99 at their lightest load). */
  bestFailing: CandidateResult[]
  warnings: string[]
  durationS: number
  aborted: boolean
  /** The config file, when --write updated it. */
  wrote: string | null
  /** Every change --write made, with why. */
  writes: Array<{path: string; value: string | number; why: string}>
}
