// One AsyncAPI in a runtime: its store, its workers, its webhook, the figures
// its metrics and its scaling signal read, and the upkeep that keeps the
// store honest (leases run out → jobs queued again; results past their TTL
// removed).
import type {ApiRoute} from '../gateway/api-route.js'
import {mlserveError} from '../../errors.js'
import {LmdbJobStore} from './lmdb-store.js'
import {RedisJobStore} from './redis-store.js'
import type {AsyncPlan, Job, JobCounts, JobRequest, JobStore} from './types.js'
import {storeProblem} from './store-problem.js'
import {Webhook, type WebhookOutcome} from './webhook.js'
import {JobWorkers, type CallReplica, type JobOutcome} from './workers.js'

/** How often the queue's counts are read for the gauges and the scaling signal. */
const COUNT_MS = 500
const SWEEP_MAX_MS = 60_000

export interface AsyncFigures {
  api: string
  queued: number
  inProgress: number
  jobs: Record<'submitted' | 'completed' | 'failed', number>
  retries: number
  webhook: Record<WebhookOutcome, number>
}

export class AsyncApi {
  private counts: JobCounts = {queued: 0, inProgress: 0}
  private readonly jobs = {submitted: 0, completed: 0, failed: 0}
  private retries = 0
  private readonly workers: JobWorkers
  private readonly webhook: Webhook | null
  private readonly timers: NodeJS.Timeout[] = []
  private taking = true
  private readonly log: (line: string) => void

  private constructor(
    readonly name: string,
    readonly endpoint: string,
    readonly plan: AsyncPlan,
    readonly store: JobStore,
    api: ApiRoute,
    call: CallReplica,
    options: {timeoutMs: number; log: (line: string) => void},
  ) {
    this.log = options.log
    this.webhook = plan.webhook ? new Webhook(plan.webhook, options.log) : null
    this.workers = new JobWorkers(store, api, call, {
      leaseMs: plan.leaseMs,
      timeoutMs: options.timeoutMs,
      log: options.log,
      problem: (error) => storeProblem(plan, error),
      finished: (id, outcome) => this.finished(id, outcome),
      retried: () => this.retries++,
    })
  }

  /** Opens the API's store (failing before any replica starts when it cannot) and queues again the jobs a dead runtime held. */
  static async open(name: string, endpoint: string, plan: AsyncPlan, api: ApiRoute, call: CallReplica, options: {timeoutMs: number; log: (line: string) => void}): Promise<AsyncApi> {
    const storeOptions = {resultTtlMs: plan.resultTtlMs, maxRetries: plan.maxRetries}
    let store: JobStore
    if (plan.store === 'redis') {
      store = await RedisJobStore.connect(plan.redisUrl, name, storeOptions)
    } else {
      try {
        store = new LmdbJobStore(plan.dir, storeOptions)
      } catch (error) {
        throw mlserveError('MLS_ASYNC_STORE_OPEN_FAILED', {api: name, dir: plan.dir, reason: (error as Error).message})
      }
    }
    const service = new AsyncApi(name, endpoint, plan, store, api, call, options)
    const reclaimed = await service.reclaim()
    if (reclaimed.requeued + reclaimed.failed > 0) {
      options.log(`async: ${name}: ${reclaimed.requeued} job(s) a stopped runtime held went back to the queue${reclaimed.failed > 0 ? `, ${reclaimed.failed} failed (out of retries)` : ''}`)
    }
    await service.refreshCounts()
    return service
  }

  /** Starts the workers and the upkeep. */
  start(): void {
    this.workers.start()
    const every = (ms: number, task: () => Promise<unknown>): void => {
      const timer = setInterval(() => void task().catch(() => undefined), ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(COUNT_MS, () => this.refreshCounts())
    every(Math.max(100, Math.floor(this.plan.leaseMs / 2)), async () => {
      const {requeued, failed} = await this.reclaim()
      if (requeued + failed > 0) this.log(`async: ${this.name}: ${requeued} job(s) whose runtime stopped went back to the queue${failed > 0 ? `, ${failed} failed (out of retries)` : ''}`)
    })
    every(Math.min(SWEEP_MAX_MS, Math.max(1_000, this.plan.resultTtlMs)), () => this.store.sweep())
  }

  get accepting(): boolean {
    return this.taking
  }

  /** Stores a job durably, then wakes a worker; resolves with its id. */
  async submit(request: JobRequest): Promise<string> {
    const id = await this.store.submit(request)
    this.jobs.submitted++
    this.counts = {...this.counts, queued: this.counts.queued + 1}
    this.workers.wake()
    return id
  }

  get(id: string): Promise<Job | null> {
    return this.store.get(id)
  }

  /** The scaling signal: jobs waiting plus jobs running, across every runtime that shares the store (Cortex scales AsyncAPIs on queue length). */
  backlog(): number {
    return this.counts.queued + this.counts.inProgress
  }

  figures(): AsyncFigures {
    return {
      api: this.name,
      ...this.counts,
      jobs: {...this.jobs},
      retries: this.retries,
      webhook: this.webhook ? {...this.webhook.counts} : {delivered: 0, retried: 0, failed: 0},
    }
  }

  /** Jobs running in this runtime now (what a drain waits for). */
  get running(): number {
    return this.workers.active
  }

  /** Stops taking submissions and jobs; jobs running here finish (draining). */
  stopTaking(): void {
    this.taking = false
    this.workers.stopTaking()
  }

  /** Waits for running jobs and webhooks up to deadlineMs, puts back what is still running, and closes the store. */
  async close(deadlineMs: number): Promise<void> {
    this.stopTaking()
    for (const timer of this.timers) clearInterval(timer)
    await this.workers.close(deadlineMs)
    await this.webhook?.close(deadlineMs)
    await this.store.close()
  }

  private async reclaim(): Promise<{requeued: number; failed: number}> {
    const outcome = await this.store.reclaimExpired()
    this.retries += outcome.requeued
    if (outcome.requeued > 0) this.workers.wake()
    return outcome
  }

  private async refreshCounts(): Promise<void> {
    this.counts = await this.store.counts()
  }

  private finished(id: string, outcome: JobOutcome): void {
    this.jobs[outcome.status]++
    if (!this.webhook) return
    this.store.get(id).then(
      (job) => {
        if (job) this.webhook!.notify(job)
      },
      (error: Error) => this.log(`async: ${this.name}: job ${id} finished, but its webhook could not read it back (${error.message})`),
    )
  }

}
