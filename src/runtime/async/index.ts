// The door of the async part: AsyncAPIs' durable job queues (an embedded LMDB
// store or a shared Redis one), their workers, webhook and HTTP routes. The
// runtime loads it only when its plan has an AsyncAPI, so lmdb and ioredis
// load only then.
import type {Gateway} from '../gateway/index.js'
import {callReplica} from '../gateway/dispatch.js'
import {JobRoutes} from './http.js'
import {AsyncApi, type AsyncFigures} from './service.js'
import type {AsyncPlan} from './types.js'

export {AsyncApi, type AsyncFigures} from './service.js'
export {JobRoutes, type JobRoute} from './http.js'
export {LmdbJobStore} from './lmdb-store.js'
export {RedisJobStore} from './redis-store.js'
export {Webhook} from './webhook.js'
export {JobWorkers, type CallReplica} from './workers.js'
export type {AsyncPlan, ClaimedJob, Job, JobCounts, JobRequest, JobStatus, JobStore, StoreOptions, WebhookPlan} from './types.js'

/** The AsyncAPIs of one runtime. */
export class AsyncJobs {
  private constructor(readonly apis: AsyncApi[]) {}

  /**
   * Opens every AsyncAPI's store (an unreachable Redis fails here, before any
   * replica starts), serves their job routes on the gateway and adds their
   * metrics. Workers start with `start()`, once the replicas are starting.
   */
  static async open(specs: Array<{name: string; endpoint: string; async: AsyncPlan}>, gateway: Gateway, options: {timeoutMs: number; maxBodyBytes: number; log: (line: string) => void}): Promise<AsyncJobs> {
    const apis: AsyncApi[] = []
    try {
      for (const spec of specs) apis.push(await AsyncApi.open(spec.name, spec.endpoint, spec.async, gateway.api(spec.name)!, callReplica, options))
    } catch (error) {
      await Promise.allSettled(apis.map((api) => api.close(0)))
      throw error
    }
    const routes = new JobRoutes(options.maxBodyBytes)
    for (const api of apis) routes.add(api)
    gateway.serveJobs(routes)
    gateway.metrics.addAsync(() => apis.map((api) => api.figures()))
    return new AsyncJobs(apis)
  }

  /** Jobs running in this runtime now, over every AsyncAPI. */
  running(): number {
    return this.apis.reduce((sum, api) => sum + api.running, 0)
  }

  api(name: string): AsyncApi | undefined {
    return this.apis.find((api) => api.name === name)
  }

  start(): void {
    for (const api of this.apis) api.start()
  }

  figures(): AsyncFigures[] {
    return this.apis.map((api) => api.figures())
  }

  stopTaking(): void {
    for (const api of this.apis) api.stopTaking()
  }

  async close(deadlineMs: number): Promise<void> {
    await Promise.allSettled(this.apis.map((api) => api.close(deadlineMs)))
  }
}
