// The workers of one AsyncAPI: they take jobs from the store while the API's
// ready replicas have free slots (processes × threads each, re-read at every
// pull, so they follow scaling), run each through the gateway's internal call
// (so a job obeys admission like any request), keep the leases of the jobs
// they hold alive, and finish each with the replica's answer.
import type {ApiRoute} from '../gateway/api-route.js'
import type {InternalAnswer, InternalRequest} from '../gateway/dispatch.js'
import type {ClaimedJob, JobStore} from './types.js'

/** How often an idle pump looks at the store, for jobs another runtime submitted. */
const POLL_MS = 100
/** The wait after no replica could take a job (all busy or none ready). */
const BUSY_MS = 50
/** The wait after the store failed, before the next try. */
const STORE_ERROR_MS = 1_000

export type CallReplica = (api: ApiRoute, request: InternalRequest) => Promise<InternalAnswer>

export type JobOutcome = {status: 'completed'; result: unknown} | {status: 'failed'; error: unknown}

export interface WorkerHooks {
  leaseMs: number
  /** A job's deadline on its replica, queueing included (the gateway's request timeout). */
  timeoutMs: number
  log: (line: string) => void
  /** A store failure in words for the log (storeProblem). */
  problem: (error: unknown) => string
  /** A job this runtime finished (first). */
  finished: (id: string, outcome: JobOutcome) => void
  /** A job went back to the queue after its replica failed (counted as a retry). */
  retried: () => void
}

export class JobWorkers {
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false
  private wakeUp: (() => void) | null = null
  private pump: Promise<void> | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private storeDown = false

  constructor(
    private readonly store: JobStore,
    private readonly api: ApiRoute,
    private readonly call: CallReplica,
    private readonly hooks: WorkerHooks,
  ) {}

  /** Jobs this runtime may run at once now: the free-or-busy slots of the API's ready replicas. */
  capacity(): number {
    let slots = 0
    for (const route of this.api.replicas) if (route.isRoutable) slots += route.admission.capacity
    return slots
  }

  /** Jobs running here now. */
  get active(): number {
    return this.running.size
  }

  start(): void {
    this.pump ??= this.loop()
    this.heartbeat = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.hooks.leaseMs / 3)))
  }

  /** A job was submitted or a slot freed up: look at the store now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const free = this.capacity() - this.running.size
      if (free <= 0) {
        await this.idle(POLL_MS)
        continue
      }
      let jobs: ClaimedJob[]
      try {
        // One atomic claim of as many jobs as there are free slots: one round trip, however busy.
        jobs = await this.store.claimUpTo(this.hooks.leaseMs, free)
        this.storeDown = false
      } catch (error) {
        if (!this.storeDown) this.hooks.log(`async: ${this.api.name}: the job store failed: ${this.hooks.problem(error)}; retrying`)
        this.storeDown = true
        await this.idle(STORE_ERROR_MS)
        continue
      }
      if (jobs.length === 0) {
        await this.idle(POLL_MS)
        continue
      }
      for (const job of jobs) {
        if (this.stopped) {
          await this.store.release(job.id).catch(() => undefined)
          continue
        }
        const run = this.run(job).finally(() => {
          this.running.delete(job.id)
          this.wake()
        })
        this.running.set(job.id, run)
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wakeUp = () => {
        this.wakeUp = null
        done()
      }
    })
  }

  private async run(job: ClaimedJob): Promise<void> {
    const headers: Record<string, string> = {}
    if (job.request.contentType) headers['content-type'] = job.request.contentType
    const answer = await this.call(this.api, {body: job.request.body, headers, timeoutMs: this.hooks.timeoutMs, requestId: job.id})
    try {
      switch (answer.kind) {
        case 'answered': {
          const value = decode(answer.body, answer.contentType)
          if (answer.status >= 200 && answer.status < 300) await this.finish(job.id, {status: 'completed', result: value})
          else await this.finish(job.id, {status: 'failed', error: {status: answer.status, body: value}})
          return
        }
        case 'timeout':
          await this.finish(job.id, {status: 'failed', error: `the predictor did not answer within ${this.hooks.timeoutMs / 1000} s (${answer.reason})`})
          return
        case 'shed':
        case 'no-replica':
          // Not the job's fault: it waits at the front of the queue for a free replica.
          await this.store.release(job.id)
          await new Promise((resolve) => setTimeout(resolve, BUSY_MS))
          return
        case 'failed':
          if ((await this.store.retry(job.id, `its replica failed: ${answer.reason}`)) === 'requeued') this.hooks.retried()
          return
      }
    } catch (error) {
      // The store is down: the lease runs out and the job is queued again, so it is not lost.
      this.hooks.log(`async: ${this.api.name}: job ${job.id} could not be recorded (${this.hooks.problem(error)}); it runs again once its lease expires`)
    }
  }

  private async finish(id: string, outcome: JobOutcome): Promise<void> {
    if (await this.store.finish(id, outcome)) this.hooks.finished(id, outcome)
  }

  private async renew(): Promise<void> {
    try {
      await this.store.renew([...this.running.keys()], this.hooks.leaseMs)
    } catch {
      // the next beat tries again; a lease that runs out meanwhile only means the job may run twice
    }
  }

  /** Stops taking jobs; the jobs running finish (the caller waits with `settled`). */
  stopTaking(): void {
    this.stopped = true
    this.wake()
  }

  /** Waits for the running jobs, up to deadlineMs; those still running go back to the queue (not counted as retries). */
  async close(deadlineMs: number): Promise<void> {
    this.stopTaking()
    await this.pump
    const until = new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())
    await Promise.race([Promise.allSettled([...this.running.values()]), until])
    if (this.heartbeat) clearInterval(this.heartbeat)
    await Promise.allSettled([...this.running.keys()].map((id) => this.store.release(id)))
  }
}

/** A replica's answer as a job's result: JSON when it parses, else text. */
function decode(body: Buffer, contentType: string | undefined): unknown {
  const text = body.toString('utf8')
  if (contentType === undefined || /json/i.test(contentType)) {
    try {
      return JSON.parse(text)
    } catch {
      // not JSON after all
    }
  }
  return text
}
