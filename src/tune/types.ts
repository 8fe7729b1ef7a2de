// The types of src/tune: candidates, what was measured of each, and the
// recommendation. src/report renders them; the tune command returns them.

/** One configuration of a replica: processes_per_replica × threads_per_process. */
export interface Candidate {
  processes: number
  threads: number
}

export const candidateKey = (c: Candidate): string => `${c.processes}x${c.threads}`

/** What the load generator saw at one closed-loop concurrency, over stable windows. */
export interface SweepPoint {
  concurrency: number
  /** 2xx answers per second (mean of the last stable windows). */
  throughput: number
  p50Ms: number
  p99Ms: number
  /** failed / total, shed included. */
  errorRate: number
  /** Measurement windows it took; `stable` is false when 10 windows never settled within 10%. */
  windows: number
  stable: boolean
  /** p99 ≤ SLO and errors under 0.1%. */
  passes: boolean
}

/** The open-loop run at the capacity found by the sweep, which confirms (or lowers) it. */
export interface Confirmation {
  rate: number
  throughput: number
  p99Ms: number
  errorRate: number
  passed: boolean
}

export interface CapacityResult {
  /** Highest sustained 2xx throughput with p99 ≤ SLO and errors < 0.1% (0 when none passes). */
  capacity: number
  meetsSlo: boolean
  /** Concurrency at which capacity was measured. */
  concurrency: number
  p50Ms: number
  p99Ms: number
  /** Latency of one request with no queueing: p50 at concurrency = processes × threads. */
  serviceTimeMs: number
  /** Every point measured, in order: the sweep, then the binary search. */
  sweep: SweepPoint[]
  confirmation: Confirmation | null
}

export interface MemoryUse {
  /** Resident memory of the largest worker process, in MiB: each process holds its own model copy. */
  perProcessMiB: number
  /** Resident memory of the whole replica (every process), in MiB. */
  replicaMiB: number
}

export type CandidateStatus = 'ok' | 'fails-slo' | 'infeasible-memory' | 'failed' | 'aborted'

export interface CandidateResult extends Candidate {
  status: CandidateStatus
  capacity: CapacityResult | null
  memory: MemoryUse | null
  /** Seconds spent measuring this candidate. */
  durationS: number
  /** Why it failed to start or measure (status 'failed'). */
  error?: string
}

export interface TuneConstraints {
  sloP99Ms: number
  peakRps: number
  /** Target utilization of each replica at peak (headroom): 0.7 leaves 30%. */
  utilization: number
  /** compute.mem of the API in bytes, when set: candidates whose replica does not fit are infeasible. */
  memLimitBytes: number | null
}

export interface Recommendation {
  processes_per_replica: number
  threads_per_process: number
  max_replica_concurrency: number
  target_replica_concurrency: number
  min_replicas: number
  /** Capacity of one replica at the SLO, req/s. */
  capacity: number
  /** One sentence that states the recommendation. */
  sentence: string
  /** One short paragraph with the numbers: Little's law and the headroom. */
  reasoning: string
}

export interface TuneResult {
  api: string
  file: string
  constraints: TuneConstraints
  search: 'quick' | 'exhaustive'
  grid: {processes: number[]; threads: number[]}
  candidates: CandidateResult[]
  recommendation: Recommendation | null
  /** When nothing meets the SLO: the candidates that came closest (lowest p99 at their lightest load). */
  bestFailing: CandidateResult[]
  warnings: string[]
  durationS: number
  aborted: boolean
  /** The config file, when --write updated it. */
  wrote: string | null
}
