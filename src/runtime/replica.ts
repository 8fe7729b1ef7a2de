// What every replica driver (process now, Docker later) provides to the gateway.
import type {EventEmitter} from 'node:events'

/** Everything a driver needs to start one replica of one API; built by plan.ts from the config. */
export interface ReplicaSpec {
  api: string
  /** 0-based replica number within the API. */
  index: number
  kind: 'python' | 'command'
  projectDir: string
  /** Resolved Python interpreter (python kind; also exported to commands as MLSERVE_PYTHON). */
  interpreter: string
  /** Absolute path of predictor.py (python kind). */
  predictorPath?: string
  /** The server command (command kind): a string run by /bin/sh, or an argv list. */
  command?: string | string[]
  predictorConfig: Record<string, unknown>
  env: Record<string, string>
  processes: number
  threads: number
  batching?: {maxBatchSize: number; intervalMs: number}
  /** The replica's readiness route (command kind; the harness reports readiness itself). */
  readinessPath: string
  /** The route predictions are sent to on the replica. */
  predictPath: string
  /** GPU indices this replica may see, from nvidia-smi; empty for CPU replicas. */
  gpus: string[]
  /** The CPUs the replica's processes may run on (affinity, inherited by every worker); null leaves them unpinned. */
  cpus: number[] | null
  readinessTimeoutMs: number
  maxBodyBytes: number
  /** A fingerprint of the API's Python code (code-version.ts): mlserve apply replaces replicas whose code changed. */
  codeVersion?: string
}

export interface ReplicaStatus {
  id: string
  api: string
  index: number
  ready: boolean
  origin: string | null
  pid: number | null
  /** Restarts of the replica and of its worker processes, together. */
  restarts: number
  /** The part of `restarts` that were worker processes restarted inside the replica by the harness. */
  workerRestarts: number
  processes: number
  threads: number
  gpus: string[]
  /** The container's short id (docker driver); null between containers. */
  container?: string | null
}

/**
 * A running replica. Events:
 * - 'ready' (origin): serving at origin; emitted again after a restart, possibly on a new port;
 * - 'unready' (reason): taken out of routing (crashed, restarting, stopping);
 * - 'slots' (n): how many requests it can run at once changed (a worker process is down or back).
 */
export interface Replica extends EventEmitter {
  readonly id: string
  readonly spec: ReplicaSpec
  readonly ready: boolean
  readonly origin: string | null
  /** Starts the replica and resolves once it is ready; rejects with an MlserveError if it fails to start. */
  start(): Promise<void>
  /**
   * Stops the replica and everything it started. Idempotent. By default the
   * replica drains (SIGTERM, then SIGKILL after a grace period); `force` kills
   * it at once, also when a graceful stop is already under way (the second Ctrl-C).
   */
  stop(options?: {force?: boolean}): Promise<void>
  status(): ReplicaStatus
}

export const replicaId = (api: string, index: number): string => `${api}-${index}`
