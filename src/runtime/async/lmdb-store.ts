// The embedded job store: an LMDB database in the project's
// .mlserve/async/<api>/ directory. Each change is one LMDB write transaction;
// a submit resolves only once its commit is flushed to disk. LMDB's writer
// lock makes it safe across processes, so two runtimes of one project share
// the queue and a claim is never given to both.
import {mkdirSync} from 'node:fs'
import {randomUUID} from 'node:crypto'
import {open, type Database, type RootDatabase} from 'lmdb'
import {FINISHED, LOST_REASON, type ClaimedJob, type Job, type JobCounts, type JobRequest, type JobStore, type RetryOutcome, type StoreOptions} from './types.js'

/** A job's record; the request body lives apart, so status changes do not rewrite it. */
interface Record extends Job {
  contentType?: string
  /** When a finished job's result expires. */
  expiresAt?: number
}

export class LmdbJobStore implements JobStore {
  readonly kind = 'embedded' as const
  private readonly root: RootDatabase
  private readonly jobs: Database<Record, string>
  private readonly bodies: Database<Buffer, string>
  /** Queue order → id; a smaller key runs first. */
  private readonly queue: Database<string, number>
  /** id → lease deadline (epoch ms). */
  private readonly leases: Database<number, string>
  /** [expiresAt, id] → 1: finished jobs by expiry, for the sweep. */
  private readonly expiries: Database<number, [number, string]>
  private readonly now: () => number

  constructor(
    dir: string,
    private readonly options: StoreOptions,
  ) {
    mkdirSync(dir, {recursive: true})
    this.now = options.now ?? Date.now
    this.root = open({path: dir, maxDbs: 8})
    this.jobs = this.root.openDB<Record, string>({name: 'jobs'})
    this.bodies = this.root.openDB<Buffer, string>({name: 'bodies', encoding: 'binary'})
    this.queue = this.root.openDB<string, number>({name: 'queue'})
    this.leases = this.root.openDB<number, string>({name: 'leases'})
    this.expiries = this.root.openDB<number, [number, string]>({name: 'expiries'})
  }

  async submit(request: JobRequest): Promise<string> {
    const id = randomUUID()
    const createdAt = this.now()
    await this.root.transaction(() => {
      this.jobs.put(id, {id, status: 'in_queue', createdAt, retries: 0, contentType: request.contentType})
      this.bodies.put(id, request.body)
      this.queue.put(this.backKey(), id)
    })
    // With overlappingSync (lmdb-js's default off Windows) a commit resolves once visible; the id goes out only once it is on disk.
    await this.root.flushed
    return id
  }

  async claim(leaseMs: number): Promise<ClaimedJob | null> {
    return (await this.claimUpTo(leaseMs, 1))[0] ?? null
  }

  async claimUpTo(leaseMs: number, limit: number): Promise<ClaimedJob[]> {
    return this.root.transaction(() => {
      const claimed: ClaimedJob[] = []
      const now = this.now()
      for (const {key, value: id} of [...this.queue.getRange({limit})]) {
        this.queue.remove(key)
        const job = this.jobs.get(id)
        const body = this.bodies.get(id)
        if (!job || body === undefined) continue // finished meanwhile by another runtime
        this.jobs.put(id, {...job, status: 'in_progress', startedAt: now})
        this.leases.put(id, now + leaseMs)
        claimed.push({id, request: {body: Buffer.from(body), contentType: job.contentType}, retries: job.retries})
      }
      return claimed
    })
  }

  async renew(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return
    await this.root.transaction(() => {
      const until = this.now() + leaseMs
      for (const id of ids) if (this.leases.get(id) !== undefined) this.leases.put(id, until)
    })
  }

  async finish(id: string, outcome: {status: 'completed'; result: unknown} | {status: 'failed'; error: unknown}): Promise<boolean> {
    return this.root.transaction(() => {
      const job = this.jobs.get(id)
      if (!job || FINISHED.has(job.status)) return false
      this.settle(job, outcome.status === 'completed' ? {status: 'completed', result: outcome.result} : {status: 'failed', error: outcome.error})
      return true
    })
  }

