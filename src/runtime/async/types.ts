// What the parts of an AsyncAPI share: a job, its statuses (Cortex's), the
// store every queue implements, and the plan of one AsyncAPI's queue.

/** Cortex's statuses: waiting, running on a replica, finished with a result, finished with an error. */
export type JobStatus = 'in_queue' | 'in_progress' | 'completed' | 'failed'

export const FINISHED: ReadonlySet<JobStatus> = new Set(['completed', 'failed'])

/** A request as it was submitted: kept until the job finishes. */
export interface JobRequest {
  body: Buffer
  contentType?: string
}

/** A job as GET <endpoint>/<id> reports it. */
export interface Job {
  id: string
  status: JobStatus
  /** Epoch milliseconds. */
  createdAt: number
  startedAt?: number
  finishedAt?: number
  /** Times the job went back to the queue because the runtime or replica running it died. */
  retries: number
  /** The predictor's answer (JSON when it answered JSON, else its text). */
  result?: unknown
  /** Why the job failed. */
  error?: unknown
}

/** A job a worker holds under a lease. */
export interface ClaimedJob {
  id: string
  request: JobRequest
  retries: number
}

/** What came of a retry: queued again, or failed because it ran out of retries. */
export type RetryOutcome = 'requeued' | 'failed' | 'gone'

export interface JobCounts {
  /** Jobs waiting. */
  queued: number
  /** Jobs held under a lease by some runtime. */
  inProgress: number
}

/**
 * A durable job queue with leases. Every change is atomic and is stored before
 * its promise resolves, so an id handed to a client is never lost, and a job
 * whose lease runs out (its runtime died) is queued again: at least once.
 */
export interface JobStore {
  readonly kind: 'embedded' | 'redis'
  /** Stores a new job at the back of the queue; resolves with its id once it is durable. */
  submit(request: JobRequest): Promise<string>
  /** Takes the job at the front of the queue under a lease of leaseMs, atomically; null when the queue is empty. */
  claim(leaseMs: number): Promise<ClaimedJob | null>
  /** Takes up to `limit` jobs from the front in one atomic step (one transaction, one round trip). */
  claimUpTo(leaseMs: number, limit: number): Promise<ClaimedJob[]>
  /** Extends the leases of jobs still running here (the heartbeat). */
  renew(ids: string[], leaseMs: number): Promise<void>
  /** Finishes a job; false when it had already finished (another runtime finished it first). */
  finish(id: string, outcome: {status: 'completed'; result: unknown} | {status: 'failed'; error: unknown}): Promise<boolean>
  /** Puts a running job back at the front of the queue without counting a retry (no replica could take it now, or a clean stop). */
  release(id: string): Promise<void>
  /** Puts a running job back at the front after its replica died, counting a retry; past maxRetries it fails with `reason`. */
  retry(id: string, reason: string): Promise<RetryOutcome>
  /** Queues again every job whose lease ran out (its runtime died), counting a retry each; returns how many went back and how many failed. */
  reclaimExpired(): Promise<{requeued: number; failed: number}>
  get(id: string): Promise<Job | null>
  counts(): Promise<JobCounts>
  /** Removes finished jobs past their result TTL (Redis expires them itself). */
  sweep(): Promise<number>
  close(): Promise<void>
}

export interface StoreOptions {
  /** How long a finished job is kept. */
  resultTtlMs: number
  /** Retries (after a lost lease or a dead replica) before a job fails. */
  maxRetries: number
  /** The clock (tests move it). */
  now?: () => number
}

export interface WebhookPlan {
  url: string
  maxRetries: number
  backoffMs: number
  timeoutMs: number
}

/** One AsyncAPI's queue, as plain data in the runtime plan. */
export interface AsyncPlan {
  store: 'embedded' | 'redis'
  /** The embedded store's directory (the project's .mlserve/async/<api>). */
  dir: string
  redisUrl: string
  resultTtlMs: number
  leaseMs: number
  maxRetries: number
  webhook: WebhookPlan | null
}

/** The reason a job lost to a dead runtime fails once it is out of retries. */
export const LOST_REASON = 'the runtime running it stopped before it finished'
