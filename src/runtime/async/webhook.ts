// The completion webhook (the seed's job_completion_notifier): once a job
// finishes, POST {id, status, result | error} to the configured URL, retrying
// with exponential backoff until it answers 2xx or the retries run out. Each
// outcome is counted: delivered, retried (one per failed try that is tried
// again) and failed (given up).
import {request} from 'undici'
import type {Job, WebhookPlan} from './types.js'

export type WebhookOutcome = 'delivered' | 'retried' | 'failed'

export class Webhook {
  readonly counts: Record<WebhookOutcome, number> = {delivered: 0, retried: 0, failed: 0}
  private readonly pending = new Set<Promise<void>>()
  private stopped = false
  /** Backoff waits under way, each with the way to cut it short. */
  private readonly waits = new Map<NodeJS.Timeout, () => void>()

  constructor(
    private readonly plan: WebhookPlan,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts delivery in the background; `settled()` waits for every delivery under way. */
  notify(job: Job): void {
    const body = JSON.stringify(job.status === 'completed' ? {id: job.id, status: job.status, result: job.result} : {id: job.id, status: job.status, error: job.error})
    const delivery = this.deliver(job.id, body).finally(() => this.pending.delete(delivery))
    this.pending.add(delivery)
  }

  private async deliver(id: string, body: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const problem = await this.call(body)
      if (problem === null) {
        this.counts.delivered++
        return
      }
      if (attempt >= this.plan.maxRetries || this.stopped) {
        this.counts.failed++
        this.log(`async: webhook for job ${id} failed after ${attempt + 1} tr${attempt === 0 ? 'y' : 'ies'}: ${problem}`)
        return
      }
      this.counts.retried++
      await this.sleep(this.plan.backoffMs * 2 ** attempt)
      if (this.stopped) {
        this.counts.failed++
        return
      }
    }
  }

  /** One try: null when it was answered 2xx, else why not. */
  private async call(body: string): Promise<string | null> {
    try {
      const answer = await request(this.plan.url, {
        method: 'POST',
        body,
        headers: {'content-type': 'application/json'},
        headersTimeout: this.plan.timeoutMs,
        bodyTimeout: this.plan.timeoutMs,
      })
      await answer.body.dump()
      return answer.statusCode >= 200 && answer.statusCode < 300 ? null : `answered ${answer.statusCode}`
    } catch (error) {
      return (error as Error).message
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer)
        resolve()
      }, ms)
      this.waits.set(timer, resolve)
    })
  }

  /** Waits for deliveries under way, up to deadlineMs; then retries stop (a delivery in its backoff gives up). */
  async close(deadlineMs: number): Promise<void> {
    const until = new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())
    await Promise.race([Promise.allSettled([...this.pending]), until])
    this.stopped = true
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer)
      resolve()
    }
    this.waits.clear()
  }
}
