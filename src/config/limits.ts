// The largest value each sized field accepts. A config file is input from
// outside: a value past these is a typo or an attack, never a machine, so it
// gets a located error instead of a plan that asks for a billion threads.
// Each bound is above what the largest real machine offers (and above every
// value in Cortex's own examples); docs/config.md lists them with the reasons.

export const LIMITS = {
  /** Processes are OS processes: the largest servers have 768 hardware threads (2 × 192 cores × 2). */
  processesPerReplica: 1024,
  /** Each thread holds one request and a stack (8 MiB of address space); Cortex's examples go to 260. */
  threadsPerProcess: 4096,
  /** Replicas run on this machine, each at least one process. Cortex's default max_replicas is 100. */
  replicas: 1000,
  /** Requests in flight per replica, each holding a connection (a file descriptor); Cortex's examples go to 16384. */
  replicaConcurrency: 65_536,
  /** A batch is one predict call, each of its requests held by a thread: at most threads_per_process. */
  maxBatchSize: 4096,
  /** CPU cores per replica: above the 768 hardware threads of the largest servers. */
  cpuMillicores: 1024 * 1000,
  /** Memory (and /dev/shm) per replica: 64 TiB, above the 32 TiB of the largest single machines. */
  memoryBytes: 64 * 2 ** 40,
  /** GPUs (or Inferentia chips) per replica: the largest single nodes hold 16. */
  devices: 64,
  /** A batch that waits longer than a minute outlasts run's default 60 s request timeout. */
  batchIntervalMs: 60_000,
  /** Autoscaling periods: a day is far past any useful window (and inside Node's 24.8-day timer limit). */
  durationMs: 24 * 3_600_000,
  /** Prediction-cache entries per API: lru-cache allocates its index for max_entries up front (about 40 bytes an entry). */
  cacheEntries: 10_000_000,
  /** Prediction-cache bytes per API, held in the gateway's memory: past the RAM of most machines that serve from one process. */
  cacheBytes: 256 * 2 ** 30,
  /** How long a cached answer may be served: a week. */
  cacheTtlMs: 7 * 24 * 3_600_000,
  /** Items in one batch at the batch endpoint: the batch is parsed and answered in the gateway's memory, within one body of at most run's --max-body-size. */
  batchItems: 1_000_000,
} as const

/** A byte count as the user would write it (64Ti), for messages. */
export function showBytes(bytes: number): string {
  for (const [unit, size] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

/** A duration as the user would write it (24h, 1m, 500ms), for messages. */
export function showDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}