  async release(id: string): Promise<void> {
    await this.root.transaction(() => {
      const job = this.jobs.get(id)
      if (!job || job.status !== 'in_progress') return
      this.requeue(job, 0)
    })
  }

  async retry(id: string, reason: string): Promise<RetryOutcome> {
    return this.root.transaction(() => {
      const job = this.jobs.get(id)
      if (!job || job.status !== 'in_progress') return 'gone'
      return this.retryNow(job, reason)
    })
  }

  async reclaimExpired(): Promise<{requeued: number; failed: number}> {
    return this.root.transaction(() => {
      const now = this.now()
      let requeued = 0
      let failed = 0
      for (const {key: id, value: until} of [...this.leases.getRange({})]) {
        if (until > now) continue
        const job = this.jobs.get(id)
        if (!job || job.status !== 'in_progress') {
          this.leases.remove(id)
          continue
        }
        if (this.retryNow(job, LOST_REASON) === 'requeued') requeued++
        else failed++
      }
      return {requeued, failed}
    })
  }

  async get(id: string): Promise<Job | null> {
    const record = this.jobs.get(id)
    if (!record || (record.expiresAt !== undefined && record.expiresAt <= this.now())) return null
    const {contentType: _contentType, expiresAt: _expiresAt, ...job} = record
    return job
  }

  async counts(): Promise<JobCounts> {
    return {queued: entries(this.queue), inProgress: entries(this.leases)}
  }

  async sweep(): Promise<number> {
    return this.root.transaction(() => {
      let removed = 0
      const due = [...this.expiries.getKeys({end: [this.now(), '\uffff']})]
      for (const key of due) {
        this.expiries.remove(key)
        this.jobs.remove(key[1])
        removed++
      }
      return removed
    })
  }

  async close(): Promise<void> {
    await this.root.close()
  }

  // Inside a transaction -------------------------------------------------------

  private retryNow(job: Record, reason: string): RetryOutcome {
    if (job.retries >= this.options.maxRetries) {
      this.settle(job, {status: 'failed', error: `${reason}; it was retried ${job.retries} time${job.retries === 1 ? '' : 's'} (async.max_retries)`})
      return 'failed'
    }
    this.requeue(job, 1)
    return 'requeued'
  }

  /** Back to the front of the queue: it has waited longest. */
  private requeue(job: Record, retried: number): void {
    this.leases.remove(job.id)
    this.jobs.put(job.id, {...job, status: 'in_queue', startedAt: undefined, retries: job.retries + retried})
    this.queue.put(this.frontKey(), job.id)
  }

  private settle(job: Record, outcome: {status: 'completed'; result: unknown} | {status: 'failed'; error: unknown}): void {
    const finishedAt = this.now()
    const expiresAt = finishedAt + this.options.resultTtlMs
    this.leases.remove(job.id)
    this.bodies.remove(job.id)
    // A job finished by one runtime after its lease had run out and it was queued again leaves the queue too.
    if (job.status === 'in_queue') {
      const keys = [...this.queue.getRange({})].filter((entry) => entry.value === job.id).map((entry) => entry.key)
      for (const key of keys) this.queue.remove(key)
    }
    this.jobs.put(job.id, {...job, ...outcome, finishedAt, expiresAt})
    this.expiries.put([expiresAt, job.id], 1)
  }

  private backKey(): number {
    const [last] = [...this.queue.getKeys({reverse: true, limit: 1})]
    return last === undefined ? 0 : last + 1
  }

  private frontKey(): number {
    const [first] = [...this.queue.getKeys({limit: 1})]
    return first === undefined ? 0 : first - 1
  }
}

function entries(db: Database<any, any>): number { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (db.getStats() as {entryCount: number}).entryCount
}
